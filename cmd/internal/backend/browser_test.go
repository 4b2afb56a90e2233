package backend_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/browsertest"
)

// The browser tests drive Debian's Chromium through chromedp against the
// real backend: backend.New on a temporary data directory with the SQLite
// store, served on loopback, on the real clock. Tests that wait for a
// sign-out use lifetimes of a few seconds and poll with deadlines.

// Viewports of the tests, in CSS pixels at device scale 1.
var (
	desktop = viewport{"desktop", 1280, 800}
	narrow  = viewport{"narrow", 375, 812}
)

type viewport struct {
	name          string
	width, height int64
}

// site is one App with its background work, behind an httptest server.
type site struct {
	*httptest.Server
	app *backend.App
}

// startSite starts an App on a new data directory, with the default
// SQLite store and the real clock, and runs it until t ends.
func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, nil)
}

// startSiteWith is startSite with the config changed by edit, when not
// nil, and the App's handler behind wrap's, if given.
func startSiteWith(t *testing.T, edit func(*backend.Config), wrap ...func(http.Handler) http.Handler) *site {
	t.Helper()
	cfg := backend.Config{
		DataDir: t.TempDir(), BcryptCost: bcrypt.MinCost,
		AdminPassword: adminPassword, EditorPassword: editorPassword,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if edit != nil {
		edit(&cfg)
	}
	app, err := backend.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("backend.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	h := app.Handler()
	for _, w := range wrap {
		h = w(h)
	}
	s := &site{Server: httptest.NewServer(h), app: app}
	t.Cleanup(func() {
		s.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := app.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// set changes the settings in force, as the settings page would: the
// lifetime and warning in seconds, and whether the counter shows.
func (s *site) set(t testing.TB, lifetime, lead int, counter bool) {
	t.Helper()
	m := s.app.Manager()
	cur, err := m.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cur.Lifetime = time.Duration(lifetime) * time.Second
	cur.WarningLead = time.Duration(lead) * time.Second
	cur.ShowCounter = counter
	if _, err := m.UpdateSettings(context.Background(), cur, "test"); err != nil {
		t.Fatalf("settings %+v: %v", cur, err)
	}
}

// sessions returns the signed-in sessions, with their deadlines.
func (s *site) sessions(t testing.TB) []logout.Session {
	t.Helper()
	list, err := s.app.Manager().Sessions(context.Background(), logout.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// deadline returns the deadline of the only signed-in session.
func (s *site) deadline(t testing.TB) time.Time {
	t.Helper()
	list := s.sessions(t)
	if len(list) != 1 {
		t.Fatalf("sessions: got %d, want 1", len(list))
	}
	return list[0].Deadline
}

// A tab is a browser tab on a site.
type tab struct {
	browsertest.Tab
	s *site
}

// newTab opens a tab on s below parent: the browser's context for a new
// browser context (a new visitor), or another tab's to share its cookies.
func (s *site) newTab(t *testing.T, parent context.Context, vp viewport, isolated bool) tab {
	t.Helper()
	return tab{browsertest.NewTab(t, parent, browsertest.TabOptions{Isolated: isolated, Width: vp.width, Height: vp.height}), s}
}

// open loads the path of the site and waits for the page to be ready.
func (tb tab) open(path string) {
	tb.T.Helper()
	tb.Do(chromedp.Navigate(tb.s.URL + path))
	tb.Wait(5*time.Second, path+" to load", `document.readyState === 'complete'`)
}

// load runs a step that loads a new page (a click on a link or a submit
// button) and waits for the new page to be ready.
func (tb tab) load(step chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
	tb.Do(step)
	tb.Wait(5*time.Second, "a new page", `!window.oldPage && document.readyState === 'complete'`)
}

// click clicks the first element that the CSS selector matches.
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// fill sets the value of the field with the id.
func fill(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.ID(id), value)
}

// signIn signs in through the sign-in form and waits for the dashboard.
func (tb tab) signIn(user, password string) {
	tb.T.Helper()
	tb.open("/backend/auth/signin")
	tb.Do(fill("username", user), fill("password", password))
	tb.load(click("form.signin button[type=submit]"))
	tb.wantPath("/backend")
}

// wantPath fails the test unless the tab shows path (query aside).
func (tb tab) wantPath(path string) {
	tb.T.Helper()
	if got := browsertest.Eval[string](tb.Tab, `location.pathname`); got != path {
		tb.T.Fatalf("page: got %s, want %s", tb.Location(), path)
	}
}

// notices returns the texts of the notices above the page's content.
func (tb tab) notices() string {
	tb.T.Helper()
	return browsertest.Eval[string](tb.Tab, `[...document.querySelectorAll('main > .notice')].map(n => n.textContent).join(' | ')`)
}

// signedOut waits for the sign-in page and returns its query.
func (tb tab) signedOut(timeout time.Duration) url.Values {
	tb.T.Helper()
	tb.Wait(timeout, "the sign-in page", `location.pathname === '/backend/auth/signin' && document.readyState === 'complete'`)
	u, err := url.Parse(tb.Location())
	if err != nil {
		tb.T.Fatal(err)
	}
	return u.Query()
}

// seconds returns the counter's time left in seconds, or -1 when it
// does not read MM:SS.
func (tb tab) seconds() int {
	tb.T.Helper()
	return browsertest.Eval[int](tb.Tab, `(m => m ? +m[1] * 60 + +m[2] : -1)(/^(\d\d):(\d\d)$/.exec(document.querySelector('.logout-counter').textContent))`)
}

// tabTo presses Tab until the focused element el satisfies the JavaScript
// predicate, at most max times.
func (tb tab) tabTo(what, pred string, max int) {
	tb.T.Helper()
	for i := 0; ; i++ {
		if browsertest.Eval[bool](tb.Tab, `(el => !!(`+pred+`))(document.activeElement)`) {
			return
		}
		if i == max {
			tb.T.Fatalf("after %d presses of Tab, focus is on %q, not on %s", max, tb.Focused(), what)
		}
		tb.Key(kb.Tab)
	}
}

const (
	// lockOpen: the page is locked in place; mainHidden: its content is
	// out of view and inert.
	lockOpen     = `document.querySelector('.logout-lock').open`
	mainHidden   = `(m => m.getClientRects().length === 0 && !!m.closest('[inert]'))(document.querySelector('main'))`
	dialogOpen   = `document.querySelector('.logout-dialog').open`
	dialogClosed = `!document.querySelector('.logout-dialog').open`
	// stayFocused: focus is on "Stay signed in", inside the open dialog.
	stayFocused = `document.activeElement.matches('dialog[open] .logout-stay')`
	// The messages of the sign-in page, in English.
	loggedOut = "You have been logged out!"
	signedOff = "You have signed out."
)

func TestBrowser(t *testing.T) {
	b := browsertest.NewBrowser(t)

	for _, vp := range []viewport{desktop, narrow} {
		t.Run("axe-core on every page at "+vp.name+" width", func(t *testing.T) {
			t.Parallel()
			s := startSite(t)
			admin := s.newTab(t, b, vp, true)
			editor := s.newTab(t, b, vp, true)
			// check runs axe-core on the page that step leads to.
			check := func(name string, tb tab, step func(tb tab)) {
				t.Run(name, func(t *testing.T) {
					tb := tab{tb.With(t), s}
					step(tb)
					browsertest.Axe(t, tb.Ctx)
				})
			}

			check("front page", admin, func(tb tab) { tb.open("/") })
			check("sign-in page", admin, func(tb tab) { tb.open("/backend/auth/signin") })
			check("sign-in page after a timeout", admin, func(tb tab) {
				tb.open("/backend/auth/signin?reason=idle&return=%2Fbackend")
				if got := tb.notices(); got != loggedOut {
					tb.T.Errorf("notice: got %q, want %q", got, loggedOut)
				}
			})
			check("sign-in page with a wrong password", admin, func(tb tab) {
				tb.Do(fill("username", "admin"), fill("password", "not-the-password"))
				tb.load(click("form.signin button[type=submit]"))
				if got := tb.Text("#signin-error"); got != "Wrong user name or password." {
					tb.T.Errorf("error: got %q", got)
				}
			})
			check("dashboard", admin, func(tb tab) { tb.signIn("admin", adminPassword) })
			check("dashboard with the menu open", admin, func(tb tab) {
				// The menu replaces the sidebar on narrow screens only.
				shown := browsertest.Eval[bool](tb.Tab, `(d => (d.open = true, d.querySelector('.nav').getClientRects().length > 0))(document.querySelector('details.navmenu'))`)
				if want := vp == narrow; shown != want {
					tb.T.Errorf("menu shown: got %v, want %v", shown, want)
				}
			})
			check("front page signed in", admin, func(tb tab) {
				tb.open("/")
				if got := tb.Text("main"); !strings.Contains(got, "Signed in to the backend as admin.") {
					tb.T.Errorf("front page: got %q, want it signed in", got)
				}
			})
			check("settings page", admin, func(tb tab) {
				tb.open("/backend/system/settings/user-session")
				tb.wantPath("/backend/system/settings/user-session")
			})
			check("settings page with a validation error", admin, func(tb tab) {
				tb.Do(fill("f-lifetime", "1e3"))
				tb.load(click("form.settings button[type=submit]"))
				tb.Wait(time.Second, "the error summary", `document.querySelector('.error-summary')`)
			})
			check("403 page of the editor", editor, func(tb tab) {
				// A sign-out first, so that the sign-out log has a row.
				tb.signIn("editor", editorPassword)
				tb.load(click(".signout button"))
				tb.signIn("editor", editorPassword)
				tb.open("/backend/system/settings/user-session")
				if got := tb.Text("h1"); got != "Access denied" {
					tb.T.Errorf("h1: got %q, want Access denied", got)
				}
			})
			check("active sessions page", admin, func(tb tab) {
				tb.open("/backend/system/sessions")
				tb.wantPath("/backend/system/sessions")
				tb.Wait(time.Second, "two sessions and a sign-out", `document.querySelectorAll('tbody tr').length === 3`)
			})
			check("warning dialog", admin, func(tb tab) {
				s.set(tb.T, 120, 119, true)
				tb.open("/backend")
				tb.Wait(2*time.Second, "the dialog", dialogOpen+` && `+stayFocused)
			})
		})
	}

	t.Run("the settings page explains the lifetime and the counter in its own words", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		// help is the text that describes the field to a person who sees
		// it and to a screen reader: its first aria-describedby.
		const help = `(id => document.getElementById(document.getElementById(id).getAttribute('aria-describedby').split(' ')[0]).textContent.trim())`
		for _, tc := range []struct{ lang, lifetime, counter string }{
			{"en", "Signs a user out after this many seconds without activity. Every page opened and every request made in the backend counts as activity.",
				"Shows the time left until the sign-out next to the user's avatar. When it is off, the warning and the sign-out happen as usual."},
			{"pl", "Wylogowuje użytkownika po tylu sekundach bez aktywności. Aktywnością jest każde otwarcie strony i każde żądanie w panelu.",
				"Pokazuje obok awatara użytkownika czas pozostały do wylogowania. Gdy licznik jest wyłączony, ostrzeżenie i wylogowanie następują jak zwykle."},
			{"cs", "Odhlásí uživatele po tolika sekundách nečinnosti. Za aktivitu se počítá každé otevření stránky a každý požadavek v administraci.",
				"Zobrazí vedle avataru uživatele čas zbývající do odhlášení. Je-li odpočet vypnutý, varování i odhlášení proběhnou jako obvykle."},
		} {
			t.Run(tc.lang, func(t *testing.T) {
				tb := tab{tb.With(t), s}
				tb.open("/lang?lang=" + tc.lang + "&return=" + url.QueryEscape("/backend/system/settings/user-session"))
				tb.wantPath("/backend/system/settings/user-session")
				if got := browsertest.Eval[string](tb.Tab, `document.documentElement.lang`); got != tc.lang {
					t.Fatalf("page language: got %q, want %q", got, tc.lang)
				}
				for _, f := range []struct{ id, want string }{{"f-lifetime", tc.lifetime}, {"f-show_counter", tc.counter}} {
					if got := browsertest.Eval[string](tb.Tab, help+`(`+strconv.Quote(f.id)+`)`); got != f.want {
						t.Errorf("help of #%s:\n got %q\nwant %q", f.id, got, f.want)
					}
				}
			})
		}
	})

	t.Run("keyboard only: sign in, reach the settings, stay signed in", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		tb.open("/backend")
		tb.wantPath("/backend/auth/signin")

		tb.tabTo("the user name", `el.id === 'username'`, 10)
		tb.Key("admin")
		tb.tabTo("the password", `el.id === 'password'`, 1)
		tb.Key(adminPassword)
		browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
		tb.Key(kb.Enter)
		tb.Wait(5*time.Second, "the dashboard", `!window.oldPage && location.pathname === '/backend' && document.readyState === 'complete'`)

		tb.tabTo("the User Session link", `el.matches('.sidebar a') && el.textContent === 'User Session'`, 20)
		tb.Key(kb.Enter)
		tb.Wait(5*time.Second, "the settings page", `location.pathname === '/backend/system/settings/user-session' && document.readyState === 'complete'`)

		// A 6 s lifetime with a 4 s warning, typed into the form; Tab
		// selects a field's text, so typing replaces it.
		tb.tabTo("the lifetime field", `el.id === 'f-lifetime'`, 30)
		tb.Key("6")
		tb.tabTo("the warning field", `el.id === 'f-warning_lead'`, 3)
		tb.Key("4")
		tb.Key(kb.Enter)
		tb.Wait(5*time.Second, "the saved settings", `location.search === '?done=saved' && document.readyState === 'complete'`)
		if got := tb.notices(); !strings.HasPrefix(got, "Settings saved.") {
			t.Fatalf("notice: got %q, want Settings saved", got)
		}
		if cur, err := s.app.Manager().Settings(context.Background()); err != nil || cur.Lifetime != 6*time.Second || cur.WarningLead != 4*time.Second {
			t.Fatalf("saved settings: got lifetime %v and warning %v (err %v), want 6s and 4s", cur.Lifetime, cur.WarningLead, err)
		}

		for _, key := range []string{kb.Enter, kb.Escape} {
			tb.Wait(5*time.Second, "the dialog", dialogOpen)
			tb.Wait(time.Second, "focus on Stay signed in", stayFocused)
			before := s.deadline(t)
			tb.Key(key)
			tb.Wait(2*time.Second, "the dialog to close", dialogClosed)
			// The dialog closes once the keep-alive has answered.
			if after := s.deadline(t); !after.After(before.Add(500 * time.Millisecond)) {
				t.Errorf("after %q: deadline %v, want it extended past %v", key, after, before)
			}
			if got := tb.seconds(); got < 3 || got > 6 {
				t.Errorf("after %q: counter at %d s, want about 6", key, got)
			}
		}
		tb.wantPath("/backend/system/settings/user-session")
	})

	t.Run("counter next to the avatar counts in the right format", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		if !browsertest.Eval[bool](tb.Tab, `!!document.querySelector('.account .avatar ~ .counter .logout-counter:not([hidden])')`) {
			t.Fatal("no visible counter next to the avatar")
		}
		for _, tc := range []struct {
			lifetime int
			want     string
		}{
			{900, `^(15:00|14:5\d)$`},
			{7200, `^(02:00:00|01:59:5\d)$`},
			{2 * 86400, `^(2 days 00:00:00|1 day 23:59:5\d)$`},
		} {
			s.set(t, tc.lifetime, 60, true)
			tb.open("/backend")
			if got := tb.Text(".logout-counter"); !regexp.MustCompile(tc.want).MatchString(got) {
				t.Errorf("lifetime %d s: counter %q, want %s", tc.lifetime, got, tc.want)
			}
		}
		tb.Wait(3*time.Second, "the counter to count down", `/^1 day 23:59:5[0-8]$/.test(document.querySelector('.logout-counter').textContent)`)
	})

	t.Run("Refresh stats moves the counter to the server's deadline", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		s.set(t, 60, 10, true)
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		if got := tb.seconds(); got < 58 {
			t.Errorf("counter after sign-in: got %d s, want about 60", got)
		}

		// The server's lifetime changes: the fetch's response carries
		// the new deadline, and the counter follows it.
		s.set(t, 45, 10, true)
		tb.Do(click("[data-stats-url] button[type=submit]"))
		tb.Wait(3*time.Second, "the stats to refresh", `document.querySelector('[data-stats-status]').textContent !== ''`)
		if got := tb.Text("[data-stats-status]"); got != "Stats refreshed; the counter started again." {
			t.Errorf("stats status: got %q", got)
		}
		tb.Wait(2*time.Second, "about 00:45", `/^00:4[0-5]$/.test(document.querySelector('.logout-counter').textContent)`)
		left := time.Until(s.deadline(t)).Seconds()
		if got := float64(tb.seconds()); math.Abs(got-left) > 1.5 {
			t.Errorf("counter: got %v s, want the server's %.1f s", got, left)
		}
		tb.wantPath("/backend")
	})

	t.Run("the Time left card counts down with the counter", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		s.set(t, 60, 10, false) // hidden, the counter still counts
		tabA := s.newTab(t, b, desktop, true)
		tabA.signIn("admin", adminPassword)
		const card = `document.querySelector('[data-stat="time_left"]').textContent`
		const same = card + ` === document.querySelector('.logout-counter').textContent`
		first := browsertest.Eval[string](tabA.Tab, card)
		tabA.Wait(3*time.Second, "the card to count down from "+first,
			fmt.Sprintf(`%s !== %q && /^00:5\d$/.test(%s) && %s`, card, first, card, same))
		tabA.Wait(3*time.Second, "the card at 00:57 or less", `/^00:([0-4]\d|5[0-7])$/.test(`+card+`)`)

		// Refresh stats: the card follows the counter to the new deadline.
		tabA.Do(click("[data-stats-url] button[type=submit]"))
		tabA.Wait(2*time.Second, "the card back at about 01:00", `/^(01:00|00:59)$/.test(`+card+`) && `+same)
		tabA.Wait(4*time.Second, "the card at 00:57 or less", `/^00:([0-4]\d|5[0-7])$/.test(`+card+`)`)

		// Activity in another tab moves the counter, and the card with it.
		tabB := s.newTab(t, tabA.Ctx, desktop, false)
		tabB.open("/backend/system/sessions")
		tabA.Wait(2*time.Second, "the card back at about 01:00 after the other tab's request", `/^(01:00|00:59)$/.test(`+card+`) && `+same)
		tabA.wantPath("/backend")
	})

	t.Run("drafts are kept for their user only, and an explicit sign-out removes them all", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		const drafts = `Object.keys(localStorage).filter(k => k.startsWith('backend:draft:')).sort().join(' ')`
		const title = `document.getElementById('draft-title').value`
		const noticeHidden = `document.querySelector('[data-draft-notice]').hidden`

		// The admin's unsaved text is kept when the session times out.
		tb.signIn("admin", adminPassword)
		adminKey := browsertest.Eval[string](tb.Tab, `'backend:draft:' + document.querySelector('form[data-draft-key]').dataset.draftKey`)
		s.set(t, 4, 0, true) // no warning
		tb.open("/backend")
		tb.Do(fill("draft-title", "Admin's unsaved title"))
		tb.Wait(8*time.Second, "the page locked", lockOpen)
		if got := browsertest.Eval[string](tb.Tab, drafts); got != adminKey {
			t.Fatalf("kept drafts: got %q, want %q", got, adminKey)
		}
		s.set(t, 900, 60, true)

		// Another user on this browser gets none of it.
		tb.signIn("editor", editorPassword)
		if got := browsertest.Eval[string](tb.Tab, title); got != "" {
			t.Errorf("editor's draft title: got %q, want the admin's text not restored", got)
		}
		if !browsertest.Eval[bool](tb.Tab, noticeHidden) {
			t.Error("editor's dashboard shows a restored draft")
		}
		if got := browsertest.Eval[string](tb.Tab, drafts); got != adminKey {
			t.Errorf("kept drafts after the editor's sign-in: got %q, want the admin's %q", got, adminKey)
		}

		// The editor has unsaved text in two tabs and signs out in one:
		// no tab keeps a draft, and the admin's is removed too.
		browsertest.Eval[chromedp.Void](tb.Tab, `localStorage.setItem('unrelated', 'kept')`)
		tb.Do(fill("draft-title", "Editor's unsaved title"))
		other := s.newTab(t, tb.Ctx, desktop, false)
		other.open("/backend")
		other.Do(fill("draft-title", "Editor's other tab"))
		tb.Do(click(".signout button"))
		if q := tb.signedOut(3 * time.Second); q.Get("reason") != "manual" {
			t.Errorf("sign-in query: got %v, want reason=manual", q)
		}
		other.signedOut(3 * time.Second)
		for _, tab := range []tab{tb, other} {
			if got := browsertest.Eval[string](tab.Tab, drafts); got != "" {
				t.Errorf("kept drafts after the sign-out: got %q, want none", got)
			}
		}
		if got := browsertest.Eval[string](tb.Tab, `localStorage.getItem('unrelated')`); got != "kept" {
			t.Errorf("other localStorage: got %q, want it kept", got)
		}

		// The admin, back at this browser, finds nothing restored.
		tb.signIn("admin", adminPassword)
		if got := browsertest.Eval[string](tb.Tab, title); got != "" {
			t.Errorf("admin's draft title: got %q, want nothing restored after the sign-out", got)
		}
		if !browsertest.Eval[bool](tb.Tab, noticeHidden) {
			t.Error("admin's dashboard shows a restored draft after the sign-out")
		}
	})

	t.Run("two tabs: activity in one keeps the other; sign-out signs out both", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		s.set(t, 6, 2, true)
		tabB := s.newTab(t, b, desktop, true)
		tabB.signIn("admin", adminPassword)
		oldDeadline := s.deadline(t)
		tabA := s.newTab(t, tabB.Ctx, desktop, false)
		tabA.open("/backend")

		// A's user refreshes the stats at a human pace, past B's own
		// deadline; B never warns and stays.
		for time.Now().Before(oldDeadline.Add(2 * time.Second)) {
			tabA.Do(click("[data-stats-url] button[type=submit]"))
			if browsertest.Eval[bool](tabB.Tab, dialogOpen) {
				t.Fatalf("B warns although A is active: counter %q", tabB.Text(".logout-counter"))
			}
			time.Sleep(time.Second) // A's user works at a human pace
		}
		tabB.wantPath("/backend")
		if got := tabB.seconds(); got < 3 {
			t.Errorf("B's counter: got %d s, want it kept up by A", got)
		}

		tabA.Do(click(".signout button"))
		if q := tabA.signedOut(3 * time.Second); q.Get("reason") != "manual" {
			t.Errorf("A's sign-in query: got %v, want reason=manual", q)
		}
		tabB.signedOut(3 * time.Second)
		for _, tb := range []tab{tabA, tabB} {
			if got := tb.notices(); got != signedOff {
				t.Errorf("notice: got %q, want %q", got, signedOff)
			}
		}
		if got := s.sessions(t); len(got) != 0 {
			t.Errorf("sessions after the sign-out: got %d, want 0", len(got))
		}
	})

	for _, counter := range []bool{true, false} {
		t.Run(fmt.Sprintf("at zero the page locks and says logged out, counter shown %v", counter), func(t *testing.T) {
			t.Parallel()
			s := startSite(t)
			s.set(t, 3, 2, counter)
			tb := s.newTab(t, b, desktop, true)
			tb.signIn("admin", adminPassword)
			start := time.Now()
			visible := browsertest.Eval[bool](tb.Tab, `document.querySelector('.logout-counter').getClientRects().length > 0`)
			if visible != counter {
				t.Errorf("counter visible: got %v, want %v", visible, counter)
			}
			tb.Wait(6*time.Second, "the page locked", lockOpen+` && `+mainHidden)
			if got := time.Since(start); got < 2*time.Second {
				t.Errorf("locked %v after the dashboard loaded, want about 3 s", got)
			}
			tb.wantPath("/backend")
			tb.Wait(time.Second, "the reason", `document.querySelector('.logout-why').textContent === `+strconv.Quote(loggedOut))
			if got := s.sessions(t); len(got) != 0 {
				t.Errorf("sessions after the timeout: got %d, want 0", len(got))
			}
		})
	}

	t.Run("locked by a forced sign-out, another user signs in: the first user's draft goes", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		tb.Do(fill("draft-title", "Admin's unsaved title"))
		statuses := func() int {
			return browsertest.Eval[int](tb.Tab, `performance.getEntriesByType('resource').filter(e => e.name.endsWith('/status')).length`)
		}
		before := statuses()

		// An administrator elsewhere signs the admin out: the push stream
		// locks the idle tab at once, without polling.
		if _, err := s.app.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: "1"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tb.Wait(2*time.Second, "the page locked", lockOpen+` && `+mainHidden)
		if got := time.Since(start); got > time.Second {
			t.Errorf("locked %v after the forced sign-out, want within 1 s", got)
		}
		if got := statuses() - before; got != 0 {
			t.Errorf("status requests: got %d, want none", got)
		}
		if got := browsertest.Eval[string](tb.Tab, `Object.keys(localStorage).join()`); !strings.HasPrefix(got, "backend:draft:") {
			t.Errorf("drafts while locked: got %q, want the admin's kept", got)
		}

		browsertest.Eval[chromedp.Void](tb.Tab, `document.querySelector('.logout-lock input[name=username]').value = ''`)
		tb.Do(chromedp.Focus(chromedp.CSS(`.logout-lock input[name=username]`)))
		tb.Key("editor" + kb.Tab + editorPassword + kb.Enter)
		tb.Wait(5*time.Second, "the editor's start page", `document.querySelector('.username') && document.querySelector('.username').textContent.includes('editor')`)
		tb.wantPath("/backend")
		if got := browsertest.Eval[string](tb.Tab, `Object.keys(localStorage).join() + document.getElementById('draft-title').value`); got != "" {
			t.Errorf("admin's draft after the editor signed in: got %q, want it gone", got)
		}
	})

	t.Run("signed in again in the lock dialog, the page describes the new session", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)
		tb.signIn("admin", adminPassword)
		const stat = `(k => document.querySelector('[data-stat="' + k + '"]').textContent)`
		// relock ends the admin's session as an administrator elsewhere
		// would, lengthens the lifetime, so that the new session's
		// deadline differs from the old one's, and signs in again in the
		// lock dialog; it returns the new session.
		relock := func(tb tab, lifetime int) logout.Session {
			tb.T.Helper()
			if _, err := s.app.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: "1"}); err != nil {
				tb.T.Fatal(err)
			}
			// The push stream of a page just loaded may not be up yet: a
			// request of the page finds out as well.
			browsertest.Eval[chromedp.Void](tb.Tab, `void fetch('/backend/api/stats', {headers: {Accept: 'application/json'}})`)
			tb.Wait(3*time.Second, "the lock", lockOpen)
			s.set(tb.T, lifetime, 60, true)
			browsertest.Eval[chromedp.Void](tb.Tab, `window.samePage = true`)
			tb.Key(adminPassword + kb.Enter)
			tb.Wait(5*time.Second, "the page back", `!document.documentElement.classList.contains('logout-locked')`)
			if !browsertest.Eval[bool](tb.Tab, `window.samePage`) {
				tb.T.Error("the page reloaded")
			}
			list := s.sessions(tb.T)
			if len(list) != 1 {
				tb.T.Fatalf("sessions: got %d, want the new one", len(list))
			}
			return list[0]
		}

		t.Run("dashboard", func(t *testing.T) {
			tb := tab{tb.With(t), s}
			tb.Do(chromedp.Focus(chromedp.ID("draft-title")))
			old := browsertest.Eval[string](tb.Tab, stat+`('deadline')`)
			fresh := relock(tb, 1800)
			tb.Wait(5*time.Second, "the cards of the new session", stat+`('deadline') !== `+strconv.Quote(old))
			const layout = "2006-01-02 15:04:05"
			want := map[string]string{"signed_in": fresh.Created.Local().Format(layout), "sessions": "1"}
			for k, v := range want {
				if got := browsertest.Eval[string](tb.Tab, stat+`(`+strconv.Quote(k)+`)`); got != v {
					t.Errorf("%s: got %q, want %q (the new session's)", k, got, v)
				}
			}
			// The refresh is a request of the new session, and the fetch
			// refused while locked is sent again: the deadline the card
			// shows is the new session's as of one of them.
			got := browsertest.Eval[string](tb.Tab, stat+`('deadline')`)
			at, err := time.ParseInLocation(layout, got, time.Local)
			lo, hi := fresh.Created.Add(1800*time.Second).Truncate(time.Second), s.deadline(t)
			if err != nil || at.Before(lo) || at.After(hi) {
				t.Errorf("deadline: got %q, want the new session's, from %s to %s", got, lo.Local().Format(layout), hi.Local().Format(layout))
			}
			if got := tb.Focused(); got != "draft-title" {
				t.Errorf("focus: got %q, want it kept on the draft's title", got)
			}
			tb.Wait(2*time.Second, "the Time left card counting with the counter", stat+`('time_left') === document.querySelector('.logout-counter').textContent`)
		})
		t.Run("active sessions", func(t *testing.T) {
			tb := tab{tb.With(t), s}
			tb.open("/backend/system/sessions")
			// Focus on this device's Sign out button, in the table that the
			// new session replaces.
			browsertest.Eval[chromedp.Void](tb.Tab, `document.querySelector('tr.this-device button').focus()`)
			fresh := relock(tb, 2400)
			tb.Wait(5*time.Second, "this device's row of the new session", `document.querySelector('tr.this-device input[name=id]').value === `+strconv.Quote(fresh.ID))
			if got := browsertest.Eval[string](tb.Tab, `document.querySelector('tr.this-device input[name=id]').value`); got != fresh.ID {
				t.Errorf("this device's Sign out button ends %q, want the new session %q", got, fresh.ID)
			}
			if got := browsertest.Eval[int](tb.Tab, `document.querySelectorAll('#sessions-active tbody tr').length`); got != 1 {
				t.Errorf("sessions listed: got %d, want the new one", got)
			}
			if !browsertest.Eval[bool](tb.Tab, `document.activeElement === document.querySelector('tr.this-device button')`) {
				t.Errorf("focus: got %q, want it on this device's Sign out button", tb.Focused())
			}
			browsertest.Axe(t, tb.Ctx)
		})
	})

	t.Run("README walkthrough: a 10 s lifetime set in the settings form", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, desktop, true)

		// 1-2. Sign in, open System › User Session, set 10 s and 5 s.
		tb.signIn("admin", adminPassword)
		tb.load(click(`.sidebar a[href$="/system/settings/user-session"]`))
		tb.Do(fill("f-lifetime", "10"), fill("f-warning_lead", "5"))
		tb.load(click("form.settings button[type=submit]"))
		if got := tb.notices(); !strings.HasPrefix(got, "Settings saved.") {
			t.Fatalf("notice: got %q, want Settings saved", got)
		}

		// 3. The dashboard's counter shows 00:10 and counts down.
		tb.load(click(`.sidebar a[href="/backend"]`))
		if got := tb.seconds(); got < 9 || got > 10 {
			t.Errorf("counter on the dashboard: got %d s, want 10", got)
		}
		tb.Wait(3*time.Second, "the counter at 00:08", `/^00:0[0-8]$/.test(document.querySelector('.logout-counter').textContent)`)

		// 4. Refresh stats starts it again from 10.
		tb.Do(click("[data-stats-url] button[type=submit]"))
		tb.Wait(2*time.Second, "the counter back at 00:10", `/^00:(10|09)$/.test(document.querySelector('.logout-counter').textContent)`)

		// 5. Unsaved work, then the warning at 5 s and at 0 the page
		// locked in place: hidden, with a sign-in dialog over it.
		tb.Do(fill("draft-title", "Unsaved title"))
		tb.Wait(7*time.Second, "the warning", dialogOpen)
		tb.Wait(7*time.Second, "the page locked", lockOpen+` && `+mainHidden)
		tb.Wait(time.Second, "the reason", `document.querySelector('.logout-why').textContent === `+strconv.Quote(loggedOut))
		browsertest.Axe(t, tb.Ctx)

		// 6. The public front end is served, not redirected.
		front := s.newTab(t, tb.Ctx, desktop, false)
		front.open("/")
		front.wantPath("/")
		if got := front.Text("main"); !strings.Contains(got, "You are not signed in to the backend.") {
			t.Errorf("front page: got %q", got)
		}

		// 7. Signing in again in the dialog, by keyboard: the user name is
		// filled in, the page comes back as it was, without a reload.
		browsertest.Eval[chromedp.Void](tb.Tab, `window.samePage = true`)
		if got := browsertest.Eval[string](tb.Tab, `document.activeElement.name`); got != "password" {
			t.Errorf("focus in the lock dialog: got %q, want the password", got)
		}
		tb.Key(adminPassword + kb.Enter)
		tb.Wait(5*time.Second, "the page back", `!document.documentElement.classList.contains('logout-locked')`)
		if !browsertest.Eval[bool](tb.Tab, `window.samePage`) {
			t.Error("the page reloaded")
		}
		if got := browsertest.Eval[string](tb.Tab, `document.getElementById('draft-title').value`); got != "Unsaved title" {
			t.Errorf("draft title: got %q, want %q", got, "Unsaved title")
		}
		if got := browsertest.Eval[string](tb.Tab, `Object.keys(localStorage).join()`); got != "" {
			t.Errorf("kept drafts after resuming: got %q, want none: the form is live", got)
		}
		tb.Do(click("form.long-form button[type=submit]")) // the new CSRF token works
		tb.Wait(5*time.Second, "the draft saved", `document.querySelector('main > .notice') && !window.samePage`)
		if got := tb.notices(); !strings.Contains(got, "saved") {
			t.Errorf("notice after saving: got %q", got)
		}
	})
}

