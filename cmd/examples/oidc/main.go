// Command oidc is a tiny admin that signs its staff in through an OpenID
// provider (with github.com/coreos/go-oidc and golang.org/x/oauth2) and
// adds Logout with package oidc: an idle end is not undone by the
// provider's session, and a sign-out at the provider locks every open tab.
// Every line that Logout adds ends with a "Logout" comment.
//
//	cd examples && go run ./oidc -issuer https://idp.example/realms/staff -client-id panel
//
// with the client secret in OIDC_CLIENT_SECRET and, for more than one
// instance, a 32-byte hex cookie key in LOGOUT_OIDC_COOKIE_KEY. Register
// at the provider, for the base URL B (-base-url, default
// http://127.0.0.1:8080):
//
//	redirect URI                 B/backend/auth/oidc/callback
//	post-logout redirect URI     B/backend/auth/oidc/logged-out
//	back-channel logout URI      B/backend/auth/oidc/backchannel (session required)
//	front-channel logout URI     B/backend/auth/oidc/frontchannel (only without back-channel)
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gologout/logout"             // Logout
	"github.com/gologout/logout/oidc"        // Logout
	"github.com/gologout/logout/sqlitestore" // Logout
	"github.com/gologout/logout/widget"      // Logout
)

// Paths of the app.
const (
	assetsPrefix = "/backend/assets/logout/" // Logout
	loginPath    = "/backend/auth/oidc/login"
	callbackPath = "/backend/auth/oidc/callback"
	loggedOut    = "/backend/auth/oidc/logged-out"  // Logout
	backChannel  = "/backend/auth/oidc/backchannel" // Logout
	frontChannel = "/backend/auth/oidc/frontchannel"
	flowCookie   = "oidc_flow" // the state and nonce of a sign-in under way
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "oidc:", err)
		os.Exit(1)
	}
}

// config is what the app is run with.
type config struct {
	Issuer, ClientID, ClientSecret string
	BaseURL                        string // where browsers reach the app, without a trailing slash
	CookieKey                      []byte // nil: random per process
	KeepProviderSession            bool
	Lifetime                       time.Duration // 0: the settings' default
}

