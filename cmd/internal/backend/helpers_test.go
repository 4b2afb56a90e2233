package backend_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/internal/fakeclock"
)

const (
	adminPassword  = "admin-password-1"
	editorPassword = "editor-password-1"
)

// env is one running App behind an httptest server.
type env struct {
	t     *testing.T
	app   *backend.App
	srv   *httptest.Server
	clock *fakeclock.Clock
	dir   string
}

// start starts an App on dir (a new temporary directory when "") with
// the clock c (a new fake clock when nil).
func start(t *testing.T, dir string, c *fakeclock.Clock) *env {
	t.Helper()
	if c == nil {
		c = fakeclock.New()
	}
	return startApp(t, false, c, func(cfg *backend.Config) {
		if dir != "" {
			cfg.DataDir = dir
		}
	})
}

// startWith starts an App, over TLS if tls, with the test defaults
// changed by edit (when not nil), on a new fake clock.
func startWith(t *testing.T, tls bool, edit func(*backend.Config)) *env {
	t.Helper()
	return startApp(t, tls, fakeclock.New(), edit)
}

// startApp is start and startWith: the one place that builds a test App.
func startApp(t *testing.T, tls bool, clock *fakeclock.Clock, edit func(*backend.Config)) *env {
	t.Helper()
	cfg := backend.Config{
		DataDir: t.TempDir(), Clock: clock, BcryptCost: bcrypt.MinCost,
		AdminPassword: adminPassword, EditorPassword: editorPassword,
		Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	app, err := backend.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("backend.New: %v", err)
	}
	srv := httptest.NewUnstartedServer(app.Handler())
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	e := &env{t: t, app: app, srv: srv, clock: clock, dir: cfg.DataDir}
	t.Cleanup(e.stop)
	return e
}

// stop closes the server and the App; it may be called twice.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	if err := e.app.Close(); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	e.srv = nil
}

// client is a browser: a cookie jar that does not follow redirects.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	// header is added to every request.
	header http.Header
}

func (e *env) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, e: e, header: http.Header{}, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read response.
type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	for k, v := range c.header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{res, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// follow GETs the response's Location.
func (c *client) follow(r response) response {
	c.t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		c.t.Fatalf("no Location in %d response", r.StatusCode)
	}
	u, err := url.Parse(loc)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.get(u.RequestURI())
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the first CSRF token in a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", body)
	}
	return m[1]
}

// signIn signs in through the form and returns the response to the POST.
func (c *client) signIn(user, password string, extra url.Values) response {
	c.t.Helper()
	page := c.get("/backend/auth/signin")
	form := url.Values{"csrf_token": {csrf(c.t, page.body)}, "username": {user}, "password": {password}}
	for k, v := range extra {
		form[k] = v
	}
	return c.post("/backend/auth/signin", form)
}

// mustSignIn signs in and fails the test unless it worked.
func (c *client) mustSignIn(user, password string) {
	c.t.Helper()
	r := c.signIn(user, password, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/backend" {
		c.t.Fatalf("sign in %s: got %d to %q, want 303 to /backend\n%s", user, r.StatusCode, r.Header.Get("Location"), r.body)
	}
}

// token returns the session's CSRF token, read from the dashboard.
func (c *client) token() string {
	c.t.Helper()
	return csrf(c.t, c.get("/backend").body)
}

func wantStatus(t *testing.T, r response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s %s: got status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, code, r.body)
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}
