package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/internal/djangotest"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/gologout/logout/proxy"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/redisstore/redistest"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read users.db
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	// Neither --upstream nor --profile: --version needs no other flag.
	if err := run(t.Context(), []string{"--version"}, func(string) string { return "" }, &out, &errOut, nil); err != nil {
		t.Fatalf("run --version: %v", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "logout-proxy ") || !strings.Contains(got, " built with go1.") || errOut.Len() != 0 {
		t.Errorf("got %q and %q on stderr, want the version line alone", got, errOut.String())
	}
}

func TestFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name":"x","prefix":"/admin","sign_in_path":"/admin/login/","session_cookies":["a*b"]}`), 0o600)
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, []byte(`{"name":"x","prefix":"/admin","sign_in_path":"/admin/login/","session_cookie":["sessionid"]}`), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no upstream", []string{"--profile", "django"}, "--upstream is required"},
		{"no profile", []string{"--upstream", "http://127.0.0.1:8000"}, "--profile is required"},
		{"upstream scheme", []string{"--upstream", "ftp://h", "--profile", "django"}, "want http://host:port"},
		{"upstream path", []string{"--upstream", "http://h/x", "--profile", "django"}, "without a path"},
		{"unknown profile", []string{"--upstream", "http://h", "--profile", "joomla"}, "unknown; want one of django, octobercms, phpmyadmin, wordpress"},
		{"bad pattern", []string{"--upstream", "http://h", "--profile", bad}, "cookie pattern"},
		{"unknown field", []string{"--upstream", "http://h", "--profile", typo}, "unknown field"},
		{"missing file", []string{"--upstream", "http://h", "--profile", "./nope.json"}, "no such file"},
		{"admin prefix inside panel", []string{"--upstream", "http://h", "--profile", "django", "--admin-prefix", "/admin/proxy"}, "outside the panel"},
		{"trusted proxy", []string{"--upstream", "http://h", "--profile", "django", "--trusted-proxy", "10.0.0.1/8"}, "host bits set"},
		{"log format", []string{"--upstream", "http://h", "--profile", "django", "--log-format", "xml"}, "want text or json"},
		{"tls half", []string{"--upstream", "http://h", "--profile", "django", "--tls-cert", "c.pem"}, "go together"},
		{"laravel key length", []string{"--upstream", "http://h", "--profile", "octobercms", "--laravel-app-key", "base64:c2VjcmV0LXNob3J0"}, "--laravel-app-key"},
		{"laravel key base64", []string{"--upstream", "http://h", "--profile", "octobercms", "--laravel-app-key", "base64:secret!!"}, "not valid base64"},
		{"laravel previous key", []string{"--upstream", "http://h", "--profile", "octobercms", "--laravel-app-key", "base64:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
			"--laravel-previous-keys", "base64:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=,base64:c2VjcmV0LXNob3J0"}, "APP_PREVIOUS_KEYS, key 2"},
		{"laravel previous keys alone", []string{"--upstream", "http://h", "--profile", "octobercms", "--laravel-previous-keys", "base64:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="}, "needs --laravel-app-key"},
		{"oidc client alone", []string{"--upstream", "http://h", "--profile", "django", "--oidc-client-id", "c"}, "need --oidc-issuer"},
		{"oidc keep alone", []string{"--upstream", "http://h", "--profile", "django", "--oidc-keep-provider-session"}, "need --oidc-issuer"},
		{"oidc no client", []string{"--upstream", "http://h", "--profile", "django", "--oidc-issuer", "https://idp"}, "needs --oidc-client-id"},
		{"oidc no secret", []string{"--upstream", "http://h", "--profile", "django", "--oidc-issuer", "https://idp", "--oidc-client-id", "c"}, "LOGOUT_OIDC_CLIENT_SECRET"},
		{"public url path", []string{"--upstream", "http://h", "--profile", "django", "--public-url", "https://h/x"}, "without a path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, &stderr, nil)
			if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("got %v, stderr %q; want a usage error saying %q", err, stderr.String(), tt.want)
			}
		})
	}
	t.Run("help explains every flag", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"-upstream", "-profile", "-addr", "-data", "-admin-prefix", "-store", "-trusted-proxy", "-rewrite-origin", "LOGOUT_UPSTREAM", "-laravel-app-key", "LOGOUT_PROXY_LARAVEL_APP_KEY", "-laravel-previous-keys", "LOGOUT_PROXY_LARAVEL_PREVIOUS_KEYS", "-client-timeout", "LOGOUT_CLIENT_TIMEOUT",
			"-oidc-issuer", "-oidc-client-id", "-oidc-scope", "-oidc-keep-provider-session", "-public-url", "LOGOUT_OIDC_CLIENT_SECRET", "LOGOUT_OIDC_COOKIE_KEY", "_logout/sso/backchannel"} {
			if !strings.Contains(out.String(), f) {
				t.Errorf("--help does not mention %s", f)
			}
		}
	})
}

