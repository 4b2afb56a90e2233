package scaletest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/internal/servicetest"
	"github.com/gologout/logout/settingsform"
)

const (
	adminPassword  = "admin-password-1"
	editorPassword = "editor-password-1"
	editorRole     = backend.RoleEditor
	settingsPath   = "/backend/system/settings/user-session"
	sessionsPath   = "/backend/system/sessions"
)

// An instance is one reference backend, as one process behind a load
// balancer: its own App, Manager and store client, on the shared data
// directory and store.
type instance struct {
	name string
	app  *backend.App
	srv  *httptest.Server
}

// startInstances starts n instances named A, B, C… on one new data
// directory, each on its own Store from newStore, with the Manager's
// options opts, each with its Run loop (sweeper and watcher) going. They
// stop when the test ends; their warnings and errors are shown if it
// failed.
func startInstances(t *testing.T, n int, newStore func(t *testing.T) logout.Store, opts logout.Options) []*instance {
	t.Helper()
	dir := t.TempDir()
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("instance logs (warnings and errors, last 40):\n%s", logs.tail(40))
		}
	})
	var out []*instance
	for i := range n {
		name := string(rune('A' + i))
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})).With("instance", name)
		app, err := backend.New(t.Context(), backend.Config{
			DataDir: dir, Store: newStore(t), BcryptCost: bcrypt.MinCost,
			AdminPassword: adminPassword, EditorPassword: editorPassword,
			Logger: logger, Logout: opts,
		})
		if err != nil {
			t.Fatalf("instance %s: backend.New: %v", name, err)
		}
		in := &instance{name: name, app: app, srv: httptest.NewServer(app.Handler())}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		t.Cleanup(func() {
			in.srv.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("instance %s: Run: %v", name, err)
			}
			if err := app.Close(); err != nil {
				t.Errorf("instance %s: Close: %v", name, err)
			}
		})
		out = append(out, in)
	}
	return out
}

