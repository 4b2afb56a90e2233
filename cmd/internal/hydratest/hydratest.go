// Package hydratest starts a real OpenID provider for Logout's tests: Ory
// Hydra v2 ([Version]), in memory, on free loopback ports, with a login,
// consent and logout UI of its own that accepts Hydra's challenges through
// the admin API.
//
//	h := hydratest.Start(t, hydratest.Options{Users: map[string]string{"ada": "pw"}})
//	c := h.NewClient(t, hydratest.Client{RedirectURIs: []string{app + "/callback"}})
//	// sign in at h.Issuer with c.ID and c.Secret; end a provider session with h.EndSession
//
// The login form always asks for the password, unless Hydra says that the
// browser's provider session already authenticated the user (skip), so a
// test can tell a silent sign-in from one that asked again
// ([Server.Prompts]).
//
// # The binary
//
// Hydra is a program, not a library that Logout's modules require: the
// harness builds it once from the Go module proxy (hydra.go.mod and
// hydra.go.sum here pin every module it needs) into .cache/bin under the
// repository root, or takes the path in $LOGOUT_HYDRA. The build needs a C
// compiler (Hydra's in-memory database is SQLite, through cgo) and the
// first one takes a few minutes. When Hydra cannot be had, a test is skipped with a
// how-to message, or fails when CI=true.
package hydratest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Hydra release the harness runs.
const Version = "v2.3.0"

// Env names the environment variable with the path of a Hydra binary,
// which the harness then uses instead of building one.
const Env = "LOGOUT_HYDRA"

//go:embed hydra.go.mod
var toolMod []byte

//go:embed hydra.go.sum
var toolSum []byte

// CI reports whether the tests run in CI (CI=true), where nothing that
// they need may be missing.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips t with the message, or fails it when [CI] is true.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf(format+" (CI=true: not skipping)", args...)
	}
	t.Skipf(format, args...)
}

// repoRoot returns the repository's root: the nearest directory upwards
// from the working directory whose go.mod declares module
// github.com/gologout/logout.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/gologout/logout\n")) {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod of module github.com/gologout/logout above the working directory")
		}
		dir = up
	}
}

var build struct {
	sync.Mutex
	path string
	err  error
}

// Binary returns the path of a Hydra binary: $LOGOUT_HYDRA, or
// .cache/bin/hydra-<Version> under the repository root, built there from
// the module proxy when missing. It skips t when Hydra cannot be had (and
// fails it under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(Env); p != "" {
		return p
	}
	build.Lock()
	defer build.Unlock()
	if build.path == "" && build.err == nil {
		build.path, build.err = buildHydra()
	}
	if build.err != nil {
		SkipOrFail(t, "OpenID provider tests need Ory Hydra %s: %v; set %s to a hydra binary, or let the harness build it (needs the go command and the Go module proxy)", Version, build.err, Env)
	}
	return build.path
}

