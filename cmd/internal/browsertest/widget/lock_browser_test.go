package widget_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
)

// preToken is the test backend's pre-session CSRF token of the sign-in
// contract; the users "ada" and "bob" sign in with the password "pw".
const preToken = "pre-session-token"

// signIn is the test backend's side of the sign-in contract: JSON
// answers for the widget's lock dialog.
func (b *backend) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":%q}`, msg)
	}
	if r.PostFormValue("csrf_token") != preToken {
		fail(http.StatusForbidden, "The sign-in form has expired. Please try again.")
		return
	}
	user := r.PostFormValue("username")
	if (user != "ada" && user != "bob") || r.PostFormValue("password") != "pw" {
		fail(http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	s, err := b.m.SignIn(w, r, b.user(user))
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	b.m.WriteSignedIn(w, r, s, "/backend/")
}

// streams counts the connections of the test backend's push stream.
type streams struct {
	mu          sync.Mutex
	open, total int
}

func (s *streams) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open += n
	if n > 0 {
		s.total += n
	}
}

func (s *streams) count() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.total
}

// events serves the Manager's push stream and counts its connections.
func (b *backend) events(w http.ResponseWriter, r *http.Request) {
	b.streams.add(1)
	defer b.streams.add(-1)
	b.m.Endpoints().ServeHTTP(w, r)
}

// user is the test backend's user who signs in with the name: the ID is
// the name, or with opaque IDs "id-" and the name.
func (b *backend) user(name string) logout.User {
	if b.opaque.Load() {
		return logout.User{ID: "id-" + name, Name: name}
	}
	return logout.User{ID: name, Name: name}
}

// forceSignOut signs the user of the name out, as an administrator would.
func (b *backend) forceSignOut(t *testing.T, name string) {
	if _, err := b.m.ForceSignOut(context.Background(), logout.Selector{UserID: b.user(name).ID}); err != nil {
		t.Errorf("force sign-out: %v", err)
	}
}

// Expressions about the lock in place.
const (
	lockOpen   = `document.querySelector('.logout-lock').open`
	lockClosed = `!document.querySelector('.logout-lock').open && !document.documentElement.classList.contains('logout-locked')`
	// mainHidden: the page's content is out of view and inert.
	mainHidden = `(m => m.getClientRects().length === 0 && !!m.closest('[inert]'))(document.querySelector('main'))`
	focusName  = `document.activeElement.name || document.activeElement.textContent`
)

// newLockBackend is a backend whose pages lock in place.
func newLockBackend(t *testing.T, s logout.Settings, push bool) *backend {
	srv := newBackend(t, s)
	srv.inPlace.Store(true)
	srv.push.Store(push)
	return srv
}

// lockByFetch forces ada out and lets the page find out by a fetch,
// which it keeps in window.pending; it waits for the lock.
func lockByFetch(t *testing.T, srv *backend, tb tab) {
	t.Helper()
	srv.forceSignOut(t, "ada")
	browsertest.Eval[chromedp.Void](tb.Tab, `void (window.pending = fetch('/backend/ping').then(r => r.status + ' ' + JSON.stringify(r.headers.get('Content-Type'))))`)
	tb.Wait(3*time.Second, "the lock dialog", lockOpen)
}