// logBuffer keeps log lines for a failing test; it outlives the test,
// so that late writes from background goroutines are harmless.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// A browser keeps its cookies across instances, as one browser behind a
// load balancer does: cookies are per host, and the instances share
// 127.0.0.1. It does not follow redirects.
type browser struct {
	t    *testing.T
	jar  *cookiejar.Jar
	http *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, jar: jar, http: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// A response is a read response with the times it was sent and read.
type response struct {
	in         *instance
	path       string
	code       int
	header     http.Header
	body       string
	sent, done time.Time
}

// jsonAccept marks a request as a script's.
var jsonAccept = http.Header{"Accept": {"application/json"}}

func (b *browser) do(in *instance, method, path string, form url.Values, h http.Header) response {
	b.t.Helper()
	r, err := b.try(in, method, path, form, h)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// try is do for other goroutines than the test's: it returns the error.
func (b *browser) try(in *instance, method, path string, form url.Values, h http.Header) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, in.srv.URL+path, body)
	if err != nil {
		return response{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r := response{in: in, path: path, sent: time.Now()}
	res, err := b.http.Do(req)
	if err != nil {
		return r, fmt.Errorf("%s %s on %s: %w", method, path, in.name, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return r, fmt.Errorf("%s %s on %s: %w", method, path, in.name, err)
	}
	r.code, r.header, r.body, r.done = res.StatusCode, res.Header, string(data), time.Now()
	return r, nil
}

func (b *browser) get(in *instance, path string, h http.Header) response {
	b.t.Helper()
	return b.do(in, http.MethodGet, path, nil, h)
}

func (b *browser) post(in *instance, path string, form url.Values) response {
	b.t.Helper()
	return b.do(in, http.MethodPost, path, form, nil)
}

var (
	csrfField    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	versionField = regexp.MustCompile(`name="version" value="(\d+)"`)
)

func field(t *testing.T, re *regexp.Regexp, r response) string {
	t.Helper()
	m := re.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("GET %s on %s (%d): no %s in the page:\n%.2000s", r.path, r.in.name, r.code, re, r.body)
	}
	return m[1]
}

// signIn signs in through the form of one instance.
func (b *browser) signIn(in *instance, user, password string) {
	b.t.Helper()
	page := b.get(in, "/backend/auth/signin", nil)
	form := url.Values{"csrf_token": {field(b.t, csrfField, page)}, "username": {user}, "password": {password}}
	r := b.post(in, "/backend/auth/signin", form)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/backend" {
		b.t.Fatalf("sign in %s on %s: got %d to %q, want 303 to /backend", user, in.name, r.code, r.header.Get("Location"))
	}
}

// clone returns a second browser with the same cookies, so that one
// that is told to drop its session cookie does not blind the other.
func (b *browser) clone(in *instance) *browser {
	b.t.Helper()
	c := newBrowser(b.t)
	u, _ := url.Parse(in.srv.URL)
	c.jar.SetCookies(u, b.jar.Cookies(u))
	return c
}

// sessionID returns the ID of the browser's session: the hex SHA-256 of
// its cookie's token, as [logout.Session.ID] says.
func (b *browser) sessionID(in *instance) string {
	b.t.Helper()
	u, _ := url.Parse(in.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "logout_session" {
			tok, err := base64.RawURLEncoding.DecodeString(c.Value)
			if err != nil {
				b.t.Fatalf("session cookie %q: %v", c.Value, err)
			}
			sum := sha256.Sum256(tok)
			return hex.EncodeToString(sum[:])
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

// A status is the answer of the session status endpoint, which never
// extends the session.
type status struct {
	response
	SignedIn    bool   `json:"signed_in"`
	Deadline    int64  `json:"deadline"`    // Unix ms
	ServerTime  int64  `json:"server_time"` // Unix ms
	Lifetime    int64  `json:"lifetime"`    // s
	Reason      string `json:"reason"`
	Unavailable bool   `json:"unavailable"`
}

func (b *browser) status(in *instance) status {
	b.t.Helper()
	s := status{response: b.get(in, "/backend/session/status", jsonAccept)}
	if err := json.Unmarshal([]byte(s.body), &s); err != nil {
		b.t.Fatalf("status on %s (%d): %v\n%s", in.name, s.code, err, s.body)
	}
	return s
}

// deadline returns the Logout-Deadline header in Unix ms, or 0.
func (r response) deadline() int64 {
	n, _ := strconv.ParseInt(r.header.Get(logout.HeaderDeadline), 10, 64)
	return n
}

// saveSettings saves s through the settings form of one instance.
func (b *browser) saveSettings(in *instance, s logout.Settings) response {
	b.t.Helper()
	page := b.get(in, settingsPath, nil)
	form := settingsform.Values(s)
	form.Set("csrf_token", field(b.t, csrfField, page))
	form.Set("version", field(b.t, versionField, page))
	r := b.post(in, settingsPath, form)
	if r.code != http.StatusSeeOther {
		b.t.Fatalf("save settings on %s: got %d, want 303\n%.2000s", in.name, r.code, r.body)
	}
	return r
}

// forceSignOut signs a session out from the sessions page of one instance.
func (b *browser) forceSignOut(in *instance, id string) response {
	b.t.Helper()
	page := b.get(in, sessionsPath, nil)
	form := url.Values{"csrf_token": {field(b.t, csrfField, page)}, "scope": {"session"}, "id": {id}}
	r := b.post(in, sessionsPath+"/signout", form)
	if r.code != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "n=1") {
		b.t.Fatalf("force sign-out on %s: got %d to %q, want 303 with n=1", in.name, r.code, r.header.Get("Location"))
	}
	return r
}

// waitListening waits until every instance's Manager listens to the
// store's changes, so that none is missed.
func waitListening(t *testing.T, b *backing, n int, d time.Duration) {
	t.Helper()
	servicetest.Within(t, d, "every instance listens to the store's changes", func() bool { return b.listeners(t) >= n })
}