// buildHydra builds Hydra into the cache unless it is there. Builds by
// several test processes at once each write their own file and rename it
// into place, so every process sees either no binary or a whole one.
func buildHydra() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".cache", "bin", "hydra-"+Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".cache"), "hydra-build-")
	if err != nil {
		if err = os.MkdirAll(filepath.Join(root, ".cache", "bin"), 0o755); err != nil {
			return "", err
		}
		if dir, err = os.MkdirTemp(filepath.Join(root, ".cache"), "hydra-build-"); err != nil {
			return "", err
		}
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	for name, b := range map[string][]byte{"go.mod": toolMod, "go.sum": toolSum} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	// DSN=memory is SQLite in memory: Hydra's sqlite tag, with cgo.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "sqlite,sqlite_omit_load_extension", "-o", tmp, "github.com/ory/hydra/v2")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build github.com/ory/hydra/v2@%s: %v\n%s", Version, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// Options configure [Start].
type Options struct {
	// Users maps user names, which become the subjects, to passwords.
	// Default: "ada" with password "ada-password".
	Users map[string]string
	// RememberFor is how long Hydra keeps a browser's provider session,
	// which lets later sign-ins skip the password. Default 1 hour.
	RememberFor time.Duration
}

// A Server is a running Hydra and its UI.
type Server struct {
	// Issuer is the provider's issuer URL (its public address, with a
	// trailing slash, as Hydra writes it in tokens).
	Issuer string
	// Admin is the address of Hydra's admin API.
	Admin string
	// UI is the address of the login, consent and logout UI.
	UI string

	users       map[string]string
	rememberFor time.Duration
	client      *http.Client

	mu      sync.Mutex
	prompts map[string]int
}

// FreePort returns a loopback port that was free a moment ago, for a
// server that must know its address before it starts (a redirect URI).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs Hydra for t, with DSN=memory and serve all --dev, and stops
// it when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	if opts.Users == nil {
		opts.Users = map[string]string{"ada": "ada-password"}
	}
	if opts.RememberFor == 0 {
		opts.RememberFor = time.Hour
	}
	s := &Server{
		users:       opts.Users,
		rememberFor: opts.RememberFor,
		client:      &http.Client{Timeout: 10 * time.Second},
		prompts:     map[string]int{},
	}
	ui := httptest.NewServer(s.uiHandler())
	t.Cleanup(ui.Close)
	s.UI = ui.URL

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		pub, adm := FreePort(t), FreePort(t)
		s.Issuer = fmt.Sprintf("http://127.0.0.1:%d/", pub)
		s.Admin = fmt.Sprintf("http://127.0.0.1:%d", adm)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "serve", "all", "--dev", "--sqa-opt-out")
		cmd.Env = append(os.Environ(),
			"DSN=memory",
			"LOG_LEVEL=warn",
			"LOG_LEAK_SENSITIVE_VALUES=false",
			"SECRETS_SYSTEM=logout-hydratest-system-secret-0123456789",
			"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strconv.Itoa(pub),
			"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strconv.Itoa(adm),
			"URLS_SELF_ISSUER="+s.Issuer,
			"URLS_LOGIN="+ui.URL+"/login",
			"URLS_CONSENT="+ui.URL+"/consent",
			"URLS_LOGOUT="+ui.URL+"/logout",
			"URLS_POST_LOGOUT_REDIRECT="+ui.URL+"/logged-out",
			"STRATEGIES_ACCESS_TOKEN=opaque",
			"OIDC_SUBJECT_IDENTIFIERS_SUPPORTED_TYPES=public",
		)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			cancel()
			SkipOrFail(t, "start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cancel()
			<-exited
		}
		if lastErr = s.waitReady(exited); lastErr == nil {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("hydra's log:\n%s", logs.String())
				}
			})
			return s
		}
		stop()
		lastErr = fmt.Errorf("%w\n%s", lastErr, logs.String())
	}
	t.Fatalf("hydra did not start: %v", lastErr)
	return nil
}

// waitReady polls Hydra's readiness until it answers, it exits, or 30 s
// pass.
func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, u := range []string{s.Admin + "/health/ready", s.Issuer + ".well-known/openid-configuration"} {
			res, err := s.client.Get(u)
			if err != nil {
				goto wait
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				goto wait
			}
		}
		return nil
	wait:
		select {
		case <-exited:
			return errors.New("hydra exited")
		case <-time.After(50 * time.Millisecond): // polling a process started in real time
		}
		if time.Now().After(deadline) {
			return errors.New("hydra was not ready within 30 s")
		}
	}
}

// A Client is an OAuth 2.0 client to register at Hydra.
type Client struct {
	// RedirectURIs are the client's redirect URIs.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the URIs that RP-initiated logout may
	// return to.
	PostLogoutRedirectURIs []string
	// BackChannelLogoutURI receives logout tokens; empty: none.
	BackChannelLogoutURI string
	// FrontChannelLogoutURI is framed at logout with iss and sid; empty:
	// none.
	FrontChannelLogoutURI string
}

// A RegisteredClient is a client that Hydra registered.
type RegisteredClient struct {
	ID, Secret string
}

// NewClient registers c at Hydra.
func (s *Server) NewClient(t testing.TB, c Client) RegisteredClient {
	t.Helper()
	body := map[string]any{
		"redirect_uris":              c.RedirectURIs,
		"post_logout_redirect_uris":  c.PostLogoutRedirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access",
		"token_endpoint_auth_method": "client_secret_basic",
		"client_secret":              "logout-hydratest-client-secret",
	}
	if c.BackChannelLogoutURI != "" {
		body["backchannel_logout_uri"] = c.BackChannelLogoutURI
		body["backchannel_logout_session_required"] = true
	}
	if c.FrontChannelLogoutURI != "" {
		body["frontchannel_logout_uri"] = c.FrontChannelLogoutURI
		body["frontchannel_logout_session_required"] = true
	}
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := s.admin(http.MethodPost, "/admin/clients", nil, body, &out); err != nil {
		t.Fatalf("register client: %v", err)
	}
	return RegisteredClient{ID: out.ID, Secret: out.Secret}
}

