package backend_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func sessionCookie(c *client, e *env) string {
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "logout_session" {
			return ck.Value
		}
	}
	return ""
}

func TestSignIn(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	page := c.get("/backend/auth/signin")
	checkPage(t, page, "en")
	wantContains(t, page.body, `autocomplete="username"`, `autocomplete="current-password"`, `<label for="username">`)

	// A session the browser carried before is ended and replaced at
	// sign-in (as when two tabs show the form after a timeout).
	tok := csrf(t, page.body)
	form := url.Values{"csrf_token": {tok}, "username": {"admin"}, "password": {adminPassword}}
	wantStatus(t, c.post("/backend/auth/signin", form), http.StatusSeeOther)
	first := sessionCookie(c, e)
	if first == "" {
		t.Fatal("no session cookie after sign-in")
	}
	form.Set("username", "editor")
	form.Set("password", editorPassword)
	wantStatus(t, c.post("/backend/auth/signin", form), http.StatusSeeOther)
	if second := sessionCookie(c, e); second == first || second == "" {
		t.Errorf("session cookie not renewed at sign-in: %q then %q", first, second)
	}
	n, err := e.app.Manager().CountSessions(t.Context(), "")
	if err != nil || n != 1 {
		t.Errorf("sessions after signing in twice: got %d (%v), want 1", n, err)
	}
	// Signed in, the sign-in page goes to the backend.
	r := c.get("/backend/auth/signin?return=%2Fbackend%2Fsystem%2Fsessions")
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/backend/system/sessions" {
		t.Errorf("Location: got %q", got)
	}
}

func TestSignInWrong(t *testing.T) {
	e := start(t, "", nil)
	for _, tt := range []struct{ name, user, password string }{
		{"wrong password", "admin", "nope-nope-nope"},
		{"unknown user", "mallory", adminPassword},
		{"empty", "", ""},
		{"too long", "admin", strings.Repeat("x", 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			r := c.signIn(tt.user, tt.password, nil)
			wantStatus(t, r, http.StatusUnauthorized)
			checkPage(t, r, "en")
			wantContains(t, r.body, "Wrong user name or password.", `value="`+tt.user+`"`, `aria-invalid="true"`, `aria-describedby="signin-error"`)
			if strings.Contains(r.body, tt.password) && tt.password != "" {
				t.Error("the password is echoed in the page")
			}
			if sessionCookie(c, e) != "" {
				t.Error("a session cookie was set")
			}
		})
	}
	t.Run("case-insensitive user name", func(t *testing.T) {
		e.client().mustSignIn("ADMIN", adminPassword)
	})
}

func TestSignInRateLimit(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	for i := range 10 {
		if r := c.signIn("admin", "wrong-password", nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %d, want 401", i+1, r.StatusCode)
		}
	}
	r := c.signIn("admin", adminPassword, nil)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	e.clock.Advance(11 * 60 * 1e9)
	c.mustSignIn("admin", adminPassword)
}

