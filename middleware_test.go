package logout_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

func TestMiddlewareTimeouts(t *testing.T) {
	xhr := map[string]string{"Accept": "application/json"}
	tests := []struct {
		name     string
		settings func(*logout.Settings)
		roles    []string
		steps    []time.Duration // activity (backend GETs) after these gaps
		wait     time.Duration   // then idle this long
		path     string
		header   map[string]string
		code     int
		location string // prefix of Location
		body     string
		reason   logout.Reason // ended with, 0 if alive
	}{
		{name: "alive just before the deadline", wait: 900*time.Second - time.Microsecond, path: "/backend/x", code: 200, body: "user=alice"},
		{name: "page at the deadline is redirected", wait: 900 * time.Second, path: "/backend/x?a=1", code: 303,
			location: "/backend/auth/signin?reason=idle&return=%2Fbackend%2Fx%3Fa%3D1", reason: logout.ReasonIdle},
		{name: "script at the deadline gets 401", wait: 901 * time.Second, path: "/backend/api", header: xhr, code: 401, reason: logout.ReasonIdle},
		{name: "fetch by Sec-Fetch-Mode gets 401", wait: 901 * time.Second, path: "/backend/api", header: map[string]string{"Sec-Fetch-Mode": "cors"}, code: 401, reason: logout.ReasonIdle},
		{name: "XMLHttpRequest header gets 401", wait: 901 * time.Second, path: "/backend/api", header: map[string]string{"X-Requested-With": "XMLHttpRequest"}, code: 401, reason: logout.ReasonIdle},
		{name: "front end after timeout is served anonymously", wait: 2000 * time.Second, path: "/", code: 200, body: "anonymous", reason: logout.ReasonIdle},
		{name: "front end while alive sees the user", wait: 10 * time.Second, path: "/news", code: 200, body: "user=alice"},
		{name: "activity moves the deadline", steps: []time.Duration{800 * time.Second, 800 * time.Second}, wait: 899 * time.Second, path: "/backend", code: 200, body: "user=alice"},
		{name: "absolute limit ends an active session", settings: func(s *logout.Settings) { s.AbsoluteLifetime = 1000 * time.Second },
			steps: []time.Duration{500 * time.Second, 400 * time.Second}, wait: 100 * time.Second, path: "/backend", code: 303,
			location: "/backend/auth/signin?reason=absolute", reason: logout.ReasonAbsolute},
		{name: "shortest role lifetime applies", settings: func(s *logout.Settings) {
			s.RoleLifetimes = map[string]time.Duration{"editor": 300 * time.Second, "admin": 600 * time.Second}
		}, roles: []string{"admin", "editor"}, wait: 300 * time.Second, path: "/backend", code: 303, reason: logout.ReasonIdle},
		{name: "role lifetime longer than global", settings: func(s *logout.Settings) {
			s.RoleLifetimes = map[string]time.Duration{"admin": 1800 * time.Second}
		}, roles: []string{"admin"}, wait: 1000 * time.Second, path: "/backend", code: 200, body: "user=alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{})
			if tt.settings != nil {
				s := logout.DefaultSettings()
				tt.settings(&s)
				if _, err := e.m.UpdateSettings(t.Context(), s, "test"); err != nil {
					t.Fatal(err)
				}
			}
			c := e.signIn("alice", tt.roles...)
			for _, d := range tt.steps {
				e.clock.Advance(d)
				if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 {
					t.Fatalf("activity after %v: %d", d, w.Code)
				}
			}
			e.clock.Advance(tt.wait)
			w := e.do(req{path: tt.path, cookie: c, header: tt.header})
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.code, w.Body)
			}
			if tt.location != "" && !strings.HasPrefix(w.Header().Get("Location"), tt.location) {
				t.Fatalf("Location %q, want prefix %q", w.Header().Get("Location"), tt.location)
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Fatalf("body %q, want %q", w.Body, tt.body)
			}
			if tt.code == 401 {
				v := decodeJSON(t, w)
				if v["reason"] != tt.reason.String() || v["signed_in"] != false || !strings.HasPrefix(v["sign_in_url"].(string), "/backend/auth/signin?reason=") {
					t.Fatalf("401 body %v", v)
				}
			}
			evs := e.events()
			if tt.reason == 0 {
				if len(evs) != 0 {
					t.Fatalf("session ended: %+v", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Reason != tt.reason || evs[0].UserID != "alice" {
				t.Fatalf("sign-outs %+v, want one %v of alice", evs, tt.reason)
			}
			if strings.HasPrefix(tt.path, "/backend") || tt.path == "/" {
				if got := e.do(req{path: "/backend", cookie: c}); got.Code != 303 {
					t.Fatalf("next request after end: %d, want 303", got.Code)
				}
			}
			if cleared := w.Result().Cookies(); len(cleared) != 1 || cleared[0].MaxAge >= 0 {
				t.Fatalf("cookie not cleared: %v", cleared)
			}
		})
	}
}