// run serves the admin until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("oidc", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	var c config
	fs.StringVar(&c.Issuer, "issuer", getenv("OIDC_ISSUER"), "the provider's issuer `URL` (OIDC_ISSUER)")
	fs.StringVar(&c.ClientID, "client-id", getenv("OIDC_CLIENT_ID"), "the client `ID` (OIDC_CLIENT_ID)")
	fs.StringVar(&c.BaseURL, "base-url", "", "the app's public base `URL` (default http:// and -addr)")
	fs.BoolVar(&c.KeepProviderSession, "keep-provider-session", false, "ask for a fresh authentication instead of ending the provider session") // Logout
	fs.DurationVar(&c.Lifetime, "lifetime", 0, "a short idle `lifetime`, such as 20s, to watch a timeout")
	data := fs.String("data", "data/oidc", "`directory` of the session database") // Logout
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	c.ClientSecret = getenv("OIDC_CLIENT_SECRET")
	if k := getenv("LOGOUT_OIDC_COOKIE_KEY"); k != "" { // Logout
		var err error
		if c.CookieKey, err = hex.DecodeString(k); err != nil { // Logout
			return fmt.Errorf("LOGOUT_OIDC_COOKIE_KEY: %w", err) // Logout
		} // Logout
	} // Logout
	c.BaseURL = strings.TrimSuffix(cmp.Or(c.BaseURL, "http://"+*addr), "/")
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	if err := os.MkdirAll(*data, 0o700); err != nil { // Logout
		return fmt.Errorf("data directory: %w", err) // Logout
	} // Logout
	store, err := sqlitestore.New(ctx, *data+"/sessions.db", sqlitestore.Options{}) // Logout
	if err != nil {                                                                 // Logout
		return fmt.Errorf("session store: %w", err) // Logout
	} // Logout
	defer store.Close() // Logout
	m, err := newManager(store, c.Lifetime, logout.SystemClock{}, logger)
	if err != nil {
		return err
	}
	h, err := newServer(ctx, m, c, time.Now, logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "admin on http://%s/backend/\n", l.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go m.Run(ctx) // Logout
	go func() { <-ctx.Done(); srv.Shutdown(context.WithoutCancel(ctx)) }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newManager returns the Logout Manager of the app: the idle lifetime of
// the settings, or lifetime with a warning at half of it, on clock.
func newManager(store logout.Store, lifetime time.Duration, clock logout.Clock, logger *slog.Logger) (*logout.Manager, error) {
	var defaults *logout.Settings
	if lifetime > 0 {
		s := logout.DefaultSettings()
		s.Lifetime, s.WarningLead = lifetime, lifetime/2
		defaults = &s
	}
	return logout.New(store, logout.Options{Clock: clock, Logger: logger, Defaults: defaults}) // Logout
}

// server is the app.
type server struct {
	m        *logout.Manager
	rp       *oidc.RP // Logout
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	log      *slog.Logger
}

// newServer discovers the provider and returns the app's handler.
func newServer(ctx context.Context, m *logout.Manager, c config, now func() time.Time, logger *slog.Logger) (http.Handler, error) {
	provider, err := gooidc.NewProvider(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	rp, err := oidc.New(ctx, m, oidc.Options{ // Logout
		Issuer: c.Issuer, ClientID: c.ClientID, // Logout
		PostLogoutRedirectURL: c.BaseURL + loggedOut, // Logout
		KeepProviderSession:   c.KeepProviderSession, // Logout
		CookieKey:             c.CookieKey,           // Logout
		Now:                   now, Logger: logger,   // Logout
	}) // Logout
	if err != nil { // Logout
		return nil, err // Logout
	} // Logout
	s := &server{
		m: m, rp: rp, log: logger,
		conf: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: c.BaseURL + callbackPath, Scopes: []string{gooidc.ScopeOpenID},
		},
		verifier: provider.Verifier(&gooidc.Config{ClientID: c.ClientID, Now: now}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.front)
	mux.Handle("GET /backend/{$}", m.Require(http.HandlerFunc(s.dashboard)))                         // Logout
	mux.Handle(m.Paths().Endpoints+"/", m.Endpoints())                                               // Logout
	mux.Handle(assetsPrefix, http.StripPrefix(assetsPrefix[:len(assetsPrefix)-1], widget.Handler())) // Logout
	mux.HandleFunc("GET "+m.Paths().SignIn, s.signInPage)
	mux.HandleFunc("GET "+loginPath, s.login)
	mux.HandleFunc("GET "+callbackPath, s.callback)
	mux.Handle("GET "+loggedOut, rp.PostLogout())      // Logout
	mux.Handle("POST "+backChannel, rp.BackChannel())  // Logout
	mux.Handle("GET "+frontChannel, rp.FrontChannel()) // Logout
	return m.Handler(mux), nil                         // Logout
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>{{with .Logout}}{{.Script}}{{end}}</head>{{end}}
{{define "front"}}{{template "head" .}}<body><h1>Notes</h1><p><a href="/backend/">Admin</a></p></body></html>{{end}}
{{define "signin"}}{{template "head" .}}<body><main><h1>Sign in</h1>
{{with .Message}}<p role="alert" id="message">{{.}}</p>{{end}}
<p><a id="sso" target="_top" href="{{.Login}}">Sign in with single sign-on</a></p></main></body></html>{{end}}
{{define "dashboard"}}{{template "head" .}}<body><header>Signed in as <b id="user">{{.User}}</b> {{with .Logout}}{{.Element}}{{end}}</header>
<main><h1 id="dashboard">Dashboard</h1><textarea id="draft" aria-label="Draft"></textarea></main></body></html>{{end}}
`))

func (s *server) render(w http.ResponseWriter, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("render", "page", name, "err", err)
	}
}

func (s *server) front(w http.ResponseWriter, r *http.Request) {
	s.render(w, "front", map[string]any{"Title": "Notes"})
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	sess, _ := logout.FromContext(r.Context())
	cfg, _ := widget.New(s.m, r)    // Logout
	cfg.AssetsPrefix = assetsPrefix // Logout
	cfg.SignInFrame = true          // Logout: the lock dialog frames the sign-in page
	s.render(w, "dashboard", map[string]any{"Title": "Dashboard", "User": sess.UserName, "Logout": cfg})
}

// signInPage shows why the session ended and the single sign-on button.
func (s *server) signInPage(w http.ResponseWriter, r *http.Request) {
	if s.rp.EndProviderSession(w, r) { // Logout
		return // Logout
	} // Logout
	q := r.URL.Query()
	var msg string
	if reason, err := logout.ParseReason(q.Get("reason")); err == nil { // Logout
		msg = reason.Message() // Logout
	} // Logout
	login := loginPath
	if ret, ok := logout.SafeReturnPath(q.Get("return")); ok {
		login += "?return=" + url.QueryEscape(ret)
	}
	s.render(w, "signin", map[string]any{"Title": "Sign in", "Message": msg, "Login": login})
}

// login starts a sign-in at the provider, with a state and a nonce kept
// in a short-lived cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if s.rp.EndProviderSession(w, r) { // Logout
		return // Logout
	} // Logout
	state, nonce := random(), random()
	ret, _ := logout.SafeReturnPath(r.URL.Query().Get("return"))
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: state + "." + nonce + "." + base64.RawURLEncoding.EncodeToString([]byte(ret)),
		Path: "/backend/auth/oidc/", MaxAge: 600, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce)}, s.rp.AuthCodeOptions(w, r)...) // Logout
	http.Redirect(w, r, s.conf.AuthCodeURL(state, opts...), http.StatusFound)
}

// callback finishes a sign-in: it checks the state, exchanges the code,
// verifies the ID token and its nonce, and starts the session.
func (s *server) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(flowCookie)
	parts := strings.SplitN(func() string {
		if err != nil {
			return ""
		}
		return c.Value
	}(), ".", 3)
	if len(parts) != 3 || r.URL.Query().Get("state") != parts[0] {
		http.Error(w, "sign-in failed: start again", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Path: "/backend/auth/oidc/", MaxAge: -1})
	tok, err := s.conf.Exchange(r.Context(), r.URL.Query().Get("code"))
	if err != nil {
		s.log.Warn("code exchange", "err", err)
		http.Error(w, "sign-in failed", http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := s.verifier.Verify(r.Context(), raw)
	if err != nil || id.Nonce != parts[1] {
		http.Error(w, "sign-in failed", http.StatusForbidden)
		return
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[2])
	ret, _ := logout.SafeReturnPath(string(b))
	_, err = s.rp.SignIn(w, r, logout.User{ID: id.Subject, Name: id.Subject}, raw) // Logout
	switch {
	case errors.Is(err, oidc.ErrReauthenticate): // Logout
		http.Redirect(w, r, loginPath+"?return="+url.QueryEscape(ret), http.StatusSeeOther) // Logout
	case err != nil:
		http.Error(w, "sign-in refused", http.StatusForbidden)
	default:
		http.Redirect(w, r, cmp.Or(ret, "/backend/"), http.StatusSeeOther)
	}
}

// random returns 128 random bits, URL-safe.
func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