func TestReturnPath(t *testing.T) {
	e := start(t, "", nil)
	for _, tt := range []struct {
		name, ret, want string
	}{
		{"same-origin path kept", "/backend/system/sessions?x=1", "/backend/system/sessions?x=1"},
		{"scheme-relative", "//evil.example", "/backend"},
		{"absolute", "https://evil.example", "/backend"},
		{"absolute http", "http://evil.example/backend", "/backend"},
		{"backslash", `/\evil.example`, "/backend"},
		{"encoded slashes", "%2F%2Fevil.example", "/backend"},
		{"encoded slash after slash", "/%2Fevil.example", "/backend"},
		{"encoded backslash", "/%5Cevil.example", "/backend"},
		{"encoded backslash lower", "/%5cevil.example", "/backend"},
		{"javascript", "javascript:alert(1)", "/backend"},
		{"tab trick", "/\t/evil.example", "/backend"},
		{"leading space", " //evil.example", "/backend"},
		{"userinfo", "/@evil.example", "/@evil.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			page := c.get("/backend/auth/signin?return=" + url.QueryEscape(tt.ret))
			wantStatus(t, page, 200)
			if tt.want == "/backend" && strings.Contains(page.body, `name="return" value="`+html.EscapeString(tt.ret)+`"`) {
				t.Errorf("unsafe return %q is kept in the form", tt.ret)
			}
			r := c.signIn("admin", adminPassword, url.Values{"return": {tt.ret}})
			wantStatus(t, r, http.StatusSeeOther)
			if got := r.Header.Get("Location"); got != tt.want {
				t.Errorf("after sign-in: got Location %q, want %q", got, tt.want)
			}
			r = c.get("/lang?lang=en&return=" + url.QueryEscape(tt.ret))
			want := tt.want
			if want == "/backend" {
				want = "/"
			}
			if got := r.Header.Get("Location"); got != want {
				t.Errorf("language switch: got Location %q, want %q", got, want)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	wantStatus(t, c.get("/backend/session/signout"), http.StatusMethodNotAllowed)
	r := c.post("/backend/session/signout", url.Values{"csrf_token": {c.token()}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/backend/auth/signin?reason=manual" {
		t.Errorf("Location: got %q", got)
	}
	r = c.follow(r)
	wantContains(t, r.body, "You have signed out.")
	wantStatus(t, c.get("/backend"), http.StatusSeeOther)
}

// TestCSRF posts every form without a token, with a wrong one, and with
// the right one from another site: each is refused and changes nothing.
func TestCSRF(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	good := c.token()
	posts := []struct {
		name, path string
		form       url.Values
	}{
		{"settings save", "/backend/system/settings/user-session", url.Values{"version": {"0"}, "lifetime": {"10"}, "warning_lead": {"5"}}},
		{"settings reset", "/backend/system/settings/user-session/reset", url.Values{"version": {"0"}, "confirm": {"yes"}}},
		{"force sign-out", "/backend/system/sessions/signout", url.Values{"scope": {"user"}, "user": {"1"}}},
		{"sign-out", "/backend/session/signout", url.Values{}},
		{"draft", "/backend/draft", url.Values{"title": {"x"}}},
		{"sign-in", "/backend/auth/signin", url.Values{"username": {"admin"}, "password": {adminPassword}}},
	}
	for _, p := range posts {
		for _, tt := range []struct {
			name, token, site string
		}{
			{"missing", "", ""},
			{"wrong", "x" + good[1:], ""},
			{"cross-site", good, "cross-site"},
		} {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range p.form {
					form[k] = v
				}
				if tt.token != "" {
					form.Set("csrf_token", tt.token)
				}
				if p.name == "sign-in" && tt.token == good {
					// The sign-in form's own token, bound to the pre-session cookie.
					anon := e.client()
					form.Set("csrf_token", csrf(t, anon.get("/backend/auth/signin").body))
					anon.header.Set("Sec-Fetch-Site", tt.site)
					r := anon.post(p.path, form)
					wantStatus(t, r, http.StatusForbidden)
					return
				}
				if tt.site != "" {
					c.header.Set("Sec-Fetch-Site", tt.site)
					defer c.header.Del("Sec-Fetch-Site")
				}
				r := c.post(p.path, form)
				wantStatus(t, r, http.StatusForbidden)
			})
		}
	}
	// Nothing changed: still signed in, settings untouched, no draft.
	r := c.get("/backend")
	wantStatus(t, r, 200)
	if strings.Contains(r.body, `value="x"`) {
		t.Error("the draft was saved")
	}
	if s, _ := e.app.Manager().Settings(t.Context()); s.Version != 0 {
		t.Errorf("settings version: got %d, want 0", s.Version)
	}
	if evs, _ := e.app.Manager().Events(t.Context(), 10); len(evs) != 0 {
		t.Errorf("sign-outs: got %v, want none", evs)
	}
}