func TestBackendHeaders(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	e.clock.Advance(100 * time.Second)
	w := e.do(req{path: "/backend/page", cookie: c})
	now := e.clock.Now()
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", got)
	}
	if got, want := w.Header().Get(logout.HeaderDeadline), strconv.FormatInt(now.Add(900*time.Second).UnixMilli(), 10); got != want {
		t.Fatalf("deadline header %q, want %q", got, want)
	}
	if got, want := w.Header().Get(logout.HeaderServerTime), strconv.FormatInt(now.UnixMilli(), 10); got != want {
		t.Fatalf("server time header %q, want %q", got, want)
	}
	front := e.do(req{path: "/", cookie: c})
	if front.Header().Get(logout.HeaderDeadline) != "" || front.Header().Get("Cache-Control") != "" {
		t.Fatalf("front-end response got backend headers: %v", front.Header())
	}
}

// TestEndingAnswersHeaders checks that an answer that ends its session
// does not describe it as alive: a sign-out's carries no deadline, and a
// sign-in's the new session's.
func TestEndingAnswersHeaders(t *testing.T) {
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	for _, tt := range []struct {
		name string
		q    func(e *env, c *http.Cookie) req
		code int
		want func(now time.Time) string // the answer's deadline; "" for none
	}{
		{"sign-out endpoint, a page's form", func(e *env, c *http.Cookie) req {
			return req{method: "POST", path: "/backend/session/signout", body: "csrf_token=" + url.QueryEscape(e.csrf(c))}
		}, 303, nil},
		{"sign-out endpoint, a script", func(e *env, c *http.Cookie) req {
			return req{method: "POST", path: "/backend/session/signout", header: map[string]string{logout.HeaderCSRF: e.csrf(c), "Accept": "application/json"}}
		}, 200, nil},
		{"the app's sign-out, Manager.SignOut", func(e *env, c *http.Cookie) req {
			return req{method: "POST", path: "/backend/auth/signout"}
		}, 200, nil},
		{"a sign-in over the live session: the new one's", func(e *env, c *http.Cookie) req {
			return req{method: "POST", path: "/backend/auth/signin", body: "user=alice&role=editor"}
		}, 200, func(now time.Time) string { return ms(now.Add(300 * time.Second)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{})
			set := logout.DefaultSettings()
			set.RoleLifetimes = map[string]time.Duration{"editor": 300 * time.Second}
			if _, err := e.m.UpdateSettings(t.Context(), set, "test"); err != nil {
				t.Fatal(err)
			}
			c := e.signIn("alice")
			e.clock.Advance(100 * time.Second)
			q := tt.q(e, c)
			q.cookie = c
			w := e.do(q)
			if w.Code != tt.code {
				t.Fatalf("got %d, want %d (%s)", w.Code, tt.code, w.Body)
			}
			want := ""
			if tt.want != nil {
				want = tt.want(e.clock.Now())
			}
			if got := w.Header().Get(logout.HeaderDeadline); got != want {
				t.Errorf("%s: got %q, want %q (the ended session's: %s)", logout.HeaderDeadline, got, want, ms(e.clock.Now().Add(900*time.Second)))
			}
			if evs := e.events(); len(evs) != 1 {
				t.Errorf("sessions ended: got %d, want 1", len(evs))
			}
		})
	}
}

