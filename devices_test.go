package logout_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gologout/logout"
)

// signInAs signs u in directly, with the given User-Agent, from the
// address of an httptest request (192.0.2.1).
func signInAs(t *testing.T, m *logout.Manager, u logout.User, userAgent string) (logout.Session, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://app.example/backend/auth/signin", nil)
	r.Header.Set("User-Agent", userAgent)
	return m.SignIn(httptest.NewRecorder(), r, u)
}

// TestSignInKeepsDevice: a session keeps the User-Agent (valid UTF-8, cut
// to MaxUserAgent bytes), the address that Options.ClientAddr gives, and
// the user's tags; bad tags are refused and create nothing.
func TestSignInKeepsDevice(t *testing.T) {
	long := strings.Repeat("a", logout.MaxUserAgent-1) + "é and more" // é straddles the cut
	for _, tt := range []struct {
		name      string
		addr      func(*http.Request) string
		userAgent string
		tags      []string
		wantUA    string
		wantAddr  string
		wantErr   string
	}{
		{name: "default address is RemoteAddr's host", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
			wantUA: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", wantAddr: "192.0.2.1"},
		{name: "ClientAddr decides", addr: func(*http.Request) string { return "203.0.113.0" }, wantAddr: "203.0.113.0"},
		{name: "ClientAddr keeps none", addr: func(*http.Request) string { return "" }, wantAddr: ""},
		{name: "a long address is cut at a character", addr: func(*http.Request) string { return "x" + strings.Repeat("é", 40) },
			wantAddr: "x" + strings.Repeat("é", 31)},
		{name: "an invalid address is made valid", addr: func(*http.Request) string { return "fe80::1%\xff" }, wantAddr: "fe80::1%\uFFFD"},
		{name: "a long User-Agent is cut at a character", userAgent: long, wantUA: strings.Repeat("a", logout.MaxUserAgent-1), wantAddr: "192.0.2.1"},
		{name: "invalid UTF-8 is replaced", userAgent: "bad \xff byte", wantUA: "bad \uFFFD byte", wantAddr: "192.0.2.1"},
		{name: "four tags", tags: []string{"a", "b", "c", strings.Repeat("d", 128)}, wantAddr: "192.0.2.1"},
		{name: "five tags", tags: []string{"a", "b", "c", "d", "e"}, wantErr: "5 tags"},
		{name: "an empty tag", tags: []string{"a", ""}, wantErr: "tag 1 has 0 bytes"},
		{name: "a long tag", tags: []string{strings.Repeat("d", 129)}, wantErr: "tag 0 has 129 bytes"},
		{name: "a tag twice", tags: []string{"a", "a"}, wantErr: `tag "a" given twice`},
		{name: "a tag with a NUL", tags: []string{"a\x00b"}, wantErr: "tag 0 is not printable UTF-8"},
		{name: "a tag of invalid UTF-8", tags: []string{"ok", "\xff"}, wantErr: "tag 1 is not printable UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{ClientAddr: tt.addr})
			s, err := signInAs(t, e.m, logout.User{ID: "alice", Tags: tt.tags}, tt.userAgent)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SignIn = %v, want an error with %q", err, tt.wantErr)
				}
				if n, _ := e.m.CountSessions(t.Context(), logout.ListOptions{}); n != 0 {
					t.Fatalf("a refused sign-in left %d sessions", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stored, err := e.store.Session(t.Context(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.UserAgent != tt.wantUA || stored.Address != tt.wantAddr || !slices.Equal(stored.Tags, tt.tags) {
				t.Fatalf("stored UserAgent %q, Address %q, Tags %q; want %q, %q, %q",
					stored.UserAgent, stored.Address, stored.Tags, tt.wantUA, tt.wantAddr, tt.tags)
			}
			if !utf8.ValidString(stored.UserAgent) || len(stored.UserAgent) > logout.MaxUserAgent {
				t.Fatalf("stored UserAgent of %d bytes, valid UTF-8 %v", len(stored.UserAgent), utf8.ValidString(stored.UserAgent))
			}
		})
	}
}

// TestEndByTag: Manager.EndSessions ends the sessions of a tag, and only
// those.
func TestEndByTag(t *testing.T) {
	e := newEnv(t, logout.Options{})
	for _, u := range []logout.User{{ID: "alice", Tags: []string{"sso:1"}}, {ID: "alice", Tags: []string{"sso:2"}}, {ID: "bob", Tags: []string{"sso:1", "x"}}} {
		if _, err := signInAs(t, e.m, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.m.EndSessions(t.Context(), logout.Selector{Tag: "sso:1"}, logout.ReasonForced)
	if err != nil || len(evs) != 2 {
		t.Fatalf("EndSessions(Tag sso:1) = %d events, %v; want 2", len(evs), err)
	}
	left, err := e.m.Sessions(t.Context(), logout.ListOptions{})
	if err != nil || len(left) != 1 || left[0].Tags[0] != "sso:2" {
		t.Fatalf("left %+v, %v; want alice's sso:2 session", left, err)
	}
}

// TestSessionsPagesFollowStoredOrder: activity kept in memory (not yet
// written) shows in the sessions listed, except in the time that the
// order sorts by, so that a walk of pages of one sees every session once.
func TestSessionsPagesFollowStoredOrder(t *testing.T) {
	e := newEnv(t, logout.Options{TouchInterval: time.Hour})
	var cookies []*http.Cookie
	for range 4 {
		cookies = append(cookies, e.signIn("alice"))
		e.clock.Advance(time.Second)
	}
	e.clock.Advance(10 * time.Second)
	if w := e.do(req{path: "/backend/", cookie: cookies[0]}); w.Code != http.StatusOK {
		t.Fatalf("activity: %d", w.Code)
	}
	now := e.clock.Now()
	for _, order := range []logout.SessionOrder{logout.OldestFirst, logout.NewestFirst, logout.ActiveFirst, logout.EndingFirst} {
		var walked []logout.Session
		opts := logout.ListOptions{Order: order, Limit: 1}
		for {
			page, err := e.m.Sessions(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, page...)
			if len(page) < opts.Limit || len(walked) > 10 {
				break
			}
			opts.After = logout.CursorOf(page[len(page)-1])
		}
		if len(walked) != 4 || !slices.IsSortedFunc(walked, order.Compare) {
			t.Fatalf("order %d: walked %d sessions, sorted %v; want 4 in order", order, len(walked), slices.IsSortedFunc(walked, order.Compare))
		}
		// The first sign-in is the one with activity since.
		first := walked[slices.IndexFunc(walked, func(s logout.Session) bool { return s.Created.Before(now.Add(-13 * time.Second)) })]
		if fresh := first.LastSeen.Equal(now); fresh == (order == logout.ActiveFirst) {
			t.Errorf("order %d: the active session's LastSeen %v (now %v): want the stored one only in ActiveFirst order", order, first.LastSeen, now)
		}
	}
}

// TestFromContextKeepsDevice: the session a request sees holds what the
// store keeps of it, its device, address and tags, whether this process
// signed it in or read it from the store.
func TestFromContextKeepsDevice(t *testing.T) {
	store := logout.NewMemoryStore()
	e := newEnvStore(t, store, logout.Options{})
	r := httptest.NewRequest(http.MethodPost, "http://app.example/backend/auth/signin", nil)
	r.Header.Set("User-Agent", "Firefox/133.0")
	w := httptest.NewRecorder()
	if _, err := e.m.SignIn(w, r, logout.User{ID: "alice", Tags: []string{"sso:1"}}); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	other := newEnvStore(t, store, logout.Options{Clock: e.clock}) // reads it from the store
	for name, env := range map[string]*env{"signed in here": e, "read from the store": other} {
		var got logout.Session
		h := env.m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, _ = logout.FromContext(r.Context())
		}))
		q := httptest.NewRequest(http.MethodGet, "http://app.example/backend/", nil)
		q.AddCookie(cookie)
		h.ServeHTTP(httptest.NewRecorder(), q)
		if got.UserAgent != "Firefox/133.0" || got.Address != "192.0.2.1" || !slices.Equal(got.Tags, []string{"sso:1"}) {
			t.Errorf("%s: FromContext has UserAgent %q, Address %q, Tags %q; want the stored ones", name, got.UserAgent, got.Address, got.Tags)
		}
	}
}
