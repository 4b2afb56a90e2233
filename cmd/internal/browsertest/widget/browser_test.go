package widget_test

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/widget"
)

// The browser tests drive Debian's Chromium through chromedp against a
// backend made of the core logout.Manager, with real lifetimes of a few
// seconds: the browser runs in real time.

// backend is a test backend: the core Manager, a page with the widget, an
// endpoint that counts as activity, and switches and counters for tests.
type backend struct {
	*httptest.Server
	m *logout.Manager

	down       atomic.Bool  // answer every backend request with 503
	statuses   atomic.Int32 // status requests
	keepAlives atomic.Int32 // keep-alive requests
	refused    atomic.Int32 // requests answered 503 while down
	expired    atomic.Int32 // logout:expired events the page reported

	// Lock in place and push (lock_browser_test.go): set before the
	// first page.
	inPlace atomic.Bool   // serve the sign-in contract: the page locks in place
	push    atomic.Bool   // give the page the push stream's URL
	opaque  atomic.Bool   // user IDs that are not the names users sign in with
	pings   atomic.Int32  // requests to /backend/ping
	slow    chan struct{} // closed to finish the requests to /backend/slow
	streams streams       // the push stream's connections
	turbo   atomic.Bool   // pages load @hotwired/turbo (swap_browser_test.go)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backend</title>
{{.W.Script}}<script src="/host.js" defer></script>{{if .Turbo}}<script src="/turbo.js"></script>{{end}}</head>
<body><header><nav aria-label="Account"><span>Ada</span> {{.W.Element}}
<form method="post" action="/backend/session/signout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="signout" data-logout-sign-out>Sign out</button></form></nav></header>
<main><h1>Dashboard</h1><label for="q">Search</label> <input id="q"> <a id="next" href="/backend/?n={{.Next}}">Page {{.Next}}</a>
{{if .InPlace}}<meta name="csrf-token" content="{{.CSRF}}">
<form id="draft" method="post" action="/backend/ping"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<label for="notes">Notes</label> <textarea id="notes" name="notes"></textarea></form>
<button id="preview" type="button" data-logout-preview="2" hidden>Simulate a timeout in 2 s</button>
<dialog id="appdlg" aria-label="Details"><p>Details</p></dialog><div id="spacer"></div>{{end}}
</main></body></html>
`))

// hostJS is the host page's own script: it reports logout:expired, as a
// page saving drafts would, and logs the dialog's announcements.
const hostJS = `'use strict';
window.announced = [];
document.addEventListener('logout:expired', () => navigator.sendBeacon('/expired'));
document.addEventListener('logout:switched', (e) => localStorage.removeItem('draft:' + e.detail.user));
const live = document.querySelector('.logout-live');
new MutationObserver(() => live.textContent && window.announced.push(live.textContent))
  .observe(live, {childList: true, characterData: true, subtree: true});
`

const csp = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'"

func newBackend(t *testing.T, s logout.Settings) *backend {
	t.Helper()
	return newBackendWith(t, s, logout.Options{})
}

// newBackendWith is newBackend with opts, such as a fake clock.
func newBackendWith(t *testing.T, s logout.Settings, opts logout.Options) *backend {
	t.Helper()
	opts.SyncInterval = 50 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	m, err := logout.New(logout.NewMemoryStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdateSettings(context.Background(), s, "test"); err != nil {
		t.Fatalf("settings %+v: %v", s, err)
	}
	b := &backend{m: m, slow: make(chan struct{})}

	mux := http.NewServeMux()
	mux.Handle("/assets/logout/", http.StripPrefix("/assets/logout", widget.Handler()))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.SignIn(w, r, b.user("ada")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/backend/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /host.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, hostJS)
	})
	mux.HandleFunc("GET /turbo.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, os.Getenv("LOGOUT_TURBO_JS"))
	})
	mux.HandleFunc("POST /expired", func(w http.ResponseWriter, r *http.Request) { b.expired.Add(1) })
	mux.HandleFunc("POST /backend/auth/signin", b.signIn)
	mux.HandleFunc("GET /backend/session/events", b.events)
	mux.HandleFunc("POST /force", func(w http.ResponseWriter, r *http.Request) { b.forceSignOut(t, "ada") })
	mux.HandleFunc("GET /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		if b.inPlace.Load() && logout.IsScript(r) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"csrf_token":%q}`, preToken)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Sign in</title><h1 id="signin">Sign in</h1>`)
	})
	mux.HandleFunc("GET /backend/{$}", func(w http.ResponseWriter, r *http.Request) {
		cfg, ok := widget.New(m, r) // as an app built on the library does
		if !ok {
			http.Redirect(w, r, "/backend/auth/signin", http.StatusSeeOther)
			return
		}
		cfg.AssetsPrefix = "/assets/logout/"
		if !b.push.Load() {
			cfg.EventsURL = ""
		}
		w.Header().Set("Content-Security-Policy", csp)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if err := pageTmpl.Execute(w, map[string]any{"CSRF": m.CSRFToken(r), "InPlace": b.inPlace.Load(), "W": cfg,
			"Turbo": b.turbo.Load(), "Next": n + 1}); err != nil {
			t.Errorf("page: %v", err)
		}
	})
	mux.HandleFunc("/backend/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-b.slow:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "done")
	})
	// Guarded like a real app's route: a request whose cookie was
	// dropped (a 401 of status drops it) is refused too.
	mux.Handle("/backend/ping", m.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"pong":true}`)
	})))
	mux.Handle("/backend/session/", m.Endpoints())

	app := m.Handler(mux)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/backend/session/status":
			b.statuses.Add(1)
		case "/backend/session/keepalive":
			b.keepAlives.Add(1)
		case "/backend/ping":
			b.pings.Add(1)
		}
		if b.down.Load() && strings.HasPrefix(r.URL.Path, "/backend/") {
			b.refused.Add(1)
			http.Error(w, "backend down", http.StatusServiceUnavailable)
			return
		}
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