func TestPassiveAndFrontendActivity(t *testing.T) {
	tests := []struct {
		name     string
		frontend bool
		q        req
		extends  bool
	}{
		{"backend request extends", false, req{path: "/backend/x"}, true},
		{"passive header does not extend", false, req{path: "/backend/x", header: map[string]string{logout.HeaderPassive: "1"}}, false},
		{"status endpoint is passive", false, req{path: "/backend/session/status"}, false},
		{"configured passive path", false, req{path: "/backend/poll"}, false},
		{"front end does not extend by default", false, req{path: "/"}, false},
		{"front end extends when configured", true, req{path: "/"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{PassivePaths: []string{"/backend/poll"}})
			if tt.frontend {
				s := logout.DefaultSettings()
				s.FrontendActivity = true
				if _, err := e.m.UpdateSettings(t.Context(), s, "test"); err != nil {
					t.Fatal(err)
				}
			}
			c := e.signIn("alice")
			e.clock.Advance(800 * time.Second)
			tt.q.cookie = c
			if w := e.do(tt.q); w.Code != 200 {
				t.Fatalf("request: %d", w.Code)
			}
			e.clock.Advance(100 * time.Second)
			w := e.do(req{path: "/backend", cookie: c})
			if got := w.Code == 200; got != tt.extends {
				t.Fatalf("alive at old deadline = %v, want %v", got, tt.extends)
			}
		})
	}
}

func TestForcedSignOut(t *testing.T) {
	tests := []struct {
		name string
		sel  func(a1, a2, b string) logout.Selector
		gone []int // which of a1, a2, b end
	}{
		{"one session", func(a1, a2, b string) logout.Selector { return logout.Selector{IDs: []string{a1}} }, []int{0}},
		{"one user", func(a1, a2, b string) logout.Selector { return logout.Selector{UserID: "alice"} }, []int{0, 1}},
		{"everyone else", func(a1, a2, b string) logout.Selector { return logout.Selector{All: true, Except: b} }, []int{0, 1}},
		{"everyone", func(a1, a2, b string) logout.Selector { return logout.Selector{All: true} }, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{})
			cs := []*http.Cookie{e.signIn("alice"), e.signIn("alice"), e.signIn("bob")}
			var ids []string
			for _, c := range cs {
				var id string
				h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s, _ := logout.FromContext(r.Context())
					id = s.ID
				}))
				r := httptest.NewRequest("GET", "/backend", nil)
				r.AddCookie(c)
				h.ServeHTTP(httptest.NewRecorder(), r)
				ids = append(ids, id)
			}
			evs, err := e.m.ForceSignOut(t.Context(), tt.sel(ids[0], ids[1], ids[2]))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.gone) {
				t.Fatalf("ended %d sessions, want %d", len(evs), len(tt.gone))
			}
			for i, c := range cs {
				w := e.do(req{path: "/backend/x", cookie: c})
				wantGone := false
				for _, g := range tt.gone {
					wantGone = wantGone || g == i
				}
				if wantGone {
					if w.Code != 303 || !strings.Contains(w.Header().Get("Location"), "reason=forced") {
						t.Fatalf("session %d: %d %q, want 303 reason=forced", i, w.Code, w.Header().Get("Location"))
					}
				} else if w.Code != 200 {
					t.Fatalf("session %d: %d, want 200", i, w.Code)
				}
			}
		})
	}
}

func TestSettingsApplyAtOnce(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	e.clock.Advance(20 * time.Second)
	s, err := e.m.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Lifetime, s.WarningLead = 10*time.Second, 5*time.Second
	if _, err := e.m.UpdateSettings(t.Context(), s, "test"); err != nil {
		t.Fatal(err)
	}
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 303 || !strings.Contains(w.Header().Get("Location"), "reason=idle") {
		t.Fatalf("after lowering the lifetime: %d %q, want 303 idle", w.Code, w.Header().Get("Location"))
	}
	// A stale version is refused and changes nothing.
	bad := logout.DefaultSettings()
	if _, err := e.m.UpdateSettings(t.Context(), bad, "test"); err == nil {
		t.Fatal("update from version 0 succeeded over version 1")
	}
	invalid := s
	invalid.Version = 1
	invalid.Lifetime = 0
	if _, err := e.m.UpdateSettings(t.Context(), invalid, "test"); err == nil || settingsform.FieldErrors(err)["lifetime"] == nil {
		t.Fatalf("invalid update: %v", err)
	}
	if got, _ := e.m.Settings(t.Context()); got.Lifetime != 10*time.Second || got.Version != 1 {
		t.Fatalf("settings now %+v, want lifetime 10s version 1", got)
	}
	reset, err := e.m.ResetSettings(t.Context(), 1, "test")
	if err != nil || reset.Lifetime != 900*time.Second || reset.Version != 2 {
		t.Fatalf("ResetSettings = %+v, %v", reset, err)
	}
}

