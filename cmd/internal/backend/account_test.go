package backend_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
)

const accountURL = "/backend/account/sessions"

// ownRow finds the end buttons' sessions in the own sessions page: the id
// and the created of each row's form.
var ownRow = regexp.MustCompile(`name="id" value="([0-9a-f]{64})">\s*<input type="hidden" name="created" value="(\d+)">`)

// TestOwnSessions: a user without PermSessions sees and ends their own
// sessions, and only theirs.
func TestOwnSessions(t *testing.T) {
	e := start(t, "", nil)
	m := e.app.Manager()
	ed1, ed2, admin := e.client(), e.client(), e.client()
	for _, s := range []struct {
		c          *client
		user, pass string
	}{{ed1, "editor", editorPassword}, {ed2, "editor", editorPassword}, {admin, "admin", adminPassword}} {
		e.clock.Advance(time.Second)
		s.c.mustSignIn(s.user, s.pass)
	}
	all, err := m.Sessions(t.Context(), logout.ListOptions{})
	if err != nil || len(all) != 3 {
		t.Fatalf("sessions: got %d (err %v), want 3", len(all), err)
	}
	editor1, editor2, adminS := all[0], all[1], all[2]
	unchanged := func(t *testing.T, want int) {
		t.Helper()
		if n, err := m.CountSessions(t.Context(), logout.ListOptions{}); err != nil || n != want {
			t.Fatalf("sessions: got %d (err %v), want %d", n, err, want)
		}
	}

	page := ed1.get(accountURL)
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page.body, "Your sessions", "2 sessions in all.", "This is you", "Sign out everywhere else",
		`<a href="/backend/account/sessions" aria-current="page">Your sessions</a>`)
	rows := ownRow.FindAllStringSubmatch(page.body, -1)
	if len(rows) != 1 || rows[0][1] != editor2.ID || rows[0][2] != strconv.FormatInt(editor2.Created.UnixMicro(), 10) {
		t.Fatalf("end buttons: got %q, want one, for the other editor session %s", rows, editor2.ID)
	}
	if strings.Contains(page.body, adminS.ID[:8]) || strings.Count(page.body, "<tr") != 3 {
		t.Errorf("page shows another user's session, or not both of the user's:\n%s", page.body)
	}
	for _, c := range []*client{admin, ed1} {
		wantContains(t, c.get("/backend").body, `href="/backend/account/sessions"`)
	}
	wantContains(t, admin.get(accountURL).body, "1 session in all.")
	tok := csrf(t, page.body)
	end := func(id string, created time.Time) url.Values {
		return url.Values{"csrf_token": {tok}, "scope": {"session"}, "id": {id}, "created": {strconv.FormatInt(created.UnixMicro(), 10)}}
	}

	// Refusals change nothing.
	for _, tc := range []struct {
		name string
		c    *client
		form url.Values
		want int
	}{
		{"another user's session", ed1, end(adminS.ID, adminS.Created), http.StatusNotFound},
		{"another user's session, at one's own session's time", ed1, end(adminS.ID, editor2.Created), http.StatusNotFound},
		{"an unknown session", ed1, end(strings.Repeat("0", 64), editor2.Created), http.StatusNotFound},
		{"this session", ed1, end(editor1.ID, editor1.Created), http.StatusBadRequest},
		{"no id", ed1, url.Values{"csrf_token": {tok}, "scope": {"session"}}, http.StatusBadRequest},
		{"no created", ed1, url.Values{"csrf_token": {tok}, "scope": {"session"}, "id": {editor2.ID}}, http.StatusBadRequest},
		{"an unknown scope", ed1, url.Values{"csrf_token": {tok}, "scope": {"user"}, "user": {adminS.UserID}}, http.StatusBadRequest},
		{"no CSRF token", ed1, url.Values{"scope": {"others"}}, http.StatusForbidden},
		{"a wrong CSRF token", ed1, url.Values{"csrf_token": {tok + "x"}, "scope": {"others"}}, http.StatusForbidden},
		{"another session's CSRF token", admin, url.Values{"csrf_token": {tok}, "scope": {"others"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.c.post(accountURL+"/signout", tc.form), tc.want)
			unchanged(t, 3)
		})
	}
	r := ed1.get(accountURL + "/signout")
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow: got %q, want POST", got)
	}
	wantStatus(t, ed1.get(accountURL+"?after=bad"), http.StatusBadRequest)
	unchanged(t, 3)

	// The other session, by its row's button.
	r = ed1.post(accountURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"session"}, "id": {rows[0][1]}, "created": {rows[0][2]}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != accountURL+"?done=ended&n=1" {
		t.Errorf("Location: got %q", got)
	}
	wantContains(t, ed1.follow(r).body, "1 session ended.", "1 session in all.")
	wantStatus(t, ed2.get("/backend"), http.StatusSeeOther)
	wantStatus(t, ed1.get("/backend"), http.StatusOK)
	wantStatus(t, admin.get("/backend"), http.StatusOK)

	// Everywhere else: the editor's two new sessions, not the admin's.
	ed3 := e.client()
	ed2.mustSignIn("editor", editorPassword)
	ed3.mustSignIn("editor", editorPassword)
	r = ed1.post(accountURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"others"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.Header.Get(logout.HeaderDeadline) == "" {
		t.Errorf("%s after signing out everywhere else: none, want this session's", logout.HeaderDeadline)
	}
	ed1.header.Set("Accept-Language", "cs")
	wantContains(t, ed1.follow(r).body, "Ukončeny 2 relace.", "Celkem 1 relace.")
	for _, c := range []*client{ed2, ed3} {
		wantStatus(t, c.get("/backend"), http.StatusSeeOther)
	}
	wantStatus(t, ed1.get("/backend"), http.StatusOK)
	wantStatus(t, admin.get("/backend"), http.StatusOK)
	evs, err := m.QueryEvents(t.Context(), logout.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(evs, func(ev logout.Event) bool { return ev.SessionID == adminS.ID }); i >= 0 {
		t.Errorf("the admin's session ended: %+v", evs[i])
	}
	// The user signed those out: the other devices read so, not that an
	// administrator did.
	for _, ev := range evs {
		if ev.Reason != logout.ReasonManual {
			t.Errorf("a session ended on the own sessions page is logged %s, want manual: %+v", ev.Reason, ev)
		}
	}
}

// TestBrowserOwnSessions: the own sessions page passes axe-core and its
// end button works from the keyboard.
func TestBrowserOwnSessions(t *testing.T) {
	b := browsertest.NewBrowser(t)
	s := startSite(t)
	other := s.newTab(t, b, desktop, true)
	other.signIn("editor", editorPassword)
	for _, vp := range []viewport{desktop, narrow} {
		t.Run(vp.name, func(t *testing.T) {
			tb := s.newTab(t, b, vp, true)
			tb.signIn("editor", editorPassword)
			// At narrow width the navigation is in the Menu, opened first.
			const link = `el.matches('a') && el.textContent === 'Your sessions'`
			tb.tabTo("the Your sessions link or the Menu", link+` || el.matches('.navmenu summary')`, 30)
			if browsertest.Eval[bool](tb.Tab, `document.activeElement.matches('summary')`) {
				tb.Key(kb.Enter)
				tb.tabTo("the Your sessions link", link, 5)
			}
			browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
			tb.Key(kb.Enter)
			tb.Wait(5*time.Second, "the own sessions page", `!window.oldPage && location.pathname === '/backend/account/sessions' && document.readyState === 'complete'`)
			browsertest.Axe(t, tb.Ctx)

			before := len(s.sessions(t))
			tb.tabTo("an End button", `el.matches('#own-sessions tbody button')`, 40)
			browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
			tb.Key(kb.Enter)
			tb.Wait(5*time.Second, "the page again", `!window.oldPage && location.search === '?done=ended&n=1' && document.readyState === 'complete'`)
			if got := tb.notices(); got != "1 session ended." {
				t.Errorf("notice: got %q, want 1 session ended.", got)
			}
			if got := len(s.sessions(t)); got != before-1 {
				t.Errorf("sessions: got %d, want %d", got, before-1)
			}
			browsertest.Axe(t, tb.Ctx)
		})
	}
}