func TestBrowserLock(t *testing.T) {
	b := browsertest.NewBrowser(t)

	t.Run("same user signs in again by keyboard and the page resumes", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), false)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true, Width: 1000, Height: 700})
		tb.open(srv.URL + "/login")
		oldCSRF := browsertest.Eval[string](tb.Tab, `document.querySelector('input[name=csrf_token]').value`)
		tb.Do(chromedp.Focus(chromedp.ID("notes")))
		tb.Key("half an hour of typing")
		browsertest.Eval[chromedp.Void](tb.Tab, `document.getElementById('spacer').style.height = '3000px'; document.getElementById('appdlg').show();
			document.getElementById('notes').focus(); scrollTo(0, 1200)`)

		lockByFetch(t, srv, tb)
		if !browsertest.Eval[bool](tb.Tab, mainHidden) {
			t.Error("page content visible or not inert while locked")
		}
		if got := browsertest.Eval[string](tb.Tab, `document.body.innerText.trim()`); strings.Contains(got, "typing") || strings.Contains(got, "Dashboard") {
			t.Errorf("visible text while locked: %q", got)
		}
		if got := browsertest.Eval[string](tb.Tab, `document.querySelector('.logout-lock input[name=username]').value`); got != "ada" {
			t.Errorf("user name: got %q, want ada prefilled", got)
		}
		if got := browsertest.Eval[string](tb.Tab, focusName); got != "password" {
			t.Errorf("focus: got %q, want the password field", got)
		}
		tb.Wait(2*time.Second, "the reason announced", `document.querySelector('.logout-why').textContent.includes('administrator')`)
		browsertest.Axe(t, tb.Ctx)

		// Tab cycles inside the dialog: password, Sign in, the link, user name.
		for _, want := range []string{"Sign in", "Sign in as someone else", "username", "password"} {
			tb.Key(kb.Tab)
			if got := browsertest.Eval[string](tb.Tab, focusName); got != want {
				t.Errorf("after Tab: focus on %q, want %q", got, want)
			}
		}
		tb.Key(kb.Tab, chromedp.ModifierShift)
		if got := browsertest.Eval[string](tb.Tab, focusName); got != "username" {
			t.Errorf("after Shift+Tab: focus on %q, want username", got)
		}
		tb.Key(kb.Tab)

		// A wrong password: the message in the dialog, focus kept.
		tb.Key("nope" + kb.Enter)
		tb.Wait(3*time.Second, "the error", `document.querySelector('.logout-err').textContent === 'Wrong user name or password.'`)
		if got := browsertest.Eval[string](tb.Tab, focusName); got != "password" {
			t.Errorf("focus after the error: got %q, want the password field", got)
		}
		if !browsertest.Eval[bool](tb.Tab, lockOpen+` && `+mainHidden) {
			t.Error("unlocked by a wrong password")
		}

		tb.Key(strings.Repeat(kb.Backspace, 4) + "pw" + kb.Enter)
		tb.Wait(3*time.Second, "the page back", lockClosed)
		if got := browsertest.Eval[string](tb.Tab, `document.getElementById('notes').value`); got != "half an hour of typing" {
			t.Errorf("typed text: got %q", got)
		}
		if got := browsertest.Eval[float64](tb.Tab, `scrollY`); math.Abs(got-1200) > 1 {
			t.Errorf("scroll: got %v, want 1200", got)
		}
		if !browsertest.Eval[bool](tb.Tab, `document.getElementById('appdlg').open`) {
			t.Error("the page's dialog closed")
		}
		if got := tb.Focused(); got != "notes" {
			t.Errorf("focus: got %q, want it back on #notes", got)
		}
		if got := browsertest.Eval[string](tb.Tab, `document.title`); got != "Backend" {
			t.Errorf("title: got %q, want Backend", got)
		}

		// The refused fetch was sent once more and its promise got the answer.
		if got := browsertest.Eval[string](tb.Tab, `window.pending`); got != `200 "application/json"` {
			t.Errorf("the fetch refused while locked: got %q, want 200 with JSON", got)
		}
		if got := srv.pings.Load(); got != 2 {
			t.Errorf("ping requests: got %d, want 2: refused, then sent again once", got)
		}

		// Every CSRF token of the page is the new session's, and works.
		tokens := browsertest.Eval[[]string](tb.Tab, `[document.querySelector('input[name=csrf_token]').value,
			document.querySelector('meta[name=csrf-token]').content, document.querySelector('.logout-counter').dataset.csrfToken]`)
		if tokens[0] == oldCSRF || tokens[0] == "" || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
			t.Errorf("CSRF tokens after the sign-in: got %q, want three copies of a new one (old %q)", tokens, oldCSRF)
		}
		tb.Do(chromedp.Click(chromedp.CSS("#signout")))
		tb.signedOut(3 * time.Second)
	})

	t.Run("the lock dialog names the user by the name given at sign-in, not the ID", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), false)
		srv.opaque.Store(true) // ada's ID is id-ada
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		lockByFetch(t, srv, tb)
		if got := browsertest.Eval[string](tb.Tab, `document.querySelector('.logout-lock input[name=username]').value`); got != "ada" {
			t.Errorf("user name: got %q, want ada, the name she signs in with", got)
		}
		if got := browsertest.Eval[string](tb.Tab, focusName); got != "password" {
			t.Errorf("focus: got %q, want the password field", got)
		}
		tb.Key("pw" + kb.Enter)
		tb.Wait(3*time.Second, "the page back", lockClosed)
		if got := browsertest.Eval[string](tb.Tab, `document.querySelector('.logout-counter').dataset.user`); got != "id-ada" {
			t.Errorf("user after the sign-in: got %q, want id-ada", got)
		}
	})

	t.Run("another user goes to the start page and the draft is gone", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), false)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		browsertest.Eval[chromedp.Void](tb.Tab, `localStorage.setItem('draft:ada', 'secret'); window.marker = 1`)
		lockByFetch(t, srv, tb)
		browsertest.Eval[chromedp.Void](tb.Tab, `(f => { f.value = ''; f.focus(); })(document.querySelector('.logout-lock input[name=username]'))`)
		tb.Key("bob" + kb.Tab + "pw" + kb.Enter)
		tb.Wait(5*time.Second, "bob's start page", `!window.marker && location.pathname === '/backend/' && document.querySelector('.logout-counter')`)
		if got := browsertest.Eval[string](tb.Tab, `document.querySelector('.logout-counter').dataset.user`); got != "bob" {
			t.Errorf("page's user: got %q, want bob", got)
		}
		if got := browsertest.Eval[bool](tb.Tab, `localStorage.getItem('draft:ada') === null`); !got {
			t.Error("ada's draft kept after bob signed in")
		}
		if got := srv.pings.Load(); got != 1 {
			t.Errorf("ping requests: got %d, want 1: ada's request is not sent for bob", got)
		}
	})

	t.Run("preview shows the warning, then the lock, and signs in for real", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), false)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		before, err := srv.m.Settings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tb.Do(chromedp.Click(chromedp.ID("preview")))
		tb.Wait(time.Second, "the warning", dialogOpen)
		tb.Wait(4*time.Second, "the lock, as a preview", lockOpen+` && document.querySelector('.logout-lock.logout-preview') && `+mainHidden)
		tb.Wait(time.Second, "the preview's message", `document.querySelector('.logout-why').textContent.startsWith('Preview')`)
		tb.Key(kb.Escape)
		tb.Wait(time.Second, "the preview to end", lockClosed)
		if !browsertest.Eval[bool](tb.Tab, `fetch('/backend/ping').then(r => r.ok)`) {
			t.Error("the session ended with the preview")
		}

		browsertest.Eval[chromedp.Void](tb.Tab, `logoutPreview(1)`)
		tb.Wait(4*time.Second, "the lock again", lockOpen)
		tb.Key("pw" + kb.Enter)
		tb.Wait(3*time.Second, "the page back", lockClosed)
		if !browsertest.Eval[bool](tb.Tab, `fetch('/backend/ping').then(r => r.ok)`) {
			t.Error("no session after signing in from the preview")
		}
		after, err := srv.m.Settings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("settings changed by the preview:\n%+v\nwant\n%+v", after, before)
		}
	})

	t.Run("a forced sign-out locks an idle tab within 1 s, by push", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), true)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		waitStreams(t, srv, 1)
		statuses := srv.statuses.Load()

		admin := newTab(t, b, browsertest.TabOptions{Isolated: true}) // another browser
		admin.Do(chromedp.Navigate(srv.URL + "/host.js"))
		browsertest.Eval[bool](admin.Tab, `fetch('/force', {method: 'POST'}).then(r => r.ok)`)
		start := time.Now()
		tb.Wait(2*time.Second, "the lock", lockOpen+` && `+mainHidden)
		if got := time.Since(start); got > time.Second {
			t.Errorf("locked %v after the forced sign-out, want within 1 s", got)
		}
		if got := srv.statuses.Load() - statuses; got != 0 {
			t.Errorf("status requests: got %d, want none: the push stream told", got)
		}
		tb.Wait(time.Second, "the reason", `document.querySelector('.logout-why').textContent.includes('administrator')`)
	})

	t.Run("a request in flight at the deadline keeps the page", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(3, 0, true), true)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.open(srv.URL + "/login")
		browsertest.Eval[chromedp.Void](tb.Tab, `void (window.upload = fetch('/backend/slow').then(r => r.text()))`)
		// Two seconds past the deadline the upload still runs: the page
		// asked the server, which keeps the session while it works.
		time.Sleep(5 * time.Second) // a real browser counts down in real time
		if browsertest.Eval[bool](tb.Tab, lockOpen) {
			t.Fatal("locked while a request was in flight")
		}
		if got := srv.statuses.Load(); got < 1 {
			t.Errorf("status requests at the deadline: got %d, want at least 1", got)
		}
		close(srv.slow)
		if got := browsertest.Eval[string](tb.Tab, `window.upload`); got != "done" {
			t.Errorf("upload: got %q", got)
		}
		// Its end counts as activity: a new deadline, and the counter runs.
		tb.Wait(2*time.Second, "a fresh counter", `/^00:0[1-3]$/.test(document.querySelector('.logout-counter').textContent)`)
		tb.Wait(6*time.Second, "the lock once idle", lockOpen)
	})

	t.Run("twenty tabs share one push stream", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), true)
		owner := newTab(t, b, browsertest.TabOptions{Isolated: true}) // holds the browser context
		owner.Do(chromedp.Navigate(srv.URL + "/host.js"))
		browsertest.Eval[bool](owner.Tab, `fetch('/login').then(r => r.ok)`)
		var tabs []tab
		for range 20 {
			tb := newTab(t, owner.Ctx, browsertest.TabOptions{})
			tb.open(srv.URL + "/backend/")
			tabs = append(tabs, tb)
		}
		first := tabs[0] // the leader: it loaded first
		waitStreams(t, srv, 1)
		if open, total := srv.streams.count(); open != 1 || total != 1 {
			t.Errorf("push connections of 20 tabs: got %d open, %d in all; want 1", open, total)
		}

		// The leader closes: another tab takes the stream over.
		if err := chromedp.Cancel(first.Ctx); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(5 * time.Second); ; {
			if open, total := srv.streams.count(); open == 1 && total == 2 {
				break
			}
			if time.Now().After(end) {
				open, total := srv.streams.count()
				t.Fatalf("after the leader closed: %d open, %d in all; want 1 open, 2 in all", open, total)
			}
			time.Sleep(50 * time.Millisecond) // the browser reconnects in real time
		}

		// A sign-out elsewhere reaches every tab through it.
		srv.forceSignOut(t, "ada")
		for _, tb := range tabs[1:] {
			tb.Wait(3*time.Second, "every tab locked", lockOpen)
		}
	})
}

// waitStreams waits for n open push connections.
func waitStreams(t *testing.T, srv *backend, n int) {
	t.Helper()
	waitStreamsFor(t, srv, "at least "+strconv.Itoa(n)+" open", func(open, _ int) bool { return open >= n })
}

// waitStreamsFor waits up to 5 s until ok holds of the push connections
// open now and opened in all; want says what ok wants.
func waitStreamsFor(t *testing.T, srv *backend, want string, ok func(open, total int) bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; {
		open, total := srv.streams.count()
		if ok(open, total) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("push connections: %d open, %d in all; want %s", open, total, want)
		}
		time.Sleep(20 * time.Millisecond) // the browser connects in real time
	}
}