// TestFlagOIDCCookieKey: a bad LOGOUT_OIDC_COOKIE_KEY is refused without
// being shown, and neither it nor the client secret is in --help.
func TestFlagOIDCCookieKey(t *testing.T) {
	const secret = "s3cret-client-value"
	for _, key := range []string{"not-hex-at-all-0123456789", strings.Repeat("ab", 31)} {
		env := map[string]string{"LOGOUT_OIDC_CLIENT_SECRET": secret, "LOGOUT_OIDC_COOKIE_KEY": key}
		var stderr, stdout bytes.Buffer
		err := run(context.Background(), []string{"--upstream", "http://h", "--profile", "django", "--oidc-issuer", "https://idp", "--oidc-client-id", "c"},
			func(k string) string { return env[k] }, &stdout, &stderr, nil)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "LOGOUT_OIDC_COOKIE_KEY: want at least 64 hex digits") {
			t.Fatalf("key %q: got %v, stderr %q", key, err, stderr.String())
		}
		if out := stderr.String() + stdout.String(); strings.Contains(out, key) || strings.Contains(out, secret) {
			t.Errorf("the output shows a secret: %q", out)
		}
	}
}

// TestFlagLaravelKey: the APP_KEY is read from the flag or the
// environment, and never shown by --help or in an error.
func TestFlagLaravelKey(t *testing.T) {
	const good = "base64:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="
	const bad = "base64:c2VjcmV0LXNob3J0" // "secret-short"
	tests := []struct {
		name    string
		args    []string
		env     string
		prevEnv string // LOGOUT_PROXY_LARAVEL_PREVIOUS_KEYS
		wantErr bool
	}{
		{"flag", []string{"--laravel-app-key", good}, "", "", false},
		{"environment", nil, good, "", false},
		{"flag wins", []string{"--laravel-app-key", good}, bad, "", false},
		{"bad in environment", nil, bad, "", true},
		{"none", nil, "", "", false},
		{"previous keys in environment", nil, good, good + "," + good, false},
		{"bad previous key in environment", nil, good, good + "," + bad, true},
		{"previous keys flag wins", []string{"--laravel-previous-keys", good}, good, bad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				switch k {
				case "LOGOUT_PROXY_LARAVEL_APP_KEY":
					return tt.env
				case "LOGOUT_PROXY_LARAVEL_PREVIOUS_KEYS":
					return tt.prevEnv
				}
				return ""
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"--upstream", "http://h", "--profile", "octobercms"}, tt.args...)
			o, _, err := parse(args, getenv, &stdout, &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse: %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && (o.laravelKey != nil) != (tt.env != "" || tt.args != nil) {
				t.Fatalf("key set %v", o.laravelKey != nil)
			}
			if strings.Contains(stderr.String(), "c2VjcmV0") || strings.Contains(stderr.String(), "KioqKioq") {
				t.Fatalf("the key is echoed: %q", stderr.String())
			}
			_, _, _ = parse([]string{"--help"}, getenv, &stdout, io.Discard)
			if strings.Contains(stdout.String(), "c2VjcmV0") || strings.Contains(stdout.String(), "KioqKioq") {
				t.Fatalf("--help shows the key: %q", stdout.String())
			}
		})
	}
}