func TestSignInRenewsID(t *testing.T) {
	e := newEnv(t, logout.Options{})
	old := e.signIn("alice")
	r := httptest.NewRequest("POST", "http://app.example/backend/auth/signin", strings.NewReader("user=alice"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(old)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	var fresh *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Value != "" {
			fresh = c
		}
	}
	if fresh == nil || fresh.Value == old.Value {
		t.Fatalf("sign-in kept the old token")
	}
	if w := e.do(req{path: "/backend", cookie: old}); w.Code == 200 && w.Body.String() != "anonymous" {
		t.Fatalf("old token still signed in: %d %q", w.Code, w.Body)
	}
	if w := e.do(req{path: "/backend", cookie: fresh}); w.Body.String() != "user=alice" {
		t.Fatalf("new token: %q", w.Body)
	}
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		secure bool
		cookie string
	}{
		{"plain HTTP", false, false, "logout_session"},
		{"TLS", true, false, "__Host-logout_session"},
		{"behind a TLS proxy", false, true, "__Host-logout_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{Secure: tt.secure})
			r := httptest.NewRequest("POST", "https://app.example/backend/auth/signin", strings.NewReader("user=alice"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if !tt.tls {
				r.TLS = nil
			} else {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			cs := w.Result().Cookies()
			if len(cs) != 1 {
				t.Fatalf("cookies %v", cs)
			}
			c := cs[0]
			if c.Name != tt.cookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" ||
				c.Secure != (tt.tls || tt.secure) || c.Domain != "" || len(c.Value) != 43 {
				t.Fatalf("cookie %+v", c)
			}
		})
	}
}

func TestTamperedCookieIsAnonymous(t *testing.T) {
	e := newEnv(t, logout.Options{})
	good := e.signIn("alice")
	flip := []byte(good.Value)
	flip[5] ^= 1
	for _, v := range []string{"", "x", string(flip), good.Value + "A", strings.Repeat("A", 42) + "B", strings.Repeat("!", 43)} {
		w := e.do(req{path: "/backend", cookie: &http.Cookie{Name: "logout_session", Value: v}})
		if w.Code != 200 || w.Body.String() != "anonymous" {
			t.Fatalf("cookie %q: %d %q, want anonymous", v, w.Code, w.Body)
		}
	}
	if len(e.events()) != 0 {
		t.Fatalf("a tampered cookie ended a session: %v", e.events())
	}
}

func TestEndpoints(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	token := e.csrf(c)
	e.clock.Advance(100 * time.Second)

	st := e.do(req{path: "/backend/session/status", cookie: c})
	v := decodeJSON(t, st)
	start := e.clock.Now().Add(-100 * time.Second)
	if st.Code != 200 || v["signed_in"] != true || int64(v["deadline"].(float64)) != start.Add(900*time.Second).UnixMilli() ||
		v["lifetime"] != 900.0 || v["warning_lead"] != 60.0 || v["show_counter"] != true {
		t.Fatalf("status %d %v", st.Code, v)
	}
	tests := []struct {
		name   string
		q      req
		code   int
		extend bool
	}{
		{"keepalive without token", req{method: "POST", path: "/backend/session/keepalive"}, 403, false},
		{"keepalive with wrong token", req{method: "POST", path: "/backend/session/keepalive", header: map[string]string{logout.HeaderCSRF: "nope"}}, 403, false},
		{"keepalive cross-site", req{method: "POST", path: "/backend/session/keepalive", header: map[string]string{logout.HeaderCSRF: token, "Sec-Fetch-Site": "cross-site"}}, 403, false},
		{"keepalive by GET", req{method: "GET", path: "/backend/session/keepalive", header: map[string]string{logout.HeaderCSRF: token}}, 405, true},
		{"keepalive", req{method: "POST", path: "/backend/session/keepalive", header: map[string]string{logout.HeaderCSRF: token}}, 200, true},
		{"keepalive by form field", req{method: "POST", path: "/backend/session/keepalive", body: "csrf_token=" + url.QueryEscape(token)}, 200, true},
		{"signout by GET", req{method: "GET", path: "/backend/session/signout"}, 405, true},
		{"signout without token", req{method: "POST", path: "/backend/session/signout"}, 403, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.cookie = c
			if w := e.do(tt.q); w.Code != tt.code {
				t.Fatalf("%s: %d, want %d (%s)", tt.name, w.Code, tt.code, w.Body)
			}
		})
	}
	w := e.do(req{method: "POST", path: "/backend/session/signout", cookie: c, body: "csrf_token=" + url.QueryEscape(token)})
	if w.Code != 303 || w.Header().Get("Location") != "/backend/auth/signin?reason=manual" {
		t.Fatalf("signout: %d %q", w.Code, w.Header().Get("Location"))
	}
	if evs := e.events(); len(evs) != 1 || evs[0].Reason != logout.ReasonManual {
		t.Fatalf("events %+v, want one manual", evs)
	}
	if st := e.do(req{path: "/backend/session/status", cookie: c}); st.Code != 401 {
		t.Fatalf("status after signout: %d", st.Code)
	}
}

func TestStoreOutageFailsClosed(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	e.store.down.Store(true)
	e.clock.Advance(time.Second) // past the sync interval: must ask the store
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 503 {
		t.Fatalf("backend during outage: %d, want 503", w.Code)
	}
	if w := e.do(req{path: "/backend/api", cookie: c, header: map[string]string{"Accept": "application/json"}}); w.Code != 503 || decodeJSON(t, w)["unavailable"] != true {
		t.Fatalf("backend JSON during outage: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{path: "/", cookie: c}); w.Code != 200 || w.Body.String() != "anonymous" || len(w.Result().Cookies()) != 0 {
		t.Fatalf("front end during outage: %d %q %v", w.Code, w.Body, w.Result().Cookies())
	}
	e.clock.Advance(1000 * time.Second) // past the deadline, store still down
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 503 {
		t.Fatalf("expired during outage: %d, want 503 (never served)", w.Code)
	}
	e.store.down.Store(false)
	e.clock.Advance(-1000 * time.Second)
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 || w.Body.String() != "user=alice" {
		t.Fatalf("after recovery: %d %q", w.Code, w.Body)
	}
	if len(e.events()) != 0 {
		t.Fatalf("outage ended sessions: %+v", e.events())
	}
}

// TestOutageSharesFailedReads: requests that arrive while a store read
// fails get its answer instead of each waiting for a timeout of its own.
func TestOutageSharesFailedReads(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	e.store.down.Store(true)
	e.clock.Advance(time.Second)
	before := e.store.reads.Load()
	for range 20 {
		if w := e.do(req{path: "/backend", cookie: c}); w.Code != 503 {
			t.Fatalf("during outage: %d", w.Code)
		}
	}
	if n := e.store.reads.Load() - before; n != 1 {
		t.Fatalf("%d store reads for 20 requests in one instant of an outage, want 1", n)
	}
	if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{All: true}); !errors.Is(err, logout.ErrUnavailable) {
		t.Fatalf("ForceSignOut during outage: %v, want ErrUnavailable", err)
	}
	e.store.down.Store(false)
	e.clock.Advance(time.Millisecond)
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 {
		t.Fatalf("after recovery: %d", w.Code)
	}
}

func TestWriteCoalescing(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	// Default touch interval: 1% of 900 s = 5 s (the cap). 1000 requests
	// 100 ms apart span 100 s: at most 100/5 = 20 writes.
	for range 1000 {
		e.clock.Advance(100 * time.Millisecond)
		if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 {
			t.Fatalf("%d", w.Code)
		}
	}
	if n := e.store.touches.Load(); n > 20 || n < 19 {
		t.Fatalf("%d store writes for 1000 requests over 100 s, want about 20", n)
	}
	// A single process stays exact: the deadline counts from the last
	// request, not the last write.
	e.clock.Advance(900*time.Second - time.Microsecond)
	if w := e.do(req{path: "/backend", cookie: c, header: map[string]string{logout.HeaderPassive: "1"}}); w.Code != 200 {
		t.Fatalf("just before the exact deadline: %d", w.Code)
	}
	e.clock.Advance(time.Microsecond)
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 303 {
		t.Fatalf("at the exact deadline: %d", w.Code)
	}
}

// TestDeadlineRace fires many requests of one session at once around its
// deadline: none that arrives at or after it is served as signed in, and
// the session ends exactly once.
func TestDeadlineRace(t *testing.T) {
	for _, reason := range []logout.Reason{logout.ReasonIdle, logout.ReasonAbsolute} {
		t.Run(reason.String(), func(t *testing.T) {
			e := newEnv(t, logout.Options{})
			if reason == logout.ReasonAbsolute {
				s := logout.DefaultSettings()
				s.AbsoluteLifetime = 900 * time.Second
				s.Lifetime = 900 * time.Second
				if _, err := e.m.UpdateSettings(t.Context(), s, "test"); err != nil {
					t.Fatal(err)
				}
			}
			c := e.signIn("alice")
			if reason == logout.ReasonAbsolute {
				e.clock.Advance(899 * time.Second) // activity cannot pass the absolute limit
			} else {
				e.clock.Advance(900*time.Second - time.Millisecond)
			}
			const n = 1000
			var wg sync.WaitGroup
			codes := make([]int, n)
			after := make([]bool, n)
			start := make(chan struct{})
			advanced := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if i >= n/2 {
						<-advanced
						after[i] = true
					}
					r := httptest.NewRequest("GET", "/backend/x", nil)
					r.Header.Set(logout.HeaderPassive, "1")
					r.AddCookie(c)
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, r)
					codes[i] = w.Code
				}()
			}
			close(start)
			if reason == logout.ReasonAbsolute {
				e.clock.Advance(time.Second)
			} else {
				e.clock.Advance(time.Millisecond)
			}
			close(advanced)
			wg.Wait()
			served := 0
			for i := range n {
				if after[i] && codes[i] == 200 {
					served++
				}
			}
			if served != 0 {
				t.Fatalf("%d requests after the deadline were served as signed in", served)
			}
			if evs := e.events(); len(evs) != 1 || evs[0].Reason != reason {
				t.Fatalf("sign-outs %+v, want exactly one %v", evs, reason)
			}
		})
	}
}

