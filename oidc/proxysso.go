package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gologout/logout"
	"golang.org/x/oauth2"
)

// ProxyOptions configure a [ProxySSO]: the Options of its [RP] and the
// client's secret and endpoints.
type ProxyOptions struct {
	// Options are the RP's, as for [New]; PostLogoutRedirectURL is set
	// by [NewProxySSO] from URL.
	Options
	// ClientSecret is the client's secret, for the code exchange
	// (client_secret_basic). Required.
	ClientSecret string
	// URL is the absolute URL below which the proxy serves the endpoints
	// (logout-proxy's: the panel's prefix + "/_logout/sso/"), with a
	// final slash. Register at the provider URL+"callback" as a redirect
	// URI, URL+"logged-out" as a post-logout redirect URI,
	// URL+"backchannel" as the back-channel logout URI and, for a
	// provider without back-channel logout, URL+"frontchannel" as the
	// front-channel logout URI. Required.
	URL string
	// UserID returns the user ID of the sessions of the user named name
	// (logout-proxy: [proxy.Profile.UserID]). Required.
	UserID func(name string) string
	// Scopes are asked for besides openid, such as "profile" or "email"
	// for the user's name: the ID token's preferred_username, else its
	// email, else its subject. Default none.
	Scopes []string
}

// flowLifetime bounds a sign-in at the provider, from the redirect to
// the callback, and a pending identity, from the callback to the panel's
// own sign-in.
const flowLifetime = 15 * time.Minute

// flow is what the sign-in flow cookie seals.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // PKCE
	Return   string `json:"r"`
}

// A ProxySSO signs browsers in at an OpenID provider for logout-proxy, in
// front of a panel that signs in through the same provider with a single
// sign-on plugin of its own. The proxy sends a backend request of a
// browser without a panel session to the provider through [ProxySSO]'s
// endpoints first; the callback keeps the verified identity (the ID
// token, the user, the tags [SubjectTag] and [SessionTag]) in the ID
// token cookie, pending; the panel's plugin then signs in silently from
// the provider session, and the proxy starts the panel's session for
// that identity ([ProxySSO.Identity]) and binds the cookie to it
// ([ProxySSO.Started]). From then on it is as for [RP.SignIn]: an ended
// session ends the provider session ([ProxySSO.EndProviderSession]) or
// asks for a fresh authentication, and the provider's back-channel (or
// front-channel) logout ends the panel's sessions on every instance.
//
// It implements logout-proxy's proxy.SSO. It is safe for concurrent use.
type ProxySSO struct {
	rp     *RP
	conf   oauth2.Config
	path   string // URL's path
	userID func(string) string
	back   http.Handler
	front  http.Handler
	post   http.Handler
}

// NewProxySSO returns a ProxySSO for the proxy's Manager m. It reads the
// provider's discovery document with ctx.
func NewProxySSO(ctx context.Context, m *logout.Manager, opts ProxyOptions) (*ProxySSO, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || !u.IsAbs() || !strings.HasSuffix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: proxy URL %q must be an absolute URL ending in a slash", opts.URL)
	}
	if opts.ClientSecret == "" || opts.UserID == nil {
		return nil, errors.New("oidc: ClientSecret and UserID are required")
	}
	opts.PostLogoutRedirectURL = opts.URL + "logged-out"
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	rp, err := New(ctx, m, opts.Options)
	if err != nil {
		return nil, err
	}
	s := &ProxySSO{rp: rp, path: u.Path, userID: opts.UserID,
		conf: oauth2.Config{ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: opts.URL + "callback", Scopes: append([]string{gooidc.ScopeOpenID}, opts.Scopes...)},
	}
	s.back, s.front, s.post = rp.BackChannel(), rp.FrontChannel(), rp.PostLogout()
	return s, nil
}

// RP returns the ProxySSO's RP.
func (s *ProxySSO) RP() *RP { return s.rp }

// ServeHTTP serves the endpoints below [ProxyOptions.URL]'s path: GET
// login (?return=path) ends an ended session's provider session, or
// sends the browser to the provider; GET callback is the redirect URI;
// GET logged-out is [RP.PostLogout]; POST backchannel is
// [RP.BackChannel]; GET frontchannel is [RP.FrontChannel]. Every answer
// carries Cache-Control: no-store; anything else is 404.
func (s *ProxySSO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	name, ok := strings.CutPrefix(r.URL.Path, s.path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch name {
	case "backchannel":
		s.back.ServeHTTP(w, r)
		return
	case "frontchannel":
		s.front.ServeHTTP(w, r)
		return
	case "logged-out":
		s.post.ServeHTTP(w, r)
		return
	case "login", "callback":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name == "login" {
		s.login(w, r)
	} else {
		s.callback(w, r)
	}
}

func (s *ProxySSO) flowName(r *http.Request) string { return s.rp.hintName(r) + "_flow" }

// login ends the provider session of an ended session, or starts a
// sign-in at the provider: state, nonce and PKCE verifier sealed in a
// short-lived cookie.
func (s *ProxySSO) login(w http.ResponseWriter, r *http.Request) {
	if s.rp.EndProviderSession(w, r) {
		return
	}
	ret, _ := logout.SafeReturnPath(r.URL.Query().Get("return"))
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Return: ret}
	v, err := seal(s.rp.seal, "flow", f, s.rp.now().Add(flowLifetime))
	if err != nil {
		s.rp.log.ErrorContext(r.Context(), "oidc: seal the sign-in flow", "err", err)
		http.Error(w, "sign-in failed", http.StatusInternalServerError)
		return
	}
	s.rp.setCookie(w, r, s.flowName(r), v, flowLifetime)
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)}, s.rp.AuthCodeOptions(w, r)...)
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, s.conf.AuthCodeURL(f.State, opts...), http.StatusSeeOther)
}