// started is a running command.
type started struct {
	base  string
	data  string // the data directory
	out   *bytes.Buffer
	clock *fakeclock.Clock
}

// start runs the command against upstream on a fake clock, with the
// django profile unless args (more flags, which win) name another.
func start(t *testing.T, upstream string, env map[string]string, args ...string) *started {
	t.Helper()
	clock := fakeclock.New()
	s := startClock(t, clock, 60*time.Second, upstream, env, args...)
	s.clock = clock
	return s
}

// startClock is start on the clock now (nil: the real one), with an idle
// lifetime.
func startClock(t *testing.T, clock logout.Clock, lifetime time.Duration, upstream string, env map[string]string, args ...string) *started {
	t.Helper()
	s := &started{data: t.TempDir(), out: new(bytes.Buffer)}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var mu sync.Mutex
	set := logout.DefaultSettings()
	set.Lifetime, set.WarningLead = lifetime, (lifetime / 6).Truncate(time.Second)
	go func() {
		flags := append([]string{"--addr", "127.0.0.1:0", "--upstream", upstream, "--profile", "django", "--data", s.data, "--log-level", "warn"}, args...)
		done <- run(ctx, flags,
			func(k string) string { return env[k] }, lockedWriter{&mu, s.out}, io.Discard,
			&hooks{clock: clock, listening: func(b string) { ready <- b }, logout: logout.Options{Defaults: &set}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case s.base = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the proxy did not start")
	}
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t, base, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.base)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.send(req)
}

// send sends req with the jar's cookies and returns the answer with its
// body read.
func (c *client) send(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	djangoCSRF  = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)
	backendCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

func (c *client) djangoSignIn(user, password string) {
	c.t.Helper()
	_, body := c.do("GET", "/admin/login/", nil)
	m := djangoCSRF.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF token on Django's sign-in page")
	}
	resp, _ := c.do("POST", "/admin/login/", url.Values{"csrfmiddlewaretoken": {m[1]}, "username": {user}, "password": {password}, "next": {"/admin/"}})
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("Django sign-in: status %d, want 302", resp.StatusCode)
	}
}

// adminSignIn signs in to the proxy's own admin pages.
func (c *client) adminSignIn(user, password string) {
	c.t.Helper()
	_, body := c.do("GET", "/logout-proxy/auth/signin", nil)
	m := backendCSRF.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF token on the proxy's sign-in page")
	}
	if resp, _ := c.do("POST", "/logout-proxy/auth/signin", url.Values{"csrf_token": {m[1]}, "username": {user}, "password": {password}}); resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("proxy admin sign-in: status %d, want 303", resp.StatusCode)
	}
}