// shot takes a screenshot of the tab at 1280×800, device scale 1, and
// with LOGOUT_SCREENSHOTS=1 writes it to docs/name.
func shot(t *testing.T, tb tab, name string) {
	t.Helper()
	path := ""
	if os.Getenv("LOGOUT_SCREENSHOTS") == "1" {
		path = filepath.Join(browsertest.ModuleRoot(t), "docs", name)
	}
	b := browsertest.Screenshot(t, tb.Ctx, path)
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if cfg.Width != int(desktop.width) || cfg.Height != int(desktop.height) {
		t.Errorf("%s: got %dx%d, want %dx%d", name, cfg.Width, cfg.Height, desktop.width, desktop.height)
	}
}

// TestScreenshots takes the README's screenshots at 1280×800, device
// scale 1. It writes them to docs/ only with LOGOUT_SCREENSHOTS=1:
//
//	LOGOUT_SCREENSHOTS=1 go test -run Screenshot ./cmd/internal/backend/
func TestScreenshots(t *testing.T) {
	b := browsertest.NewBrowser(t)
	s := startSite(t)
	tb := s.newTab(t, b, desktop, true)
	tb.signIn("admin", adminPassword)
	// No focus ring or caret in the pictures.
	blur := func(tb tab) { browsertest.Eval[chromedp.Void](tb.Tab, `document.activeElement.blur()`) }

	t.Run("dashboard", func(t *testing.T) {
		tb := tab{tb.With(t), s}
		blur(tb)
		shot(t, tb, "dashboard.png")
	})
	t.Run("settings with an error", func(t *testing.T) {
		tb := tab{tb.With(t), s}
		tb.open("/backend/system/settings/user-session")
		tb.Do(fill("f-lifetime", "1e3"))
		tb.load(click("form.settings button[type=submit]"))
		tb.Wait(time.Second, "the error summary", `document.querySelector('.error-summary')`)
		blur(tb)
		shot(t, tb, "settings-error.png")
	})
	t.Run("warning dialog", func(t *testing.T) {
		tb := tab{tb.With(t), s}
		s.set(t, 61, 60, true)
		tb.open("/backend")
		tb.Wait(3*time.Second, "the dialog", dialogOpen)
		tb.Wait(2*time.Second, "the message", `document.querySelector('.logout-msg').textContent !== ''`)
		shot(t, tb, "warning-dialog.png")
	})
	// After the warning dialog: the rules it saves would hold the dialog back.
	t.Run("policies", func(t *testing.T) {
		tb := tab{tb.With(t), s}
		tb.open("/backend/system/settings/user-session")
		// By script: the role field's ID has a dot, which a CSS ID selector
		// would read as a class.
		browsertest.Eval[chromedp.Void](tb.Tab, `Object.entries({'f-policy': 'nist-aal3', 'f-lifetime': '900', 'f-absolute_lifetime': '43200',
			'f-role_lifetime.editor': '600', 'f-override-user-1': 'admin', 'f-override-lifetime-1': '3600'}).forEach(([id, v]) => document.getElementById(id).value = v)`)
		tb.load(click("form.settings button[type=submit]"))
		browsertest.Eval[chromedp.Void](tb.Tab, `document.querySelector('[data-policy]').scrollIntoView()`)
		blur(tb)
		shot(t, tb, "policies.png")
	})
	t.Run("lock in place", func(t *testing.T) {
		tb := tab{tb.With(t), s}
		s.set(t, 900, 60, true)
		tb.open("/backend")
		tb.Do(fill("draft-title", "Spring sale: what changes on 1 April"))
		if _, err := s.app.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: "1"}); err != nil {
			t.Fatal(err)
		}
		tb.Wait(3*time.Second, "the lock", lockOpen)
		tb.Wait(2*time.Second, "the reason", `document.querySelector('.logout-why').textContent !== ''`)
		blur(tb)
		shot(t, tb, "lock-in-place.png")
	})
}