// callback redeems the code, verifies the ID token and its nonce, checks
// the authentication as [RP.SignIn] does, and keeps the identity pending
// in the ID token cookie.
func (s *ProxySSO) callback(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	f, err := unseal[flow](s.rp.seal, "flow", s.rp.cookie(r, s.flowName(r)), s.rp.now())
	if err != nil || q.Get("state") == "" || q.Get("state") != f.State {
		http.Error(w, "sign-in failed: start again", http.StatusBadRequest)
		return
	}
	s.rp.setCookie(w, r, s.flowName(r), "", -1)
	if q.Get("error") != "" || q.Get("code") == "" {
		s.rp.log.WarnContext(ctx, "oidc: the provider refused the sign-in", "error", q.Get("error"))
		http.Error(w, "sign-in failed", http.StatusForbidden)
		return
	}
	hc := s.rp.opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	tok, err := s.conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.rp.log.WarnContext(ctx, "oidc: code exchange", "err", err)
		http.Error(w, "sign-in failed", http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	id, c, err := s.rp.verifyIDToken(ctx, raw)
	if err != nil || id.Nonce != f.Nonce {
		s.rp.log.WarnContext(ctx, "oidc: sign in: ID token refused", "err", err)
		http.Error(w, "sign-in failed", http.StatusForbidden)
		return
	}
	var names struct {
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
	}
	_ = id.Claims(&names) // verified above
	name := names.Username
	if name == "" {
		name = names.Email
	}
	if name == "" {
		name = id.Subject
	}
	userID := s.userID(name)
	asked, err := s.rp.admit(w, r, userID, c)
	switch {
	case errors.Is(err, ErrReauthenticate):
		http.Redirect(w, r, s.path+"login?return="+url.QueryEscape(f.Return), http.StatusSeeOther)
		return
	case err != nil:
		http.Error(w, "sign-in refused", http.StatusForbidden)
		return
	}
	if asked {
		s.rp.setCookie(w, r, s.rp.reauthName(r), "", -1)
	}
	s.rp.keepHint(w, r, hint{User: userID, Name: name, Tags: tags(id, c)}, raw, flowLifetime)
	ret := f.Return
	if ret == "" {
		ret = s.rp.m.Paths().Backend + "/"
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// Identity returns the user whom r's browser signed in as at the
// provider, with the session tags, while that identity is pending: it
// has not started a session yet, and is at most 15 minutes old.
func (s *ProxySSO) Identity(r *http.Request) (logout.User, bool) {
	v := s.rp.cookie(r, s.rp.hintName(r))
	if v == "" {
		return logout.User{}, false
	}
	h, err := unseal[hint](s.rp.seal, "hint", v, s.rp.now())
	if err != nil || h.Session != "" || h.User == "" {
		return logout.User{}, false
	}
	return logout.User{ID: h.User, Name: h.Name, Tags: h.Tags}, true
}

// Started binds r's pending identity to the session sess that it started,
// so that it starts no other, and [ProxySSO.EndProviderSession] ends the
// provider session when sess ends.
func (s *ProxySSO) Started(w http.ResponseWriter, r *http.Request, sess logout.Session) {
	h, err := unseal[hint](s.rp.seal, "hint", s.rp.cookie(r, s.rp.hintName(r)), s.rp.now())
	if err != nil || h.Session != "" {
		return
	}
	raw := h.IDToken
	s.rp.keepHint(w, r, hint{Session: sess.ID, User: sess.UserID}, raw, hintLifetime)
}

// CookieNames returns the patterns of the names of the cookies that the
// ProxySSO sets: [Options.CookieName] alone and followed by "_" and
// anything, with and without the "__Host-" prefix.
func (s *ProxySSO) CookieNames() []string {
	n := s.rp.opts.CookieName
	return []string{n, n + "_*", "__Host-" + n, "__Host-" + n + "_*"}
}

// EndProviderSession is [RP.EndProviderSession], for the panel's sign-in
// page.
func (s *ProxySSO) EndProviderSession(w http.ResponseWriter, r *http.Request) bool {
	return s.rp.EndProviderSession(w, r)
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
