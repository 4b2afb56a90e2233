package logout_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gologout/logout"
)

func TestIsScript(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   bool
	}{
		{"plain page load", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, false},
		{"no headers at all", nil, false},
		{"navigation by Fetch Metadata", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "*/*"}, false},
		{"iframe load", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, false},
		{"fetch with Accept */*", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"}, true},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Mode": "same-origin", "Accept": "*/*"}, true},
		{"XMLHttpRequest with Accept */*", map[string]string{"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}, true},
		{"JSON Accept without Fetch Metadata", map[string]string{"Accept": "application/json"}, true},
		{"problem+json Accept", map[string]string{"Accept": "application/problem+json"}, true},
		{"Accept naming HTML and JSON is a page", map[string]string{"Accept": "text/html, application/json"}, false},
		{"document destination beats X-Requested-With", map[string]string{"X-Requested-With": "XMLHttpRequest", "Sec-Fetch-Dest": "document"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://app.example/backend/api", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := logout.IsScript(r); got != tt.want {
				t.Fatalf("IsScript = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRequire: a backend request without a session is answered exactly as
// an ended one: the same 303 for pages, the same JSON shape for scripts.
func TestRequire(t *testing.T) {
	e := newEnv(t, logout.Options{})
	guarded := e.m.Handler(e.m.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := logout.FromContext(r.Context())
		w.Write([]byte("user=" + s.UserID))
	})))
	do := func(c *http.Cookie, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://app.example/backend/page?x=1", nil)
		r.Header.Set("Referer", "http://app.example/backend/dashboard")
		for k, v := range header {
			r.Header.Set(k, v)
		}
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		guarded.ServeHTTP(w, r)
		return w
	}
	script := map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}

	if w := do(nil, nil); w.Code != 303 || w.Header().Get("Location") != "/backend/auth/signin?return=%2Fbackend%2Fpage%3Fx%3D1" {
		t.Fatalf("anonymous page: %d %q", w.Code, w.Header().Get("Location"))
	}
	anon := do(nil, script)
	if anon.Code != 401 || anon.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("anonymous script: %d %v", anon.Code, anon.Header())
	}
	c := e.signIn("alice")
	if w := do(c, nil); w.Code != 200 || w.Body.String() != "user=alice" {
		t.Fatalf("signed in: %d %q", w.Code, w.Body)
	}
	e.clock.Advance(900 * time.Second)
	ended := do(c, script)
	if ended.Code != 401 {
		t.Fatalf("ended script: %d", ended.Code)
	}
	a, b := decodeJSON(t, anon), decodeJSON(t, ended)
	if b["reason"] != "idle" || a["reason"] != nil {
		t.Fatalf("reasons: anonymous %v, ended %v", a["reason"], b["reason"])
	}
	delete(b, "reason")
	for _, k := range []string{"signed_in", "server_time", "message", "sign_in_url"} {
		if _, ok := a[k]; !ok {
			t.Errorf("anonymous 401 lacks %q: %v", k, a)
		}
	}
	if len(a) != len(b) {
		t.Errorf("anonymous 401 %v and ended 401 %v differ in shape", a, b)
	}
	if a["sign_in_url"] != "/backend/auth/signin?return=%2Fbackend%2Fdashboard" {
		t.Errorf("anonymous sign_in_url %v, want the page that sent the script as return path", a["sign_in_url"])
	}
}

func TestUnavailableAnswers(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	e.store.down.Store(true)
	for _, tt := range []struct {
		name   string
		header map[string]string
	}{{"page", nil}, {"script", map[string]string{"Sec-Fetch-Mode": "cors"}}} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(5 * time.Second) // past the sync interval and any shared failure
			w := e.do(req{path: "/backend", cookie: c, header: tt.header})
			if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %v", w.Code, w.Header())
			}
		})
	}
}