// settings returns valid settings with the lifetime and lead in seconds.
func settings(lifetime, lead int, counter bool) logout.Settings {
	s := logout.DefaultSettings()
	s.Lifetime = time.Duration(lifetime) * time.Second
	s.WarningLead = time.Duration(lead) * time.Second
	s.ShowCounter = counter
	return s
}

// A tab is one browser tab of a test, with the widget's own helpers.
type tab struct{ browsertest.Tab }

// newTab opens a tab below parent: the browser's context, or another tab's
// to share its cookies and channels.
func newTab(t *testing.T, parent context.Context, opts browsertest.TabOptions) tab {
	t.Helper()
	return tab{browsertest.NewTab(t, parent, opts)}
}

// open navigates and waits for the widget to run.
func (tb tab) open(u string) {
	tb.T.Helper()
	tb.Do(chromedp.Navigate(u))
	tb.Wait(5*time.Second, "the widget to start", `document.querySelector('.logout-dialog').parentElement === document.body`)
}

// signedOut waits for the sign-in page and returns its query.
func (tb tab) signedOut(timeout time.Duration) url.Values {
	tb.T.Helper()
	tb.Wait(timeout, "the sign-in page", `location.pathname === '/backend/auth/signin' && document.getElementById('signin')`)
	u, err := url.Parse(tb.Location())
	if err != nil {
		tb.T.Fatal(err)
	}
	return u.Query()
}

func (tb tab) dialogOpen() bool {
	tb.T.Helper()
	return browsertest.Eval[bool](tb.Tab, `document.querySelector('.logout-dialog').open`)
}

const (
	dialogOpen   = `document.querySelector('.logout-dialog').open`
	dialogClosed = `!document.querySelector('.logout-dialog').open`
)