func TestSweepEndsIdleSessions(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c1 := e.signIn("alice")
	e.clock.Advance(500 * time.Second)
	c2 := e.signIn("bob")
	_ = c1
	e.clock.Advance(400 * time.Second) // alice at her deadline, bob not
	if err := e.m.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs := e.events()
	if len(evs) != 1 || evs[0].UserID != "alice" || evs[0].Reason != logout.ReasonIdle ||
		!evs[0].At.Equal(e.clock.Now()) {
		t.Fatalf("events %+v", evs)
	}
	list, err := e.m.Sessions(t.Context(), logout.ListOptions{})
	if err != nil || len(list) != 1 || list[0].UserID != "bob" {
		t.Fatalf("sessions %+v, %v", list, err)
	}
	log, err := e.m.Events(t.Context(), 10)
	if err != nil || len(log) != 1 {
		t.Fatalf("log %+v %v", log, err)
	}
	if w := e.do(req{path: "/backend", cookie: c2}); w.Code != 200 {
		t.Fatalf("bob: %d", w.Code)
	}
	// The log and the slog records never hold a raw token.
	if strings.Contains(e.logs.String(), c1.Value) || strings.Contains(e.logs.String(), c2.Value) {
		t.Fatal("a raw session token reached the log")
	}
	if !strings.Contains(e.logs.String(), "reason=idle") {
		t.Fatalf("no idle sign-out in the log:\n%s", e.logs)
	}
}

