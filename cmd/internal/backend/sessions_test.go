package backend_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/settingsform"
)

const sessionsURL = "/backend/system/sessions"

func TestForceSignOut(t *testing.T) {
	e := start(t, "", nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	ed1, ed2, admin2 := e.client(), e.client(), e.client()
	for _, s := range []struct {
		c          *client
		user, pass string
	}{{ed1, "editor", editorPassword}, {ed2, "editor", editorPassword}, {admin2, "admin", adminPassword}} {
		e.clock.Advance(time.Second) // sessions are listed by sign-in time
		s.c.mustSignIn(s.user, s.pass)
	}

	page := admin.get(sessionsURL)
	wantStatus(t, page, 200)
	wantContains(t, page.body, "This is you", "editor: 2 sessions", "admin: 2 sessions", "Sign out everyone else")
	if n := strings.Count(page.body, `name="scope" value="session"`); n != 4 {
		t.Errorf("sign-out buttons: got %d, want 4", n)
	}
	tok := csrf(t, page.body)
	ids := regexp.MustCompile(`name="id" value="([0-9a-f]{64})"`).FindAllStringSubmatch(page.body, -1)
	editorID := regexp.MustCompile(`name="user" value="(\d+)">\s*<button type="submit" class="button-quiet">Sign out all sessions of editor`).FindStringSubmatch(page.body)
	if len(ids) != 4 || editorID == nil {
		t.Fatalf("page lacks session IDs or the editor's user ID:\n%s", page.body)
	}

	// One session: the editor's first (sessions are listed by sign-in time).
	list, _ := e.app.Manager().Sessions(t.Context(), logout.ListOptions{})
	r := admin.post(sessionsURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"session"}, "id": {list[1].ID}})
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, admin.follow(r).body, "1 session signed out.", "Signed out by an administrator")
	r = ed1.get("/backend")
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.Contains(loc, "reason=forced") {
		t.Errorf("Location: got %q, want reason=forced", loc)
	}
	wantContains(t, ed1.follow(r).body, "You have been logged out by an administrator.")
	wantStatus(t, ed2.get("/backend"), 200)

	// Every session of a user.
	r = admin.post(sessionsURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"user"}, "user": {editorID[1]}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, ed2.get("/backend"), http.StatusSeeOther)

	// Everyone else: the other admin session ends, this one stays.
	r = admin.post(sessionsURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"others"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, admin2.get("/backend"), http.StatusSeeOther)
	page = admin.get(sessionsURL)
	wantStatus(t, page, 200)
	wantContains(t, page.body, "admin: 1 session")

	// A bad request changes nothing.
	for _, form := range []url.Values{{"scope": {"session"}}, {"scope": {"user"}}, {"scope": {"everyone"}}} {
		form.Set("csrf_token", tok)
		wantStatus(t, admin.post(sessionsURL+"/signout", form), http.StatusBadRequest)
	}
	wantStatus(t, admin.get("/backend"), 200)

	// Oneself: the answer that ends this session does not describe it as
	// alive; one that ends others' does.
	if got := r.Header.Get(logout.HeaderDeadline); got == "" {
		t.Errorf("%s after signing out everyone else: none, want this session's", logout.HeaderDeadline)
	}
	r = admin.post(sessionsURL+"/signout", url.Values{"csrf_token": {tok}, "scope": {"user"}, "user": {"1"}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get(logout.HeaderDeadline); got != "" {
		t.Errorf("%s after signing out oneself: got %q, want none", logout.HeaderDeadline, got)
	}
	wantStatus(t, admin.get("/backend"), http.StatusSeeOther)
}

func TestSignOutLogTranslated(t *testing.T) {
	e := start(t, "", nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	ed := e.client()
	ed.mustSignIn("editor", editorPassword)
	e.clock.Advance(14 * time.Minute)
	admin.get("/backend")
	e.clock.Advance(2 * time.Minute)
	if err := e.app.Manager().Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	admin.header.Set("Accept-Language", "cs")
	wantContains(t, admin.get(sessionsURL).body, "Vypršení kvůli nečinnosti", "Záznam odhlášení")
}

// TestRestart: a new App on the same data directory keeps the users, the
// sessions and the settings.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	clk := fakeclock.New()
	e := start(t, dir, clk)
	if got := len(e.app.Created()); got != 2 {
		t.Fatalf("first start created %d users, want 2", got)
	}
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	form := settingsForm(c.token(), "0")
	form.Set(settingsform.FieldLifetime, "1234")
	wantStatus(t, c.post(settingsURL, form), http.StatusSeeOther)
	clk.Advance(time.Minute)
	wantStatus(t, c.get("/backend"), 200)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.app.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.stop()

	clk.Advance(1233 * time.Second) // just within the saved lifetime
	e2 := start(t, dir, clk)
	if got := e2.app.Created(); got != nil {
		t.Errorf("restart created users again: %v", got)
	}
	c.e = e2 // same browser, same cookies
	r := c.get(settingsURL)
	wantStatus(t, r, 200)
	wantContains(t, r.body, `value="1234"`)
	c2 := e2.client()
	c2.mustSignIn("editor", editorPassword)
}

// TestTwoInstances: two Apps sharing a data directory, as two processes
// behind a load balancer.
func TestTwoInstances(t *testing.T) {
	dir := t.TempDir()
	clk := fakeclock.New()
	a, b := start(t, dir, clk), start(t, dir, clk)
	if len(b.app.Created()) != 0 {
		t.Error("the second instance created users too")
	}
	c := a.client()
	c.mustSignIn("admin", adminPassword) // form from a, posted to a
	c.e = b
	wantStatus(t, c.get("/backend"), 200) // session known to b

	// A sign-in form from one instance posts to the other.
	ed := a.client()
	page := ed.get("/backend/auth/signin")
	ed.e = b
	r := ed.post("/backend/auth/signin", url.Values{"csrf_token": {csrf(t, page.body)}, "username": {"editor"}, "password": {editorPassword}})
	wantStatus(t, r, http.StatusSeeOther)

	// A forced sign-out on b is in force on a after the sync interval.
	r = c.post(sessionsURL+"/signout", url.Values{"csrf_token": {c.token()}, "scope": {"user"}, "user": {"2"}})
	wantStatus(t, r, http.StatusSeeOther)
	clk.Advance(time.Second)
	ed.e = a
	wantStatus(t, ed.get("/backend"), http.StatusSeeOther)
}

// TestSessionsPaged: with many sessions of one user, the sessions page
// lists one page at a time, with counts, and the dashboard counts rather
// than lists.
func TestSessionsPaged(t *testing.T) {
	e := startWith(t, false, func(cfg *backend.Config) { cfg.Store = logout.NewMemoryStore() }) // orders by last activity
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	m := e.app.Manager()
	mine, err := m.Sessions(t.Context(), logout.ListOptions{Limit: 1})
	if err != nil || len(mine) != 1 {
		t.Fatalf("sessions %v %v", mine, err)
	}
	const extra = 120
	for range extra {
		e.clock.Advance(time.Millisecond)
		if _, err := m.SignIn(httptest.NewRecorder(), httptest.NewRequest("POST", "/backend/auth/signin", nil),
			logout.User{ID: mine[0].UserID, Roles: mine[0].Roles}); err != nil {
			t.Fatal(err)
		}
	}
	next := regexp.MustCompile(`href="/backend/system/sessions\?(after=[^"]+)" rel="next"`)
	for _, tc := range []struct {
		sort  string
		order logout.SessionOrder
	}{{"", logout.ActiveFirst}, {"newest", logout.NewestFirst}, {"oldest", logout.OldestFirst}, {"ending", logout.EndingFirst}} {
		t.Run("sort "+tc.sort, func(t *testing.T) {
			all, err := m.Sessions(t.Context(), logout.ListOptions{Order: tc.order, Limit: 1000})
			if err != nil || len(all) != extra+1 {
				t.Fatalf("sessions: %d, %v", len(all), err)
			}
			query := ""
			if tc.sort != "" {
				query = "sort=" + tc.sort
			}
			path, got := sessionsURL+"?"+query, []string{}
			for i, want := range []struct {
				rows  int
				label string
			}{{50, "1–50 of 121"}, {50, "51–100 of 121"}, {21, "101–121 of 121"}} {
				page := admin.get(path)
				wantStatus(t, page, 200)
				wantContains(t, page.body, "121 sessions in all.", "admin: 121 sessions", "<p>"+want.label+"</p>")
				ids := regexp.MustCompile(`name="id" value="([0-9a-f]{64})"`).FindAllStringSubmatch(page.body, -1)
				if len(ids) != want.rows {
					t.Fatalf("page %d lists %d sessions, want %d", i+1, len(ids), want.rows)
				}
				for _, id := range ids {
					got = append(got, id[1])
				}
				if len(page.body) > 128<<10 {
					t.Fatalf("page %d is %d bytes", i+1, len(page.body))
				}
				n := next.FindStringSubmatch(page.body)
				if (n == nil) != (i == 2) {
					t.Fatalf("page %d: next link %v", i+1, n)
				}
				if n != nil {
					path = sessionsURL + "?" + strings.ReplaceAll(n[1], "&amp;", "&")
					if (tc.sort != "") != strings.Contains(path, "sort="+tc.sort) {
						t.Fatalf("next link %s lost the order", path)
					}
				}
			}
			for i, s := range all {
				if got[i] != s.ID {
					t.Fatalf("session %d: got %s, want %s, in the order %s", i, got[i], s.ID, tc.sort)
				}
			}
		})
	}
	for _, bad := range []string{"x", "12", "-1.ab", ".ab", "12."} {
		wantStatus(t, admin.get(sessionsURL+"?after="+url.QueryEscape(bad)), http.StatusBadRequest)
	}
	stats := admin.get("/backend/api/stats")
	wantStatus(t, stats, 200)
	wantContains(t, stats.body, `"121"`)
}

// TestReasonInPageLanguage: a script told that its session ended (the
// widget's lock dialog shows the message) reads the reason in the
// language the browser asks for.
func TestReasonInPageLanguage(t *testing.T) {
	e := start(t, "", nil)
	ed := e.client()
	ed.mustSignIn("editor", editorPassword)
	if _, err := e.app.Manager().ForceSignOut(t.Context(), logout.Selector{All: true}); err != nil {
		t.Fatal(err)
	}
	ed.header.Set("Accept", "application/json")
	ed.header.Set("Accept-Language", "cs-CZ,cs;q=0.9")
	r := ed.get("/backend/session/status")
	wantStatus(t, r, http.StatusUnauthorized)
	var v struct{ Reason, Message string }
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if v.Reason != "forced" || v.Message != "Byli jste odhlášeni administrátorem." {
		t.Errorf("got reason %q message %q, want the Czech notice of a forced sign-out", v.Reason, v.Message)
	}
}