func TestBrowser(t *testing.T) {
	b := browsertest.NewBrowser(t)

	t.Run("counter format, the warning dialog's too", func(t *testing.T) {
		t.Parallel()
		shared := newTab(t, b, browsertest.TabOptions{Isolated: true}) // one tab for the rows, in turn
		for _, tc := range []struct {
			name     string
			lifetime int
			first    string // right after the page loads
			later    string // after a second or two: the script runs
		}{
			{"59 s: MM:SS", 59, `^00:5\d$`, `^00:5[0-7]$`},
			{"3600 s: HH:MM:SS", 3600, `^(01:00:00|00:59:5\d)$`, `^00:59:5[0-8]$`},
			{"2 days: D days HH:MM:SS", 2 * 86400, `^(2 days 00:00:00|1 day 23:59:5\d)$`, `^1 day 23:59:5[0-8]$`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := newBackend(t, settings(tc.lifetime, tc.lifetime-1, true)) // the dialog at once
				tb := tab{shared.With(t)}
				tb.open(srv.URL + "/login")
				if got := tb.Text(".logout-counter"); !regexp.MustCompile(tc.first).MatchString(got) {
					t.Errorf("counter at load: got %q, want %s", got, tc.first)
				}
				tb.Wait(4*time.Second, "the counter to tick "+tc.later,
					fmt.Sprintf(`/%s/.test(document.querySelector('.logout-counter').textContent)`, tc.later))

				// The dialog says the time left as the counter does; both
				// are read in one evaluation, at the same tick.
				tb.Wait(time.Second, "the dialog's message", dialogOpen+` && document.querySelector('.logout-msg').textContent`)
				got := browsertest.Eval[[]string](tb.Tab, `[document.querySelector('.logout-msg').textContent, document.querySelector('.logout-counter').textContent]`)
				if want := "You will be signed out in " + got[1]; got[0] != want || !regexp.MustCompile(tc.later).MatchString(got[1]) {
					t.Errorf("dialog: got %q, want %q, in the counter's format", got[0], want)
				}
			})
		}
	})

	t.Run("AJAX moves the counter to the server's deadline", func(t *testing.T) {
		t.Parallel()
		srv := newBackend(t, settings(60, 0, true))
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		tb.Wait(2*time.Second, "about 01:00", `/^(01:00|00:5\d)$/.test(document.querySelector('.logout-counter').textContent)`)

		// The server's lifetime changes; the next request's deadline
		// shows, not a restart from the page's lifetime.
		setLifetime(t, srv.m, 45*time.Second)
		browsertest.Eval[bool](tb.Tab, `fetch('/backend/ping').then(r => r.ok)`)
		tb.Wait(2*time.Second, "about 00:45 after fetch", `/^00:4[0-5]$/.test(document.querySelector('.logout-counter').textContent)`)

		setLifetime(t, srv.m, 30*time.Second)
		browsertest.Eval[bool](tb.Tab, `new Promise(ok => { const x = new XMLHttpRequest(); x.onload = () => ok(x.status === 200); x.open('GET', '/backend/ping'); x.send(); })`)
		tb.Wait(2*time.Second, "about 00:30 after XHR", `/^00:(30|2[5-9])$/.test(document.querySelector('.logout-counter').textContent)`)

		// A 401 from any request of the page signs it out.
		if _, err := srv.m.ForceSignOut(context.Background(), logout.Selector{UserID: "ada"}); err != nil {
			t.Fatal(err)
		}
		browsertest.Eval[chromedp.Void](tb.Tab, `void fetch('/backend/ping')`)
		if q := tb.signedOut(3 * time.Second); q.Get("reason") != "forced" {
			t.Errorf("sign-in query: got %v, want reason=forced", q)
		}
	})

	for _, tc := range []struct{ name, init string }{
		{"BroadcastChannel", ""},
		{"storage event", "delete window.BroadcastChannel;"},
	} {
		t.Run("two tabs share state by "+tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newBackend(t, settings(6, 2, true))
			tabB := newTab(t, b, browsertest.TabOptions{Isolated: true, Init: tc.init})
			tabA := newTab(t, tabB.Ctx, browsertest.TabOptions{Init: tc.init})
			tabB.open(srv.URL + "/login")
			tabA.open(srv.URL + "/backend/")

			// Both warn; "Stay signed in" in A closes both dialogs.
			tabA.Wait(6*time.Second, "A's dialog", dialogOpen)
			tabB.Wait(3*time.Second, "B's dialog", dialogOpen)
			tabA.Do(chromedp.Click(chromedp.CSS(".logout-stay")))
			tabA.Wait(2*time.Second, "A's dialog to close", dialogClosed)
			tabB.Wait(2*time.Second, "B's dialog to close", dialogClosed)

			// Activity in A keeps B signed in well past B's own deadline,
			// without B asking the server.
			statuses := srv.statuses.Load()
			for end := time.Now().Add(7 * time.Second); time.Now().Before(end); {
				browsertest.Eval[bool](tabA.Tab, `fetch('/backend/ping').then(r => r.ok)`)
				if tabB.dialogOpen() {
					t.Fatalf("B warns although A is active: counter %q", tabB.Text(".logout-counter"))
				}
				time.Sleep(700 * time.Millisecond) // A's user works at a human pace
			}
			if got := srv.statuses.Load() - statuses; got != 0 {
				t.Errorf("status requests while A was active: got %d, want 0", got)
			}
			if got := tabB.Location(); !strings.HasSuffix(got, "/backend/") {
				t.Fatalf("B: got %s, want it still on /backend/", got)
			}

			// Signing out in A signs out B.
			tabA.Do(chromedp.Click(chromedp.ID("signout")))
			if q := tabA.signedOut(3 * time.Second); q.Get("reason") != "manual" {
				t.Errorf("A's sign-in query: got %v, want reason=manual", q)
			}
			tabB.signedOut(3 * time.Second)
			waitCount(t, &srv.expired, 2, "logout:expired events, one per tab")
		})
	}

	t.Run("warning dialog by keyboard", func(t *testing.T) {
		t.Parallel()
		srv := newBackend(t, settings(14, 12, true)) // a long lead leaves time for axe
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		tb.Do(chromedp.Focus(chromedp.ID("q")))

		tb.Wait(4*time.Second, "the dialog", dialogOpen)
		if got := tb.Focused(); got != "logout-stay" {
			t.Errorf("focus in the dialog: got %q, want the Stay signed in button", got)
		}
		if got := tb.Text(".logout-msg"); !regexp.MustCompile(`^You will be signed out in 00:1[0-2]$`).MatchString(got) {
			t.Errorf("dialog message: got %q", got)
		}
		tb.Wait(time.Second, "an announcement", `window.announced.length > 0`)

		for _, step := range []struct {
			mods []chromedp.Modifier
			want string
		}{
			{nil, "logout-out"},
			{nil, "logout-stay"},
			{[]chromedp.Modifier{chromedp.ModifierShift}, "logout-out"},
			{[]chromedp.Modifier{chromedp.ModifierShift}, "logout-stay"},
		} {
			tb.Key(kb.Tab, step.mods...)
			if got := tb.Focused(); got != step.want {
				t.Errorf("after Tab (%v): focus on %q, want %q", step.mods, got, step.want)
			}
		}

		// Announced at opening (under 30 s) and at 10 s, not every second.
		tb.Wait(4*time.Second, "00:08 left", `/in 00:0[0-8]$/.test(document.querySelector('.logout-msg').textContent)`)
		got := browsertest.Eval[[]string](tb.Tab, `window.announced`)
		if len(got) != 2 || !strings.HasSuffix(got[1], " 00:10") {
			t.Errorf("announcements: got %q, want two: at opening and at 00:10", got)
		}
		// axe-core holds the page's main thread for a second or more (much
		// more on a loaded machine), so it runs after the 00:10 announcement
		// rather than before it; the dialog is still open.
		browsertest.Axe(t, tb.Ctx)

		tb.Key(kb.Enter)
		tb.Wait(2*time.Second, "Enter to close the dialog", dialogClosed)
		if got := srv.keepAlives.Load(); got != 1 {
			t.Errorf("keep-alive requests after Enter: got %d, want 1", got)
		}
		if got := tb.Focused(); got != "q" {
			t.Errorf("focus after the dialog: got %q, want it back on #q", got)
		}

		tb.Wait(4*time.Second, "the dialog again", dialogOpen)
		tb.Key(kb.Escape)
		tb.Wait(2*time.Second, "Escape to close the dialog", dialogClosed)
		if got := srv.keepAlives.Load(); got != 2 {
			t.Errorf("keep-alive requests after Escape: got %d, want 2", got)
		}
		if got := tb.Location(); !strings.HasSuffix(got, "/backend/") {
			t.Errorf("page: got %s, want /backend/", got)
		}
	})

	t.Run("at zero: sign-in page; counter off hides only the counter", func(t *testing.T) {
		t.Parallel()
		srv := newBackend(t, settings(3, 2, false))
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		start := time.Now()
		tb.open(srv.URL + "/login")
		if !browsertest.Eval[bool](tb.Tab, `(e => e.hidden && e.getClientRects().length === 0)(document.querySelector('.logout-counter'))`) {
			t.Error("counter visible with the counter setting off")
		}
		tb.Wait(3*time.Second, "the dialog", dialogOpen)
		q := tb.signedOut(6 * time.Second)
		if got := time.Since(start); got < 2500*time.Millisecond {
			t.Errorf("signed out %v after sign-in, want about 3 s", got)
		}
		if q.Get("reason") != "idle" || q.Get("return") != "/backend/" {
			t.Errorf("sign-in query: got %v, want reason=idle and return=/backend/", q)
		}
		if got := srv.statuses.Load(); got < 1 {
			t.Errorf("status requests before the sign-out: got %d, want at least 1", got)
		}
		waitCount(t, &srv.expired, 1, "logout:expired events")
	})

	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(fmt.Sprintf("browser clock %+v off", skew), func(t *testing.T) {
			t.Parallel()
			srv := newBackend(t, settings(6, 2, true))
			tb := newTab(t, b, browsertest.TabOptions{Isolated: true, Init: shiftClock(skew)})
			start := time.Now() // before the session starts
			tb.open(srv.URL + "/login")
			if got := browsertest.Eval[float64](tb.Tab, `Date.now() - performance.timeOrigin - performance.now()`); (time.Duration(got)*time.Millisecond - skew).Abs() > time.Minute {
				t.Fatalf("clock shift not in effect: browser is %v ms off, want %v", got, skew)
			}
			if got := tb.Text(".logout-counter"); !regexp.MustCompile(`^00:0[3-6]$`).MatchString(got) {
				t.Errorf("counter: got %q, want 00:06 or a little less", got)
			}
			tb.Wait(5*time.Second, "the dialog", dialogOpen)
			if got := time.Since(start); got < 3*time.Second {
				t.Errorf("dialog after %v, want about 4 s", got)
			}
			tb.signedOut(6 * time.Second)
			if got := time.Since(start); got < 5*time.Second {
				t.Errorf("signed out after %v, want about 6 s", got)
			}
		})
	}

	t.Run("server down during the warning never signs out early", func(t *testing.T) {
		t.Parallel()
		srv := newBackend(t, settings(4, 3, true))
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		tb.Wait(3*time.Second, "the dialog", dialogOpen)
		srv.down.Store(true)
		deadline := time.Now().Add(3 * time.Second)
		tb.Do(chromedp.Click(chromedp.CSS(".logout-stay")))
		tb.Wait(2*time.Second, "the retry notice", `document.querySelector('.logout-note').textContent === "Can't reach the server, retrying…"`)

		// Three seconds past the deadline: still on the page, still trying.
		time.Sleep(time.Until(deadline.Add(3 * time.Second))) // the server stays down in real time
		if got := tb.Location(); !strings.HasSuffix(got, "/backend/") {
			t.Fatalf("page while the server is down: got %s, want /backend/", got)
		}
		if !tb.dialogOpen() || tb.Text(".logout-note") == "" {
			t.Errorf("dialog while the server is down: open %v, note %q", tb.dialogOpen(), tb.Text(".logout-note"))
		}
		if got := srv.refused.Load(); got < 2 || got > 8 {
			t.Errorf("requests while down for about 6 s: got %d, want a few with backoff", got)
		}

		srv.down.Store(false)
		if q := tb.signedOut(10 * time.Second); q.Get("reason") != "idle" {
			t.Errorf("sign-in query: got %v, want reason=idle", q)
		}
	})
}

// waitCount waits a little for n to reach want: a beacon may arrive after
// the navigation it preceded.
func waitCount(t *testing.T, n *atomic.Int32, want int32, what string) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); n.Load() < want && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond) // the beacon travels in real time
	}
	if got := n.Load(); got != want {
		t.Errorf("%s: got %d, want %d", what, got, want)
	}
}

func setLifetime(t *testing.T, m *logout.Manager, d time.Duration) {
	t.Helper()
	s, err := m.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Lifetime = d
	if _, err := m.UpdateSettings(context.Background(), s, "test"); err != nil {
		t.Fatal(err)
	}
}

// shiftClock returns a script that moves the page's Date by d, as a
// browser whose clock is wrong.
func shiftClock(d time.Duration) string {
	return fmt.Sprintf(`(() => {
  const off = %d, D = Date, now = D.now.bind(D);
  function S(...a) {
    if (!new.target) return new D(now() + off).toString();
    return a.length ? new D(...a) : new D(now() + off);
  }
  S.prototype = D.prototype;
  S.now = () => now() + off;
  S.parse = D.parse;
  S.UTC = D.UTC;
  window.Date = S;
})();`, d.Milliseconds())
}