// TestActivityAfterReread: a request that finds its session alive only
// after rereading the store (activity written by another instance) still
// counts as activity itself.
func TestActivityAfterReread(t *testing.T) {
	store := logout.NewMemoryStore()
	opts := logout.Options{TouchInterval: time.Microsecond, SyncInterval: time.Hour}
	a := newEnvStore(t, store, opts)
	opts.Clock = a.clock
	b := newEnvStore(t, store, opts)
	c := a.signIn("alice")
	if w := b.do(req{path: "/backend", cookie: c}); w.Code != 200 { // B caches the session
		t.Fatalf("B: %d", w.Code)
	}
	a.clock.Advance(800 * time.Second)
	if w := a.do(req{path: "/backend", cookie: c}); w.Code != 200 { // written to the store
		t.Fatalf("A: %d", w.Code)
	}
	a.clock.Advance(200 * time.Second) // past B's cached deadline, not the real one
	if w := b.do(req{path: "/backend", cookie: c}); w.Code != 200 {
		t.Fatalf("B after activity on A: %d", w.Code)
	}
	list, err := a.m.Sessions(t.Context(), logout.ListOptions{UserID: "alice"})
	if err != nil || len(list) != 1 || !list[0].LastSeen.Equal(a.clock.Now()) {
		t.Fatalf("stored activity %v (%v), want B's request at %v", list, err, a.clock.Now())
	}
}

