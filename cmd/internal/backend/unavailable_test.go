package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// outageStore is a memory store whose session calls fail while down.
type outageStore struct {
	*logout.MemoryStore
	down *atomic.Bool
}

var errOutage = errors.New("connection refused")

func (s outageStore) Session(ctx context.Context, id string) (logout.Session, error) {
	if s.down.Load() {
		return logout.Session{}, errOutage
	}
	return s.MemoryStore.Session(ctx, id)
}

func (s outageStore) CreateSession(ctx context.Context, x logout.Session) error {
	if s.down.Load() {
		return errOutage
	}
	return s.MemoryStore.CreateSession(ctx, x)
}

func (s outageStore) CountSessions(ctx context.Context, o logout.ListOptions) (int, error) {
	if s.down.Load() {
		return 0, errOutage
	}
	return s.MemoryStore.CountSessions(ctx, o)
}

// An outageAnswer is what a 503 of a store outage says.
type outageAnswer struct {
	status                   int
	retryAfter, contentType  string
	message                  string // the page's text, or the JSON's "message"
	unavailable, noSignedOut bool   // the JSON's "unavailable" and whether "signed_in" is false
}

func readOutage(t *testing.T, res *http.Response) outageAnswer {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := outageAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), contentType: res.Header.Get("Content-Type")}
	if !strings.HasPrefix(a.contentType, "application/json") {
		a.message = strings.TrimSpace(string(b))
		return a
	}
	var v struct {
		Message     string `json:"message"`
		Unavailable bool   `json:"unavailable"`
		SignedIn    *bool  `json:"signed_in"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	a.message, a.unavailable, a.noSignedOut = v.Message, v.Unavailable, v.SignedIn != nil && !*v.SignedIn
	return a
}

// TestUnavailableSame: a store outage's 503 reads the same from the
// Manager's middleware, from a backend page's own store call and from
// logout-proxy's sign-in (logout.Manager.Unavailable): one status, one
// Retry-After, one JSON shape for scripts, one English wording.
func TestUnavailableSame(t *testing.T) {
	script := http.Header{"Accept": {"application/json"}, "Sec-Fetch-Mode": {"cors"}}

	// The Manager's middleware, with the built-in answer.
	managerScript := func(t *testing.T) outageAnswer {
		down := new(atomic.Bool)
		clock := fakeclock.New()
		m, err := logout.New(outageStore{logout.NewMemoryStore(), down}, logout.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/signin" {
				if _, err := m.SignIn(w, r, logout.User{ID: "u"}); err != nil {
					t.Error(err)
				}
			}
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/signin", nil))
		down.Store(true)
		clock.Advance(time.Minute) // past the cache's SyncInterval
		req := httptest.NewRequest(http.MethodGet, "/backend/stats", nil)
		req.Header = script.Clone()
		for _, c := range w.Result().Cookies() {
			req.AddCookie(c)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return readOutage(t, w.Result())
	}

	// A backend page whose own store call fails (a.internal).
	backendScript := func(t *testing.T) outageAnswer {
		down := new(atomic.Bool)
		e := startWith(t, false, func(c *backend.Config) { c.Store = outageStore{logout.NewMemoryStore(), down} })
		c := e.client()
		c.mustSignIn("admin", adminPassword)
		c.header = script.Clone()
		down.Store(true) // the session is cached: the middleware lets it through, the stats' count fails
		r := c.get("/backend/api/stats")
		return readOutage(t, &http.Response{StatusCode: r.StatusCode, Header: r.Header, Body: io.NopCloser(strings.NewReader(r.body))})
	}

	// logout-proxy's sign-in, whose session cannot be started.
	proxySignIn := func(t *testing.T) outageAnswer {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
		}))
		defer up.Close()
		u, _ := url.Parse(up.URL)
		down := new(atomic.Bool)
		down.Store(true)
		p, err := proxy.New(outageStore{logout.NewMemoryStore(), down}, proxy.Options{Upstream: u, Profile: proxy.Django(),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/admin/login/", strings.NewReader("username=u&password=p"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		return readOutage(t, w.Result())
	}

	want := outageAnswer{status: http.StatusServiceUnavailable, retryAfter: "5", contentType: "application/json; charset=utf-8",
		unavailable: true, noSignedOut: true}
	mgr := managerScript(t)
	if mgr.message == "" {
		t.Fatalf("the Manager's 503 has no message: %+v", mgr)
	}
	want.message = mgr.message
	for _, tc := range []struct {
		name string
		got  outageAnswer
	}{{"manager", mgr}, {"backend", backendScript(t)}} {
		if tc.got != want {
			t.Errorf("%s: got %+v, want %+v", tc.name, tc.got, want)
		}
	}
	// The admin API: its own error body, the same status and Retry-After.
	down := new(atomic.Bool)
	e := startWith(t, false, func(c *backend.Config) { c.Store = outageStore{logout.NewMemoryStore(), down} })
	_, token, err := e.app.CreateToken(t.Context(), "reader", backend.ScopeRead, 0)
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/backend/api/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != want.status || res.Header.Get("Retry-After") != want.retryAfter || body.Error == "" {
		t.Errorf("API: got %d with Retry-After %q and error %q, want %d with %q and an error",
			res.StatusCode, res.Header.Get("Retry-After"), body.Error, want.status, want.retryAfter)
	}

	// The sign-in form is a page load: the same words as plain text.
	want.contentType, want.unavailable, want.noSignedOut = "text/plain; charset=utf-8", false, false
	if got := proxySignIn(t); got != want {
		t.Errorf("proxy: got %+v, want %+v", got, want)
	}
}