func TestDjangoThroughCommand(t *testing.T) {
	dj := djangotest.Start(t)
	s := start(t, dj.URL.String(), map[string]string{"LOGOUT_ADMIN_USER": "proxyadmin", "LOGOUT_ADMIN_PASSWORD": "proxy-admin-password"})
	if !strings.Contains(s.out.String(), "password proxy-admin-password") {
		t.Fatalf("first start output %q does not show the administrator's password", s.out.String())
	}

	user := newClient(t, s.base)
	user.djangoSignIn(dj.User, dj.Password)
	if resp, body := user.do("GET", "/admin/", nil); resp.StatusCode != 200 || !strings.Contains(body, "logout-counter") {
		t.Fatalf("Django dashboard through the command: status %d, counter %v", resp.StatusCode, strings.Contains(body, "logout-counter"))
	}

	// A Django session gives no access to the proxy's admin pages.
	if resp, _ := user.do("GET", "/logout-proxy/system/sessions", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin pages with a Django session only: status %d, want 303 to the proxy's sign-in", resp.StatusCode)
	}

	admin := newClient(t, s.base)
	admin.adminSignIn("proxyadmin", "proxy-admin-password")
	resp, body := admin.do("GET", "/logout-proxy/system/sessions", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, dj.User) {
		t.Fatalf("sessions page: status %d, lists %s: %v", resp.StatusCode, dj.User, strings.Contains(body, dj.User))
	}
	m := backendCSRF.FindStringSubmatch(body)
	resp, _ = admin.do("POST", "/logout-proxy/system/sessions/signout", url.Values{"csrf_token": {m[1]}, "scope": {"user"}, "user": {proxy.PanelUser(dj.User)}})
	if resp.StatusCode >= 400 {
		t.Fatalf("forced sign-out: status %d", resp.StatusCode)
	}
	// On SQLite the proxy rereads a session at most every SyncInterval
	// (500 ms) of its clock.
	s.clock.Advance(time.Second)
	resp, _ = user.do("GET", "/admin/", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "reason=forced") {
		t.Fatalf("Django after the forced sign-out: status %d to %q, want 303 with reason=forced", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The administrator is still signed in.
	if resp, _ := admin.do("GET", "/logout-proxy/system/sessions", nil); resp.StatusCode != 200 {
		t.Fatalf("the proxy's administrator after forcing %s out: status %d", dj.User, resp.StatusCode)
	}
}

// TestAdminAssets: the admin pages load their CSS and JavaScript below
// the proxy's own --admin-prefix, so that the panel keeps /assets/, and
// the first start creates the administrator only, no demo editor.
func TestAdminAssets(t *testing.T) {
	var panelPaths sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panelPaths.Store(r.URL.Path, true)
		io.WriteString(w, "panel")
	}))
	defer up.Close()
	s := start(t, up.URL, map[string]string{"LOGOUT_ADMIN_USER": "proxyadmin", "LOGOUT_ADMIN_PASSWORD": "proxy-admin-password"})
	if strings.Contains(s.out.String(), "editor") {
		t.Errorf("first start output mentions an editor: %q", s.out.String())
	}
	db, err := sql.Open("sqlite", filepath.Join(s.data, "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	rows, err := db.Query(`SELECT name FROM users ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names, ","), "proxyadmin"; got != want {
		t.Errorf("users: got %q, want %q (no demo editor)", got, want)
	}

	admin := newClient(t, s.base)
	admin.adminSignIn("proxyadmin", "proxy-admin-password")
	resp, body := admin.do("GET", "/logout-proxy/system/sessions", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sessions page: status %d", resp.StatusCode)
	}
	refs := regexp.MustCompile(`(?:href|src)="(/[^"]*\.(?:css|js)(?:\?[^"]*)?)"`).FindAllStringSubmatch(body, -1)
	kinds := map[string]bool{}
	for _, ref := range refs {
		u := strings.ReplaceAll(ref[1], "&amp;", "&")
		if !strings.HasPrefix(u, "/logout-proxy/assets/") {
			t.Errorf("asset %s: not below /logout-proxy/assets/", u)
			continue
		}
		resp, b := admin.do("GET", u, nil)
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != 200 || b == "panel" || !(strings.Contains(ct, "css") || strings.Contains(ct, "javascript")) {
			t.Errorf("asset %s: status %d, type %q", u, resp.StatusCode, ct)
		}
		kinds[strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(u, "/logout-proxy/assets/"), "/", 2)[0], "/")] = true
	}
	if !kinds["app"] || !kinds["logout"] {
		t.Errorf("assets of the admin page: %v, want the app's and the widget's below /logout-proxy/assets/", refs)
	}
	// The panel keeps its own /assets/.
	for _, path := range []string{"/assets/app/app.css", "/assets/logout/x.js"} {
		if resp, b := admin.do("GET", path, nil); resp.StatusCode != 200 || b != "panel" {
			t.Errorf("%s: status %d, body %q; want the panel's", path, resp.StatusCode, b)
		}
		if _, ok := panelPaths.Load(path); !ok {
			t.Errorf("%s did not reach the panel", path)
		}
	}
}