// TestSharedStore runs two Managers on one store, as two instances.
func TestSharedStore(t *testing.T) {
	store := logout.NewMemoryStore()
	a := newEnvStore(t, store, logout.Options{})
	b := newEnvStore(t, store, logout.Options{Clock: a.clock})
	c := a.signIn("alice")
	// Busy on A for 20 minutes: B must see the activity.
	for range 20 {
		a.clock.Advance(time.Minute)
		if w := a.do(req{path: "/backend", cookie: c}); w.Code != 200 {
			t.Fatalf("A: %d", w.Code)
		}
	}
	if w := b.do(req{path: "/backend", cookie: c}); w.Code != 200 {
		t.Fatalf("B after activity on A: %d", w.Code)
	}
	// Forced sign-out on B is refused on A after the sync interval.
	if _, err := b.m.ForceSignOut(t.Context(), logout.Selector{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(500 * time.Millisecond)
	if w := a.do(req{path: "/backend", cookie: c}); w.Code != 303 || !strings.Contains(w.Header().Get("Location"), "forced") {
		t.Fatalf("A after forced sign-out on B: %d %q", w.Code, w.Header().Get("Location"))
	}
	// Settings saved on A apply on B after the sync interval.
	s := logout.DefaultSettings()
	s.ShowCounter = false
	if _, err := a.m.UpdateSettings(t.Context(), s, "test"); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(500 * time.Millisecond)
	if got, _ := b.m.Settings(t.Context()); got.ShowCounter {
		t.Fatal("B still shows the counter")
	}
}

// ctxStore answers as a network store does when its caller gives up: with
// the context's error.
type ctxStore struct{ logout.Store }

func (s ctxStore) Session(ctx context.Context, id string) (logout.Session, error) {
	if err := ctx.Err(); err != nil {
		return logout.Session{}, err
	}
	return s.Store.Session(ctx, id)
}

func (s ctxStore) Settings(ctx context.Context) (logout.Settings, error) {
	if err := ctx.Err(); err != nil {
		return logout.Settings{}, err
	}
	return s.Store.Settings(ctx)
}

// TestCancelledReadIsNoOutage: a store read that failed because its
// caller gave up (a client gone, a Run stopped) is not shared with the
// requests waiting beside it as if the store had failed.
func TestCancelledReadIsNoOutage(t *testing.T) {
	e := newEnvStore(t, ctxStore{logout.NewMemoryStore()}, logout.Options{})
	c := e.signIn("alice")
	e.clock.Advance(time.Second) // past the sync interval: must ask the store
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequest("GET", "/backend", nil).WithContext(gone)
	r.AddCookie(c)
	e.h.ServeHTTP(httptest.NewRecorder(), r)
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 {
		t.Fatalf("a request in the instant a client gave up: got %d, want 200", w.Code)
	}
	e.clock.Advance(time.Second)
	if err := e.m.Sweep(gone); err == nil {
		t.Fatal("Sweep with a cancelled context: got no error")
	}
	if err := e.m.Flush(t.Context()); err != nil {
		t.Fatalf("Flush in the instant a cancelled Sweep failed: got %v, want nil", err)
	}
}

// TestBackendHeadersOwnedByRequest checks that a handler writing into the
// header values the middleware set (rather than replacing them with Set)
// changes its own response only: the next backend page still says
// no-store.
func TestBackendHeadersOwnedByRequest(t *testing.T) {
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signin := httptest.NewRecorder()
	if _, err := m.SignIn(signin, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	page := func(h http.Handler) http.Header {
		r := httptest.NewRequest("GET", "/backend/page", nil)
		r.AddCookie(signin.Result().Cookies()[0])
		w := httptest.NewRecorder()
		m.Handler(h).ServeHTTP(w, r)
		return w.Header()
	}
	page(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"Cache-Control", logout.HeaderDeadline, logout.HeaderServerTime} {
			if v := w.Header()[k]; len(v) == 1 {
				v[0] = "public, max-age=3600" // in place, as no handler should
			}
		}
	}))
	next := page(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if got := next.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("after a handler wrote into its headers, the next page's Cache-Control = %q, want no-store", got)
	}
	for _, k := range []string{logout.HeaderDeadline, logout.HeaderServerTime} {
		if got := next.Get(k); got == "" || strings.Contains(got, "public") {
			t.Fatalf("the next page's %s = %q", k, got)
		}
	}
}
