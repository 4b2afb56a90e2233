package logout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// faultyStore counts writes and can be switched off like a store outage.
type faultyStore struct {
	logout.Store
	down    atomic.Bool
	touches atomic.Int64
	reads   atomic.Int64 // Session and Settings calls
}

var errDown = errors.New("connection refused")

func (s *faultyStore) fail() error {
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *faultyStore) Session(ctx context.Context, id string) (logout.Session, error) {
	s.reads.Add(1)
	if err := s.fail(); err != nil {
		return logout.Session{}, err
	}
	return s.Store.Session(ctx, id)
}

func (s *faultyStore) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	s.touches.Add(1)
	return s.Store.TouchSession(ctx, id, seen, deadline)
}

func (s *faultyStore) Settings(ctx context.Context) (logout.Settings, error) {
	s.reads.Add(1)
	if err := s.fail(); err != nil {
		return logout.Settings{}, err
	}
	return s.Store.Settings(ctx)
}

func (s *faultyStore) EndSessions(ctx context.Context, sel logout.Selector, r logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.EndSessions(ctx, sel, r, at)
}

func (s *faultyStore) Event(ctx context.Context, id string) (logout.Event, error) {
	if err := s.fail(); err != nil {
		return logout.Event{}, err
	}
	return s.Store.Event(ctx, id)
}

// env is a Manager behind its middleware with a test application.
type env struct {
	t     *testing.T
	clock *fakeclock.Clock
	store *faultyStore
	m     *logout.Manager
	h     http.Handler
	logs  *bytes.Buffer
	ended []logout.Event
	mu    sync.Mutex
}

func newEnv(t *testing.T, opts logout.Options) *env {
	return newEnvStore(t, logout.NewMemoryStore(), opts)
}

// newBubbleEnv is newEnvStore for a test in a synctest bubble: the
// Manager keeps the default clock, logout.SystemClock, which in the
// bubble is the bubble's, as are the timers of Manager.Run and the
// store calls' timeouts. Move it with time.Sleep; e.clock is not used.
func newBubbleEnv(t *testing.T, store logout.Store, opts logout.Options) *env {
	t.Helper()
	opts.Clock = logout.SystemClock{}
	return newEnvStore(t, store, opts)
}

// newEnvStore is an env on store. Its Manager's clock is opts.Clock, by
// default a new fake clock; e.clock is that clock when it is a fake one
// (another env's, for two instances on one clock).
func newEnvStore(t *testing.T, store logout.Store, opts logout.Options) *env {
	t.Helper()
	e := &env{t: t, clock: fakeclock.New(), store: &faultyStore{Store: store}, logs: new(bytes.Buffer)}
	if c, ok := opts.Clock.(*fakeclock.Clock); ok {
		e.clock = c
	}
	if opts.Clock == nil {
		opts.Clock = e.clock
	}
	opts.Logger = slog.New(slog.NewTextHandler(lockedWriter{w: e.logs, mu: &e.mu}, nil))
	opts.OnSignOut = func(_ context.Context, ev logout.Event) {
		e.mu.Lock()
		e.ended = append(e.ended, ev)
		e.mu.Unlock()
	}
	m, err := logout.New(e.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.SignIn(w, r, logout.User{ID: r.FormValue("user"), Name: r.FormValue("name"), Roles: r.Form["role"]}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /backend/auth/signout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.SignOut(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := logout.FromContext(r.Context()); ok {
			io.WriteString(w, "user="+s.UserID)
			return
		}
		io.WriteString(w, "anonymous")
	})
	mux.Handle("/backend/session/", m.Endpoints())
	e.h = m.Handler(mux)
	return e
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (e *env) events() []logout.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]logout.Event(nil), e.ended...)
}

// req describes one request.
type req struct {
	method, path string
	cookie       *http.Cookie
	header       map[string]string
	body         string
}

func (e *env) do(q req) *httptest.ResponseRecorder {
	e.t.Helper()
	if q.method == "" {
		q.method = http.MethodGet
	}
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, "http://app.example"+q.path, body)
	if q.body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if q.cookie != nil {
		r.AddCookie(q.cookie)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// signIn signs user in and returns the session cookie.
func (e *env) signIn(user string, roles ...string) *http.Cookie {
	e.t.Helper()
	body := "user=" + user
	for _, r := range roles {
		body += "&role=" + r
	}
	w := e.do(req{method: "POST", path: "/backend/auth/signin", body: body})
	if w.Code != http.StatusOK {
		e.t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if strings.HasSuffix(c.Name, "logout_session") && c.Value != "" {
			return c
		}
	}
	e.t.Fatalf("sign in set no session cookie: %v", w.Result().Cookies())
	return nil
}

func (e *env) csrf(c *http.Cookie) string {
	e.t.Helper()
	var token string
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { token = e.m.CSRFToken(r) }))
	r := httptest.NewRequest("GET", "http://app.example/backend", nil)
	r.Header.Set(logout.HeaderPassive, "1")
	r.AddCookie(c)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if token == "" {
		e.t.Fatal("no CSRF token for a signed-in session")
	}
	return token
}

func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body, err)
	}
	return v
}