func TestSignOutClearsSiteData(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts logout.Options
		want string
	}{
		{"default: the cache, and the session's own cookie", logout.Options{}, `"cache"`},
		{"ClearSiteCookies: every cookie of the domain", logout.Options{ClearSiteCookies: true}, `"cache", "cookies"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			for _, script := range []bool{false, true} {
				c := e.signIn("alice")
				q := req{method: "POST", path: "/backend/session/signout", cookie: c, body: "csrf_token=" + url.QueryEscape(e.csrf(c))}
				if script {
					q.header = map[string]string{"Sec-Fetch-Mode": "cors"}
				}
				w := e.do(q)
				if got := w.Header().Get("Clear-Site-Data"); got != tc.want {
					t.Fatalf("script=%v: %d, Clear-Site-Data %q, want %q", script, w.Code, got, tc.want)
				}
				expired := false
				for _, ck := range w.Result().Cookies() {
					expired = expired || (strings.HasSuffix(ck.Name, "logout_session") && ck.MaxAge < 0)
				}
				if !expired {
					t.Errorf("script=%v: the session cookie is not expired: %q", script, w.Header().Values("Set-Cookie"))
				}
			}
		})
	}
}

// TestFrontendSkipsAFailingStore: once the store is known to be failing,
// front-end requests of a visitor with a session cookie are served
// anonymously without asking it (a hanging store would make each wait a
// store timeout); a background probe finds out when it answers again.
func TestFrontendSkipsAFailingStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, logout.NewMemoryStore(), logout.Options{})
		c := e.signIn("alice")
		e.store.down.Store(true)
		time.Sleep(time.Second)
		if w := e.do(req{path: "/", cookie: c}); w.Body.String() != "anonymous" {
			t.Fatalf("first front-end request in the outage: %q", w.Body)
		}
		before := e.store.reads.Load()
		for range 50 {
			time.Sleep(10 * time.Millisecond) // 500 ms in all: one sync interval, one probe at most
			if w := e.do(req{path: "/", cookie: c}); w.Code != 200 || w.Body.String() != "anonymous" || len(w.Result().Cookies()) != 0 {
				t.Fatalf("front end during outage: %d %q %v", w.Code, w.Body, w.Result().Cookies())
			}
		}
		synctest.Wait() // the probe has finished
		if n := e.store.reads.Load() - before; n != 1 {
			t.Fatalf("%d store reads for 50 front-end requests within one sync interval of a known outage, want 1 (the probe)", n)
		}
		if w := e.do(req{path: "/backend", cookie: c}); w.Code != 503 {
			t.Fatalf("backend during outage: %d, want 503", w.Code)
		}
		e.store.down.Store(false)
		time.Sleep(time.Second) // a sync interval after the last probe: the next request starts one
		if w := e.do(req{path: "/", cookie: c}); w.Body.String() != "anonymous" {
			t.Fatalf("front end before the probe answered: %q, want anonymous", w.Body)
		}
		synctest.Wait() // the probe has seen the store answer
		if w := e.do(req{path: "/", cookie: c}); w.Body.String() != "user=alice" {
			t.Fatalf("front end after a probe saw the store answer: %q, want user=alice", w.Body)
		}
		if len(e.events()) != 0 {
			t.Fatalf("outage ended sessions: %+v", e.events())
		}
	})
}

// slowTouches blocks TouchSession while block is set, as a store under
// load does.
type slowTouches struct {
	logout.Store
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *slowTouches) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	if s.block.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.TouchSession(ctx, id, seen, deadline)
}

// TestBusyEntryStillWrites: a request whose activity is due to be written
// while another request of the same session holds the store connection
// (a slow write) is neither made to wait nor lost: the holder writes it.
func TestBusyEntryStillWrites(t *testing.T) {
	store := &slowTouches{Store: logout.NewMemoryStore(), entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnvStore(t, store, logout.Options{TouchInterval: time.Second, SyncInterval: time.Hour})
	c := e.signIn("alice")
	e.clock.Advance(2 * time.Second)
	store.block.Store(true)
	first := make(chan int)
	go func() { first <- e.do(req{path: "/backend", cookie: c}).Code }()
	<-store.entered // the first request's write is in the store
	e.clock.Advance(1500 * time.Millisecond)
	last := e.clock.Now()
	second := make(chan int)
	go func() { second <- e.do(req{path: "/backend", cookie: c}).Code }()
	select {
	case code := <-second:
		if code != 200 {
			t.Fatalf("second request: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second request waited for the first one's store write")
	}
	close(store.release)
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	list, err := e.m.Sessions(t.Context(), logout.ListOptions{UserID: "alice"})
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions %v %v", list, err)
	}
	got, err := store.Store.Session(t.Context(), list[0].ID)
	if err != nil || !got.LastSeen.Equal(last) {
		t.Fatalf("stored activity %v (%v), want the second request's %v", got.LastSeen, err, last)
	}
}

// TestSharedStoreBounds checks the rule of a shared store under
// concurrent load: another instance ends an idle session at most one
// touch interval before its deadline, never after. Run it with
// -race -count=20.
func TestSharedStoreBounds(t *testing.T) {
	const touch = 100 * time.Millisecond
	store := &jitterStore{Store: logout.NewMemoryStore()}
	opts := logout.Options{TouchInterval: touch, SyncInterval: 50 * time.Millisecond}
	a := newEnvStore(t, store, opts)
	opts.Clock = a.clock
	b := newEnvStore(t, store, opts)
	c := a.signIn("alice")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last time.Time
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				a.clock.Advance(time.Duration(rng.IntN(30)) * time.Millisecond)
				h := map[string]string{}
				if rng.IntN(3) == 0 {
					h[logout.HeaderPassive] = "1" // the widget's polling
				}
				at := a.clock.Now()
				if w := a.do(req{path: "/backend", cookie: c, header: h}); w.Code != 200 {
					t.Errorf("A: %d", w.Code)
					return
				}
				if h[logout.HeaderPassive] == "" {
					mu.Lock()
					if at.After(last) {
						last = at
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	deadline := last.Add(logout.DefaultLifetime)
	// B has the session cached; jump to one touch interval before the
	// deadline: B must still serve it (read from the store).
	a.clock.Advance(deadline.Sub(a.clock.Now()) - touch)
	if w := b.do(req{path: "/backend", cookie: c, header: map[string]string{logout.HeaderPassive: "1"}}); w.Code != 200 {
		t.Fatalf("B ended the session more than one touch interval (%v) before its deadline: %d %q", touch, w.Code, w.Header().Get("Location"))
	}
	a.clock.Advance(touch)
	if w := b.do(req{path: "/backend", cookie: c}); w.Code != 303 {
		t.Fatalf("B at the deadline: %d, want 303 (never late)", w.Code)
	}
}

// jitterStore yields the processor inside writes and reads, so that
// requests interleave with store calls as they do under load.
type jitterStore struct{ logout.Store }

func (s *jitterStore) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	for range 3 {
		runtime.Gosched()
	}
	return s.Store.TouchSession(ctx, id, seen, deadline)
}

func (s *jitterStore) Session(ctx context.Context, id string) (logout.Session, error) {
	runtime.Gosched()
	return s.Store.Session(ctx, id)
}