// EndSession ends the provider session sid as an administrator does
// (Hydra's headless logout), which sends the back-channel logout tokens.
func (s *Server) EndSession(t testing.TB, sid string) {
	t.Helper()
	if err := s.admin(http.MethodDelete, "/admin/oauth2/auth/sessions/login", url.Values{"sid": {sid}}, nil, nil); err != nil {
		t.Fatalf("end provider session: %v", err)
	}
}

// SessionIDs returns the provider session IDs (sid) in which subject
// consented to a client, newest first as Hydra lists them.
func (s *Server) SessionIDs(t testing.TB, subject string) []string {
	t.Helper()
	var out []struct {
		Request struct {
			SID string `json:"login_session_id"`
		} `json:"consent_request"`
	}
	if err := s.admin(http.MethodGet, "/admin/oauth2/auth/sessions/consent", url.Values{"subject": {subject}}, nil, &out); err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	var sids []string
	for _, c := range out {
		if c.Request.SID != "" && !slices.Contains(sids, c.Request.SID) {
			sids = append(sids, c.Request.SID)
		}
	}
	return sids
}

// Prompts returns how many times the login form asked user for a
// password and got the right one.
func (s *Server) Prompts(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prompts[user]
}

// admin calls Hydra's admin API: a JSON body in, JSON into out.
func (s *Server) admin(method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := s.Admin + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hydra test provider: sign in</title></head>
<body><h1>Identity provider</h1>
{{if .Error}}<p role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="challenge" value="{{.Challenge}}">
<label>User <input id="username" name="username" autocomplete="username" value="{{.User}}"></label>
<label>Password <input id="password" type="password" name="password" autocomplete="current-password"></label>
<button id="submit" type="submit">Sign in at the provider</button>
</form></body></html>`))

// uiHandler serves the login, consent and logout UI.
func (s *Server) uiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		ch := r.URL.Query().Get("login_challenge")
		var req struct {
			Skip    bool   `json:"skip"`
			Subject string `json:"subject"`
		}
		if err := s.admin(http.MethodGet, "/admin/oauth2/auth/requests/login", url.Values{"login_challenge": {ch}}, nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if req.Skip {
			// The provider session authenticated the user: no form.
			s.acceptLogin(w, r, ch, req.Subject, false)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		loginPage.Execute(w, map[string]string{"Challenge": ch})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		ch, user, pw := r.PostFormValue("challenge"), r.PostFormValue("username"), r.PostFormValue("password")
		want, ok := s.users[user]
		if !ok || pw == "" || pw != want {
			w.WriteHeader(http.StatusUnauthorized)
			loginPage.Execute(w, map[string]string{"Challenge": ch, "User": user, "Error": "Wrong user name or password."})
			return
		}
		s.mu.Lock()
		s.prompts[user]++
		s.mu.Unlock()
		s.acceptLogin(w, r, ch, user, true)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		ch := r.URL.Query().Get("consent_challenge")
		var req struct {
			RequestedScope    []string `json:"requested_scope"`
			RequestedAudience []string `json:"requested_access_token_audience"`
		}
		if err := s.admin(http.MethodGet, "/admin/oauth2/auth/requests/consent", url.Values{"consent_challenge": {ch}}, nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		err := s.admin(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept", url.Values{"consent_challenge": {ch}}, map[string]any{
			"grant_scope":                 req.RequestedScope,
			"grant_access_token_audience": req.RequestedAudience,
			"remember":                    true,
			"remember_for":                int(s.rememberFor / time.Second),
		}, &out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, out.RedirectTo, http.StatusFound)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		ch := r.URL.Query().Get("logout_challenge")
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := s.admin(http.MethodPut, "/admin/oauth2/auth/requests/logout/accept", url.Values{"logout_challenge": {ch}}, nil, &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, out.RedirectTo, http.StatusFound)
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><html lang="en"><head><title>Signed out</title></head><body><h1 id="provider-signed-out">Signed out at the provider</h1></body></html>`)
	})
	return mux
}

// acceptLogin accepts a login challenge for subject and sends the browser
// on; remember keeps a provider session in the browser, so that later
// sign-ins skip the form.
func (s *Server) acceptLogin(w http.ResponseWriter, r *http.Request, ch, subject string, remember bool) {
	body := map[string]any{"subject": subject}
	if remember {
		body["remember"] = true
		body["remember_for"] = int(s.rememberFor / time.Second)
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := s.admin(http.MethodPut, "/admin/oauth2/auth/requests/login/accept", url.Values{"login_challenge": {ch}}, body, &out); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// String describes the server for test logs.
func (s *Server) String() string {
	return "hydra " + Version + " at " + strings.TrimSuffix(s.Issuer, "/")
}
