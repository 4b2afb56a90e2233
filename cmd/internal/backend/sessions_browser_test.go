package backend_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/browsertest"
)

// More devices of the browser tests' people.
const (
	uaSafariIPad    = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaChromeAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

// startDeviceSite starts a site on the memory store (which keeps devices
// and sorts every order) where several people are signed in on several
// browsers, over the last hours, under lifetimes of a working day:
// editor on Firefox (Windows) and Safari (iPhone), maria on Chrome
// (macOS) and Safari (iPad), tomas on Edge (Windows) and Chrome
// (Android), admin on Firefox (Linux). It trusts loopback as a proxy, so
// that each names its address in X-Forwarded-For; the browser of the test
// is at 192.0.2.77.
// behindClock is the system clock *behind nanoseconds behind; its timers
// are the system clock's.
type behindClock struct {
	logout.SystemClock
	behind *atomic.Int64
}

func (c behindClock) Now() time.Time { return time.Now().Add(-time.Duration(c.behind.Load())) }

func startDeviceSite(t *testing.T) *site {
	t.Helper()
	dir := t.TempDir()
	var behind atomic.Int64 // how far the site's clock is behind the real one
	s := startSiteWith(t, func(c *backend.Config) {
		c.DataDir, c.Store = dir, logout.NewMemoryStore()
		c.Clock = behindClock{behind: &behind}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Forwarded-For") == "" {
				r.Header.Set("X-Forwarded-For", "192.0.2.77")
			}
			h.ServeHTTP(w, r)
		})
	})
	s.set(t, 8*3600, 60, true)
	ids := map[string]string{"admin": "1", "editor": "2"}
	for i, name := range []string{"maria", "tomas"} {
		if _, created, err := backend.SetAdminPassword(context.Background(), dir, name, "password-of-"+name); err != nil || !created {
			t.Fatalf("user %s: created %v, %v", name, created, err)
		}
		ids[name] = []string{"3", "4"}[i]
	}
	type step struct {
		ago    time.Duration
		user   string
		ua     string
		addr   string
		signIn bool
	}
	var steps []step
	for _, d := range []struct {
		user, ua, addr   string
		signedIn, active time.Duration // how long ago
	}{
		{"admin", uaFirefoxLinux, "192.0.2.200", 7 * time.Hour, 6 * time.Hour},
		{"editor", uaFirefoxWindows, "192.0.2.10", 3*time.Hour + 10*time.Minute, 2 * time.Hour},
		{"editor", uaSafariIPhone, "198.51.100.7", 2*time.Hour + 50*time.Minute, 12 * time.Minute},
		{"maria", uaChromeMac, "203.0.113.40", 2 * time.Hour, 35 * time.Minute},
		{"tomas", uaEdgeWindows, "2001:db8:1:2::5", 80 * time.Minute, 3 * time.Minute},
		{"maria", uaSafariIPad, "198.51.100.23", 50 * time.Minute, 50 * time.Minute},
		{"tomas", uaChromeAndroid, "2001:db8:7:1::9", 25 * time.Minute, 8 * time.Minute},
	} {
		steps = append(steps, step{d.signedIn, d.user, d.ua, d.addr, true}, step{d.active, d.user, d.ua, d.addr, false})
	}
	// In the order of time, as the clock only goes forward.
	slices.SortStableFunc(steps, func(a, b step) int { return int(b.ago - a.ago) })
	m := s.app.Manager()
	cookies := map[string][]*http.Cookie{}
	for _, st := range steps {
		behind.Store(int64(st.ago))
		if st.signIn {
			r := httptest.NewRequest(http.MethodPost, "/backend/auth/signin", nil)
			r.RemoteAddr = "127.0.0.1:40000"
			r.Header.Set("User-Agent", st.ua)
			r.Header.Set("X-Forwarded-For", st.addr)
			w := httptest.NewRecorder()
			roles := []string{backend.RoleAdmin}
			if st.user == "editor" {
				roles = []string{backend.RoleEditor}
			}
			if _, err := m.SignIn(w, r, logout.User{ID: ids[st.user], Name: st.user, Roles: roles}); err != nil {
				t.Fatal(err)
			}
			cookies[st.ua] = w.Result().Cookies()
			continue
		}
		req, err := http.NewRequest(http.MethodGet, s.URL+"/backend/api/stats", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies[st.ua] {
			req.AddCookie(c)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("activity of %s: %d", st.user, res.StatusCode)
		}
	}
	behind.Store(0)
	if err := m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// devicesOf returns the browsers of the signed-in sessions.
func (s *site) devicesOf(t *testing.T, user string) []string {
	t.Helper()
	var out []string
	for _, x := range s.sessions(t) {
		if x.UserName == user {
			out = append(out, x.UserAgent)
		}
	}
	return out
}

// TestBrowserSessionsPage: the active sessions page passes axe-core, and
// sorts and ends a session with a confirmation from the keyboard.
func TestBrowserSessionsPage(t *testing.T) {
	b := browsertest.NewBrowser(t)
	s := startDeviceSite(t)
	for _, vp := range []viewport{desktop, narrow} {
		t.Run(vp.name, func(t *testing.T) {
			tb := s.newTab(t, b, vp, true)
			tb.signIn("admin", adminPassword)
			tb.open("/backend/system/sessions")
			browsertest.Axe(t, tb.Ctx)
			if got := browsertest.Eval[string](tb.Tab, `document.querySelector('th[aria-sort]').textContent.trim()`); got != "Last activity" {
				t.Errorf("sorted column: got %q, want Last activity", got)
			}

			// Sort by sign-in, newest first, by the column's header.
			tb.tabTo("the Signed in header", `el.matches('th a.sort') && el.textContent === 'Signed in'`, 60)
			tb.load(chromedp.KeyEvent(kb.Enter))
			tb.Wait(time.Second, "the new order", `location.search === '?sort=newest'`)
			if got := browsertest.Eval[string](tb.Tab, `(th => th.textContent.trim() + ' ' + th.getAttribute('aria-sort'))(document.querySelector('th[aria-sort]'))`); got != "Signed in descending" {
				t.Errorf("sorted column: got %q, want Signed in descending", got)
			}
			created := browsertest.Eval[[]string](tb.Tab, `[...document.querySelectorAll('#sessions-active tbody tr')].map(tr => tr.cells[3].textContent)`)
			if !slices.IsSortedFunc(created, func(a, b string) int { return strings.Compare(b, a) }) {
				t.Errorf("sign-in times not newest first: %q", created)
			}
			browsertest.Axe(t, tb.Ctx)

			// End one of tomas's sessions: the confirmation, then the end.
			before := len(s.sessions(t))
			target := "Edge"
			if vp == narrow {
				target = "Chrome 126 on Android"
			}
			tb.tabTo("tomas's "+target+" Sign out button", `el.matches('#sessions-active tbody button') && el.getAttribute('aria-label').includes('tomas on `+target+`')`, 80)
			tb.load(chromedp.KeyEvent(kb.Enter))
			tb.wantPath("/backend/system/sessions/confirm")
			if got := tb.Text("#confirm-title"); got != "Sign out this session of tomas?" {
				t.Errorf("confirmation: got %q", got)
			}
			if got := len(s.sessions(t)); got != before {
				t.Fatalf("the confirmation ended a session: %d, want %d", got, before)
			}
			browsertest.Axe(t, tb.Ctx)
			tb.tabTo("the confirmation's button", `el.matches('.confirm-actions button')`, 40)
			tb.load(chromedp.KeyEvent(kb.Enter))
			tb.Wait(time.Second, "the sessions page", `location.pathname === '/backend/system/sessions' && location.search === '?done=forced&n=1'`)
			if got := tb.notices(); got != "1 session signed out." {
				t.Errorf("notice: got %q, want 1 session signed out.", got)
			}
			if got := len(s.sessions(t)); got != before-1 {
				t.Errorf("sessions: got %d, want %d", got, before-1)
			}
		})
	}
}

// TestBrowserOwnSessionsConfirm: a user's own sessions page shows their
// devices, passes axe-core, and signs out everywhere else after a
// confirmation, from the keyboard.
func TestBrowserOwnSessionsConfirm(t *testing.T) {
	b := browsertest.NewBrowser(t)
	s := startDeviceSite(t)
	tb := s.newTab(t, b, desktop, true)
	tb.signIn("editor", editorPassword)
	tb.open("/backend/account/sessions")
	browsertest.Axe(t, tb.Ctx)
	if got := browsertest.Eval[string](tb.Tab, `document.querySelector('#own-sessions tbody').textContent`); !strings.Contains(got, "Firefox 128 on Windows") ||
		!strings.Contains(got, "Safari 17 on iOS") || !strings.Contains(got, "This is you") {
		t.Errorf("rows: %q", got)
	}
	if n := len(s.devicesOf(t, "editor")); n != 3 {
		t.Fatalf("editor's sessions: %d, want 3", n)
	}
	tb.tabTo("Sign out everywhere else", `el.matches('button') && el.textContent === 'Sign out everywhere else'`, 60)
	tb.load(chromedp.KeyEvent(kb.Enter))
	tb.wantPath("/backend/account/sessions/confirm")
	if got := tb.Text("#confirm-title"); got != "End your 2 other sessions? This one stays signed in." {
		t.Errorf("confirmation: got %q", got)
	}
	browsertest.Axe(t, tb.Ctx)
	tb.tabTo("the confirmation's button", `el.matches('.confirm-actions button')`, 40)
	tb.load(chromedp.KeyEvent(kb.Enter))
	tb.Wait(time.Second, "the own sessions page", `location.search === '?done=ended&n=2'`)
	if got := tb.notices(); got != "2 sessions ended." {
		t.Errorf("notice: got %q", got)
	}
	if n := len(s.devicesOf(t, "editor")); n != 1 {
		t.Errorf("editor's sessions: %d, want 1", n)
	}
	if n := len(s.devicesOf(t, "maria")); n != 2 {
		t.Errorf("maria's sessions: %d, want 2: another user's ended", n)
	}
}

// TestSessionScreenshots takes the sessions pages' screenshots for the
// README, with LOGOUT_SCREENSHOTS=1 as TestScreenshots.
func TestSessionScreenshots(t *testing.T) {
	b := browsertest.NewBrowser(t)
	s := startDeviceSite(t)
	blur := func(tb tab) { browsertest.Eval[chromedp.Void](tb.Tab, `document.activeElement.blur()`) }
	t.Run("sessions", func(t *testing.T) {
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		tb.open("/backend/system/sessions")
		blur(tb)
		shot(t, tb, "sessions.png")
	})
	t.Run("own sessions", func(t *testing.T) {
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("maria", "password-of-maria")
		tb.open("/backend/account/sessions")
		blur(tb)
		shot(t, tb, "own-sessions.png")
	})
}