// TestSecondInstance: two proxies share a Redis, PostgreSQL or MySQL store; a
// forced sign-out on one is in force on the other within 1 s.
func TestSecondInstance(t *testing.T) {
	tests := []struct {
		name string
		// stores returns a function that makes the store of one proxy
		// instance; every instance gets a connection of its own to the
		// same server and key space.
		stores func(t *testing.T) func() (logout.Store, error)
	}{
		{"Redis", func(t *testing.T) func() (logout.Store, error) {
			rc := redistest.Redis(t)
			prefix := redistest.RedisPrefix(t, rc)
			return func() (logout.Store, error) {
				return redisstore.New(redistest.RedisClient(t, redistest.RedisOptions(t)), redisstore.Options{Prefix: prefix})
			}
		}},
		{"PostgreSQL", func(t *testing.T) func() (logout.Store, error) {
			pool := pgtest.Postgres(t)
			schema := pgtest.PostgresSchema(t, pool)
			return func() (logout.Store, error) {
				p, err := pgxpool.NewWithConfig(context.Background(), pool.Config())
				if err != nil {
					return nil, err
				}
				t.Cleanup(p.Close)
				return pgstore.New(context.Background(), p, pgstore.Options{Schema: schema})
			}
		}},
		{"MySQL", func(t *testing.T) func() (logout.Store, error) {
			cfg := mysqltest.Config(t)
			prefix := mysqltest.Prefix(t, mysqltest.Open(t, cfg))
			return func() (logout.Store, error) {
				return mysqlstore.New(context.Background(), mysqltest.Open(t, cfg), mysqlstore.Options{Prefix: prefix})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newStore := tt.stores(t)
			dj := djangotest.Start(t)
			testSecondInstance(t, dj, newStore)
		})
	}
}

// testSecondInstance starts two proxies in front of dj, each on a store
// from newStore, signs in on the first, forces the user out on the first
// and polls the second until it refuses the session, failing after 1 s.
func testSecondInstance(t *testing.T, dj *djangotest.Django, newStore func() (logout.Store, error)) {
	var srvs [2]*httptest.Server
	var pxs [2]*proxy.Proxy
	for i := range srvs {
		st, err := newStore()
		if err != nil {
			t.Fatal(err)
		}
		px, err := proxy.New(st, proxy.Options{Upstream: dj.URL, Profile: proxy.Django()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { px.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		pxs[i], srvs[i] = px, httptest.NewServer(px)
		t.Cleanup(srvs[i].Close)
	}
	a := newClient(t, srvs[0].URL)
	a.djangoSignIn(dj.User, dj.Password)
	b := newClient(t, srvs[1].URL)
	u0, _ := url.Parse(srvs[0].URL)
	u1, _ := url.Parse(srvs[1].URL)
	b.c.Jar.SetCookies(u1, a.c.Jar.Cookies(u0))
	if resp, _ := b.do("GET", "/admin/", nil); resp.StatusCode != 200 {
		t.Fatalf("the second instance: status %d, want 200 for the session started on the first", resp.StatusCode)
	}
	t0 := time.Now()
	if _, err := pxs[0].Manager().ForceSignOut(context.Background(), logout.Selector{UserID: proxy.PanelUser(dj.User)}); err != nil {
		t.Fatal(err)
	}
	for {
		req, _ := http.NewRequest("GET", srvs[1].URL+"/admin/", nil)
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		for _, c := range b.c.Jar.Cookies(u1) {
			req.AddCookie(c)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther {
			t.Logf("the second instance refused the session %v after the forced sign-out", time.Since(t0))
			break
		}
		if time.Since(t0) > time.Second {
			t.Fatalf("the second instance still serves the session %v after a forced sign-out (status %d)", time.Since(t0), resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond) // polling for propagation, not crossing a timeout
	}
}

func TestDjangoInChromium(t *testing.T) {
	dj := djangotest.Start(t)
	br := browsertest.NewBrowser(t)
	s := start(t, dj.URL.String(), nil)
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true})
	tab.Do(chromedp.Navigate(s.base+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_username`)),
		chromedp.SendKeys(chromedp.CSS(`#id_username`), dj.User),
		chromedp.SendKeys(chromedp.CSS(`#id_password`), dj.Password),
		chromedp.Submit(chromedp.CSS(`#id_password`)))
	tab.Wait(10*time.Second, "the counter inside Django's user tools", `document.querySelector('#user-tools .logout-counter') !== null`)
	if txt := tab.Text(`#user-tools .logout-counter`); !strings.Contains(txt, ":") {
		t.Fatalf("counter text %q, want MM:SS", txt)
	}
	// Idle past the deadline (the server's clock): the next page load
	// lands on Django's sign-in page with the reason.
	s.clock.Advance(61 * time.Second)
	tab.Do(chromedp.Navigate(s.base + "/admin/auth/user/"))
	tab.Wait(10*time.Second, "the sign-out notice on Django's sign-in page",
		`(document.querySelector('.logout-proxy-notice')||{}).textContent === 'You have been logged out!' && document.querySelector('#id_username') !== null`)
	if loc := tab.Location(); !strings.Contains(loc, "/admin/login/") {
		t.Fatalf("location %q, want Django's sign-in page", loc)
	}
}

// TestDjangoCounterInChromium: in Chromium through the command, the
// counter follows the server's (fake) clock, activity in Django's admin
// resets it, and the warning dialog opens before the deadline, its "Stay
// signed in" extending the session on the server. The widget takes the
// server's time from each response, so advancing the fake clock and making
// the widget ask again moves what the page shows; nothing sleeps past a
// timeout.
func TestDjangoCounterInChromium(t *testing.T) {
	dj := djangotest.Start(t)
	br := browsertest.NewBrowser(t)
	s := start(t, dj.URL.String(), nil) // lifetime 60 s, warning 10 s before
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true})
	tab.Do(chromedp.Navigate(s.base+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_username`)),
		chromedp.SendKeys(chromedp.CSS(`#id_username`), dj.User),
		chromedp.SendKeys(chromedp.CSS(`#id_password`), dj.Password),
		chromedp.Submit(chromedp.CSS(`#id_password`)))

	// left is the counter's MM:SS in seconds; dialog the warning dialog.
	const (
		left   = `(() => { const [m, s] = document.querySelector('#user-tools .logout-counter').textContent.split(':'); return +m * 60 + +s; })()`
		dialog = `document.querySelector('.logout-dialog')`
	)
	tab.Wait(10*time.Second, "the counter at 1:00 after sign-in", `document.querySelector('#user-tools .logout-counter') !== null && `+left+` >= 55`)

	steps := []step{
		{"idle time on the server's clock shows", func(tab browsertest.Tab) {
			s.clock.Advance(30 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, left + ` <= 30 && ` + left + ` >= 25 && !` + dialog + `.open`},
		{"a click in Django's admin resets the counter", func(tab browsertest.Tab) {
			tab.Do(chromedp.Click(chromedp.CSS(`#content-main a[href$="/admin/auth/user/"]`)))
		}, `location.pathname === '/admin/auth/user/' && document.querySelector('#user-tools .logout-counter') !== null && ` + left + ` >= 55`},
		{"the warning opens before the deadline", func(tab browsertest.Tab) {
			s.clock.Advance(52 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, dialog + `.open && ` + left + ` > 0 && ` + left + ` <= 10 && /\d:\d\d/.test(document.querySelector('.logout-msg').textContent) && document.activeElement === document.querySelector('.logout-stay')`},
		{"Stay signed in extends the session", func(tab browsertest.Tab) {
			tab.Do(chromedp.Click(chromedp.CSS(`.logout-dialog .logout-stay`)))
		}, `!` + dialog + `.open && ` + left + ` >= 55`},
		// 107 s after the click, 55 s after "Stay signed in": the server
		// still has the session.
		{"the server kept the extended session", func(tab browsertest.Tab) {
			s.clock.Advance(55 * time.Second)
			tab.Do(chromedp.Navigate(s.base + "/admin/"))
		}, `location.pathname === '/admin/' && document.querySelector('#user-tools .logout-counter') !== null && ` + left + ` >= 55`},
	}
	runSteps(t, tab, steps)
}
