package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/djangotest"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// client is a browser-like HTTP client that does not follow redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a page load (Sec-Fetch-Mode: navigate) and returns the
// response with its body read.
func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp, string(b)
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

var csrfRe = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

// signIn signs in to Django's admin through base.
func (c *client) signIn(user, password string) {
	c.t.Helper()
	resp, body := c.do("GET", "/admin/login/?next=/admin/", nil)
	m := csrfRe.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		c.t.Fatalf("sign-in page: status %d, CSRF token found %v", resp.StatusCode, m != nil)
	}
	resp, _ = c.do("POST", "/admin/login/?next=/admin/", url.Values{
		"csrfmiddlewaretoken": {m[1]}, "username": {user}, "password": {password}, "next": {"/admin/"}})
	if resp.StatusCode != http.StatusFound || c.cookie("sessionid") == "" {
		c.t.Fatalf("sign in: got status %d and sessionid %q, want 302 and a session", resp.StatusCode, c.cookie("sessionid"))
	}
}

// djangoProxy starts a proxy in front of dj on a fake clock.
func djangoProxy(t *testing.T, dj *djangotest.Django, store logout.Store, clock *fakeclock.Clock) (*proxy.Proxy, *httptest.Server) {
	t.Helper()
	set := logout.DefaultSettings()
	set.Lifetime, set.WarningLead = 60*time.Second, 10*time.Second
	p, err := proxy.New(store, proxy.Options{
		Upstream: dj.URL, Profile: proxy.Django(),
		Logout: logout.Options{Clock: clock, Defaults: &set},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func TestDjango(t *testing.T) {
	dj := djangotest.Start(t)

	t.Run("idle session ends on time, dead everywhere", func(t *testing.T) {
		clock := fakeclock.New()
		_, srv := djangoProxy(t, dj, logout.NewMemoryStore(), clock)
		c := newClient(t, srv.URL)
		c.signIn(dj.User, dj.Password)
		old := c.cookie("sessionid")

		resp, body := c.do("GET", "/admin/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `class="logout-counter"`) || !strings.Contains(body, `data-logout-proxy-target="#user-tools"`) {
			t.Fatalf("dashboard: status %d, counter injected %v", resp.StatusCode, strings.Contains(body, "logout-counter"))
		}
		if !strings.Contains(body, `id="user-tools"`) {
			t.Fatal("dashboard: Django's user tools are missing")
		}
		if got, want := resp.Header.Get(logout.HeaderDeadline), strconv.FormatInt(clock.Now().Add(60*time.Second).UnixMilli(), 10); got != want {
			t.Fatalf("deadline: got %s, want %s", got, want)
		}

		// Activity resets the counter.
		clock.Advance(45 * time.Second)
		resp, _ = c.do("GET", "/admin/auth/user/", nil)
		if got, want := resp.Header.Get(logout.HeaderDeadline), strconv.FormatInt(clock.Now().Add(60*time.Second).UnixMilli(), 10); resp.StatusCode != 200 || got != want {
			t.Fatalf("after activity: status %d, deadline %s, want 200 and %s", resp.StatusCode, got, want)
		}

		// One second short of the deadline the session lives; at it, it ends.
		clock.Advance(59 * time.Second)
		resp, _ = c.do("GET", "/admin/", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("1 s before the deadline: status %d, want 200", resp.StatusCode)
		}
		clock.Advance(60 * time.Second)
		resp, _ = c.do("GET", "/admin/", nil)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login/?") || !strings.Contains(loc, "reason=idle") {
			t.Fatalf("after the deadline: status %d to %q, want 303 to the sign-in page with reason=idle", resp.StatusCode, loc)
		}
		if c.cookie("sessionid") != "" {
			t.Fatal("the ended sessionid is still in the browser")
		}
		resp, body = c.do("GET", loc, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "You have been logged out!") || !strings.Contains(body, `name="next" value="/admin/"`) {
			t.Fatalf("sign-in page: status %d, notice %v, next kept %v", resp.StatusCode,
				strings.Contains(body, "You have been logged out!"), strings.Contains(body, `name="next" value="/admin/"`))
		}

		// A copy of the old cookie is dead through the proxy, and on Django itself.
		thief := newClient(t, srv.URL)
		u, _ := url.Parse(srv.URL)
		thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: "sessionid", Value: old, Path: "/"}})
		resp, _ = thief.do("GET", "/admin/", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("stolen cookie through the proxy: status %d, want 303", resp.StatusCode)
		}
		resp, body = thief.do("GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "<p id=who>anonymous</p>") {
			t.Fatalf("stolen cookie on the front end: status %d, body %q; want 200 as anonymous", resp.StatusCode, body)
		}
		direct := newClient(t, dj.URL.String())
		direct.c.Jar.SetCookies(dj.URL, []*http.Cookie{{Name: "sessionid", Value: old, Path: "/"}})
		resp, _ = direct.do("GET", "/admin/", nil)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/admin/login/") {
			t.Fatalf("old sessionid on Django directly: status %d to %q, want 302 to its sign-in (ended upstream too)", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("front end never redirected", func(t *testing.T) {
		clock := fakeclock.New()
		_, srv := djangoProxy(t, dj, logout.NewMemoryStore(), clock)
		c := newClient(t, srv.URL)
		c.signIn(dj.User, dj.Password)
		resp, body := c.do("GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "<p id=who>admin</p>") || strings.Contains(body, "logout-counter") {
			t.Fatalf("front end signed in: status %d body %q", resp.StatusCode, body)
		}
		clock.Advance(2 * time.Minute)
		resp, body = c.do("GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "<p id=who>anonymous</p>") {
			t.Fatalf("front end after the timeout: status %d body %q, want 200 as anonymous", resp.StatusCode, body)
		}
	})

	t.Run("forced sign-out", func(t *testing.T) {
		clock := fakeclock.New()
		p, srv := djangoProxy(t, dj, logout.NewMemoryStore(), clock)
		c := newClient(t, srv.URL)
		c.signIn(dj.User, dj.Password)
		if _, err := p.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: proxy.PanelUser(dj.User)}); err != nil {
			t.Fatal(err)
		}
		resp, _ := c.do("GET", "/admin/", nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "reason=forced") {
			t.Fatalf("after a forced sign-out: status %d to %q, want 303 with reason=forced", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("sign out on Django ends the session", func(t *testing.T) {
		clock := fakeclock.New()
		p, srv := djangoProxy(t, dj, logout.NewMemoryStore(), clock)
		c := newClient(t, srv.URL)
		c.signIn(dj.User, dj.Password)
		_, body := c.do("GET", "/admin/password_change/", nil)
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token on the password page")
		}
		resp, _ := c.do("POST", "/admin/logout/", url.Values{"csrfmiddlewaretoken": {m[1]}})
		if resp.StatusCode != 200 {
			t.Fatalf("sign out: status %d", resp.StatusCode)
		}
		n, err := p.Manager().CountSessions(context.Background(), logout.ListOptions{})
		if err != nil || n != 0 {
			t.Fatalf("sessions after signing out on Django: %d, %v; want 0", n, err)
		}
		evs, _ := p.Manager().Events(context.Background(), 1)
		if len(evs) != 1 || evs[0].Reason != logout.ReasonManual || evs[0].UserID != proxy.PanelUser(dj.User) {
			t.Fatalf("sign-out log: %+v, want one manual sign-out of %s", evs, dj.User)
		}
	})
}
