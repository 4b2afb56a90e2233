package main

import (
	"context"
	"encoding/csv"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/internal/paneltest"
	"github.com/gologout/logout/proxy"
)

// The real panels' end-to-end tests: Debian's WordPress and phpMyAdmin
// (package paneltest) behind the command, on a fake clock with a
// lifetime of 60 s (see start).

// proxyAdmin is the environment that names the proxy's administrator.
var proxyAdmin = map[string]string{"LOGOUT_ADMIN_USER": "proxyadmin", "LOGOUT_ADMIN_PASSWORD": "proxy-admin-password"}

// startWordPress serves WordPress behind the command with the wordpress
// profile; WordPress's site address is the proxy's.
func startWordPress(t *testing.T) (*paneltest.WordPress, *started) {
	t.Helper()
	wp := paneltest.StartWordPress(t)
	s := start(t, wp.URL.String(), proxyAdmin, "--profile", "wordpress")
	wp.Install(t, s.base)
	return wp, s
}

// wpSignIn signs in at WordPress's sign-in page, as a browser does: the
// page first (it sets WordPress's test cookie), then the form. WordPress
// redirects to the dashboard at its site address, the proxy's.
func (c *client) wpSignIn(wp *paneltest.WordPress) {
	c.t.Helper()
	c.do("GET", "/wp-login.php", nil)
	resp, _ := c.do("POST", "/wp-login.php", url.Values{"log": {wp.User}, "pwd": {wp.Password}, "testcookie": {"1"}, "redirect_to": {wp.Site + "/wp-admin/"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != wp.Site+"/wp-admin/" {
		c.t.Fatalf("WordPress sign-in at %s: status %d to %q, want 302 to %s/wp-admin/", c.base, resp.StatusCode, resp.Header.Get("Location"), wp.Site)
	}
}

// script sends a request as a page's script does (fetch, XMLHttpRequest),
// with the cookies of the jar, and returns the answer with its body read.
func (c *client) script(method, path, contentType, body string, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Sec-Fetch-Mode", "cors")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", c.base)
	req.Header.Set("Accept", "application/json, */*;q=0.1")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return c.send(req)
}

// cookies returns the jar's cookies for a path of the client's base.
func (c *client) cookies(path string) []*http.Cookie {
	u, _ := url.Parse(c.base + path)
	return c.c.Jar.Cookies(u)
}

// replay sends the cookies straight to the panel at base, around the
// proxy, as a thief of the cookies would.
func replay(t *testing.T, base, path string, cookies []*http.Cookie) (*http.Response, string) {
	t.Helper()
	direct := newClient(t, base)
	u, _ := url.Parse(base + path)
	direct.c.Jar.SetCookies(u, cookies)
	return direct.do("GET", path, nil)
}

// deadline returns the answer's Logout-Deadline as a time.
func deadline(t *testing.T, resp *http.Response) time.Time {
	t.Helper()
	ms, err := strconv.ParseInt(resp.Header.Get(logout.HeaderDeadline), 10, 64)
	if err != nil {
		t.Fatalf("no %s on the answer to %s (status %d)", logout.HeaderDeadline, resp.Request.URL.Path, resp.StatusCode)
	}
	return time.UnixMilli(ms)
}

// proxyAdminIn returns a client signed in to the proxy's admin pages.
// Their sessions follow the command's clock too, so a test that moves
// the clock signs in again where it needs them.
func proxyAdminIn(t *testing.T, s *started) *client {
	t.Helper()
	admin := newClient(t, s.base)
	admin.adminSignIn(proxyAdmin["LOGOUT_ADMIN_USER"], proxyAdmin["LOGOUT_ADMIN_PASSWORD"])
	return admin
}

// signOutLog returns the rows of the proxy's sign-out log of one user
// and reason, from its CSV export (at, user_id, user, reason, session).
func signOutLog(t *testing.T, s *started, userID string, reason logout.Reason) [][]string {
	t.Helper()
	resp, body := proxyAdminIn(t, s).do("GET", "/logout-proxy/system/sessions/log?format=csv", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-out log: status %d", resp.StatusCode)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 || len(rows[0]) != 5 {
		t.Fatalf("sign-out log: %v in %q", err, body)
	}
	var out [][]string
	for _, r := range rows[1:] {
		if r[1] == userID && r[3] == reason.String() {
			out = append(out, r)
		}
	}
	return out
}

// forceOut forces every session of user out on the sessions page.
func forceOut(t *testing.T, s *started, user string) {
	t.Helper()
	admin := proxyAdminIn(t, s)
	_, body := admin.do("GET", "/logout-proxy/system/sessions", nil)
	m := backendCSRF.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the sessions page")
	}
	resp, _ := admin.do("POST", "/logout-proxy/system/sessions/signout", url.Values{"csrf_token": {m[1]}, "scope": {"user"}, "user": {user}})
	if resp.StatusCode >= 400 {
		t.Fatalf("forced sign-out of %s: status %d", user, resp.StatusCode)
	}
}

var (
	wpLogOutLink   = regexp.MustCompile(`href="([^"]*/wp-login\.php\?action=logout[^"]*)"`)
	wpRESTNonce    = regexp.MustCompile(`createNonceMiddleware\( "([0-9a-f]+)" \)`)
	wpPostID       = regexp.MustCompile(`name='post_ID' value='(\d+)'`)
	wpHeartbeatKey = regexp.MustCompile(`heartbeatSettings = \{"nonce":"([0-9a-f]+)"`)
)

// wantSignInAgain loads path with an ended session and checks that the
// proxy sends the browser to the panel's sign-in page (signIn) with the
// reason, where the panel's form (a mark of it: form) shows under the
// reason's notice. It returns the sign-in page.
func (c *client) wantSignInAgain(path, signIn string, reason logout.Reason, form string) string {
	c.t.Helper()
	resp, _ := c.do("GET", path, nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, signIn+"?") || !strings.Contains(loc, "reason="+reason.String()) {
		c.t.Fatalf("%s with the ended session: status %d to %q, want 303 to %s with reason=%s", path, resp.StatusCode, loc, signIn, reason)
	}
	resp, body := c.do("GET", loc, nil)
	notice := `<div class="logout-proxy-notice" role="alert">` + html.EscapeString(reason.Message()) + `</div>`
	if resp.StatusCode != 200 || !strings.Contains(body, notice) || !strings.Contains(body, form) {
		c.t.Fatalf("sign-in page %s: status %d, notice %v, form %v", loc, resp.StatusCode, strings.Contains(body, notice), strings.Contains(body, form))
	}
	return body
}

// wpDashboard signs in through the proxy and loads the dashboard, from
// which the proxy learns the session's sign-out nonce; it returns the
// client and the cookies it holds for /wp-admin/.
func wpDashboard(t *testing.T, s *started, wp *paneltest.WordPress) (*client, []*http.Cookie) {
	t.Helper()
	c := newClient(t, s.base)
	c.wpSignIn(wp)
	if resp, _ := c.do("GET", "/wp-admin/", nil); resp.StatusCode != 200 {
		t.Fatalf("dashboard: status %d", resp.StatusCode)
	}
	return c, c.cookies("/wp-admin/")
}

// wpDead reports whether WordPress, asked directly, refuses the cookies:
// its admin redirects to its sign-in page instead of showing the
// dashboard.
func wpDead(t *testing.T, wp *paneltest.WordPress, cookies []*http.Cookie) (bool, string) {
	t.Helper()
	resp, body := replay(t, wp.URL.String(), "/wp-admin/", cookies)
	dead := resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "/wp-login.php")
	return dead, "status " + strconv.Itoa(resp.StatusCode) + " to " + resp.Header.Get("Location") + ", dashboard shown " + strconv.FormatBool(strings.Contains(body, "wp-admin-bar-top-secondary"))
}

// TestWordPressThroughCommand runs the command with the wordpress profile
// in front of Debian's WordPress and checks each guarantee on the real
// panel: sign-in, counter, heartbeat, block-editor saves, the idle end,
// forced sign-out, WordPress's own sign-out, and a session started around
// the proxy. WordPress's own session must be dead after the proxy ends
// one: its old cookies, replayed straight to WordPress, get no dashboard.
func TestWordPressThroughCommand(t *testing.T) {
	wp, s := startWordPress(t)
	userID := proxy.WordPress().UserID(wp.User)

	t.Run("sign-in starts a session of the panel's user", func(t *testing.T) {
		c := newClient(t, s.base)
		c.wpSignIn(wp)
		// The page names the panel's users "<login> (panel)".
		row := `<th scope="row">` + wp.User + ` (panel)</th>`
		resp, body := proxyAdminIn(t, s).do("GET", "/logout-proxy/system/sessions", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, row) {
			t.Fatalf("sessions page: status %d, lists %s: %v", resp.StatusCode, row, strings.Contains(body, row))
		}
	})

	t.Run("the dashboard gets the counter in the admin bar", func(t *testing.T) {
		c := newClient(t, s.base)
		c.wpSignIn(wp)
		resp, body := c.do("GET", "/wp-admin/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `data-logout-proxy-target="#wp-admin-bar-top-secondary"`) || !strings.Contains(body, "logout-counter") {
			t.Fatalf("dashboard: status %d, counter %v", resp.StatusCode, strings.Contains(body, "logout-counter"))
		}
		if got, want := deadline(t, resp), s.clock.Now().Add(60*time.Second); !got.Equal(want) {
			t.Fatalf("deadline: got %v, want %v", got, want)
		}
	})

	t.Run("the heartbeat does not count, a block-editor save does", func(t *testing.T) {
		c := newClient(t, s.base)
		c.wpSignIn(wp)
		resp, body := c.do("GET", "/wp-admin/post-new.php", nil)
		nonce, id, hb := wpRESTNonce.FindStringSubmatch(body), wpPostID.FindStringSubmatch(body), wpHeartbeatKey.FindStringSubmatch(body)
		if resp.StatusCode != 200 || nonce == nil || id == nil || hb == nil {
			t.Fatalf("block editor: status %d, REST nonce %v, post ID %v, heartbeat nonce %v", resp.StatusCode, nonce != nil, id != nil, hb != nil)
		}
		loaded := deadline(t, resp)

		s.clock.Advance(30 * time.Second)
		resp, body = c.script("POST", "/wp-admin/admin-ajax.php", "application/x-www-form-urlencoded; charset=UTF-8",
			url.Values{"action": {"heartbeat"}, "_nonce": {hb[1]}, "interval": {"60"}, "screen_id": {"post"}, "has_focus": {"false"}}.Encode(),
			map[string]string{"X-Requested-With": "XMLHttpRequest"})
		if resp.StatusCode != 200 || !strings.Contains(body, `"wp-auth-check":true`) {
			t.Fatalf("heartbeat: status %d, body %.200q; want 200 and WordPress's wp-auth-check true", resp.StatusCode, body)
		}
		if got := deadline(t, resp); !got.Equal(loaded) {
			t.Fatalf("heartbeat moved the deadline to %v, want it kept at %v", got, loaded)
		}

		for i, path := range []string{"/wp-json/wp/v2/posts/" + id[1], "/?rest_route=/wp/v2/posts/" + id[1]} {
			s.clock.Advance(10 * time.Second)
			title := "Saved through the proxy " + strconv.Itoa(i)
			resp, body = c.script("POST", path, "application/json", `{"title":"`+title+`","content":"<!-- wp:paragraph --><p>x</p><!-- /wp:paragraph -->","status":"draft"}`,
				map[string]string{"X-WP-Nonce": nonce[1]})
			if resp.StatusCode != 200 || !strings.Contains(body, title) {
				t.Fatalf("save %s: status %d, body %.300q", path, resp.StatusCode, body)
			}
			if got, want := deadline(t, resp), s.clock.Now().Add(60*time.Second); !got.Equal(want) {
				t.Fatalf("save %s: deadline %v, want %v (extended)", path, got, want)
			}
		}
		// 59 s after the last save the session lives on the server.
		s.clock.Advance(59 * time.Second)
		if resp, _ := c.do("GET", "/wp-admin/", nil); resp.StatusCode != 200 {
			t.Fatalf("59 s after a save: status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("the idle end ends WordPress's own session", func(t *testing.T) {
		c, old := wpDashboard(t, s, wp)
		s.clock.Advance(61 * time.Second)
		body := c.wantSignInAgain("/wp-admin/edit.php", "/wp-login.php", logout.ReasonIdle, `id="loginform"`)
		if !strings.Contains(body, `name="redirect_to" value="`+s.base+`/wp-admin/edit.php"`) && !strings.Contains(body, `name="redirect_to" value="/wp-admin/edit.php"`) {
			t.Errorf("sign-in page: the return to /wp-admin/edit.php is lost")
		}
		if dead, got := wpDead(t, wp, old); !dead {
			t.Fatalf("the old cookies straight to WordPress: %s; want 302 to its sign-in page (WordPress's session ended too)", got)
		}
	})

	t.Run("a forced sign-out ends WordPress's own session", func(t *testing.T) {
		c, old := wpDashboard(t, s, wp)
		forceOut(t, s, userID)
		s.clock.Advance(time.Second) // the SQLite store is reread every 500 ms
		c.wantSignInAgain("/wp-admin/", "/wp-login.php", logout.ReasonForced, `id="loginform"`)
		if dead, got := wpDead(t, wp, old); !dead {
			t.Fatalf("the old cookies straight to WordPress: %s; want 302 to its sign-in page", got)
		}
	})

	t.Run("WordPress's Log Out ends the session as manual", func(t *testing.T) {
		c := newClient(t, s.base)
		c.wpSignIn(wp)
		_, body := c.do("GET", "/wp-admin/", nil)
		m := wpLogOutLink.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no Log Out link on the dashboard")
		}
		link := strings.TrimPrefix(html.UnescapeString(m[1]), s.base)
		if rows := signOutLog(t, s, userID, logout.ReasonManual); len(rows) != 0 {
			t.Fatalf("sign-out log before: %v, want no manual sign-out of %s", rows, userID)
		}
		resp, _ := c.do("GET", link, nil)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "loggedout=true") {
			t.Fatalf("Log Out: status %d to %q, want WordPress's 302 to loggedout=true", resp.StatusCode, resp.Header.Get("Location"))
		}
		if rows := signOutLog(t, s, userID, logout.ReasonManual); len(rows) != 1 {
			t.Fatalf("sign-out log: %v, want one manual sign-out of %s", rows, userID)
		}
		if resp, _ := c.do("GET", "/wp-admin/", nil); resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/wp-login.php") {
			t.Fatalf("after Log Out: status %d to %q, want WordPress's 302 to its sign-in page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("a session signed in around the proxy is refused", func(t *testing.T) {
		direct := newClient(t, wp.URL.String())
		direct.wpSignIn(wp)
		if resp, _ := direct.do("GET", "/wp-admin/", nil); resp.StatusCode != 200 {
			t.Fatalf("WordPress directly: status %d, want its dashboard", resp.StatusCode)
		}
		c := newClient(t, s.base)
		u, _ := url.Parse(s.base + "/wp-admin/")
		c.c.Jar.SetCookies(u, direct.cookies("/wp-admin/"))
		resp, body := c.do("GET", "/wp-admin/", nil)
		if resp.StatusCode == 200 || strings.Contains(body, "wp-admin-bar-top-secondary") {
			t.Fatalf("a session the proxy never saw start: status %d, dashboard shown %v; want the sign-in page", resp.StatusCode, strings.Contains(body, "wp-admin-bar-top-secondary"))
		}
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "/wp-login.php") {
			t.Fatalf("a session the proxy never saw start: status %d to %q, want a redirect to the sign-in page", resp.StatusCode, loc)
		}
	})
}

// startPhpMyAdmin serves phpMyAdmin behind the command with the
// phpmyadmin profile.
func startPhpMyAdmin(t *testing.T) (*paneltest.PhpMyAdmin, *started) {
	t.Helper()
	pma := paneltest.StartPhpMyAdmin(t)
	return pma, start(t, pma.URL.String(), proxyAdmin, "--profile", "phpmyadmin")
}

var pmaToken = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// pmaSignIn signs in at phpMyAdmin's sign-in form, with the token of the
// page, and returns the token of the signed-in pages.
func (c *client) pmaSignIn(pma *paneltest.PhpMyAdmin) string {
	c.t.Helper()
	_, body := c.do("GET", "/index.php", nil)
	m := pmaToken.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no token on phpMyAdmin's sign-in page")
	}
	resp, _ := c.do("POST", "/index.php?route=/", url.Values{"pma_username": {pma.User}, "pma_password": {pma.Password}, "server": {"1"}, "token": {m[1]}, "set_session": {c.cookie("phpMyAdmin")}})
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("phpMyAdmin sign-in: status %d, want 302", resp.StatusCode)
	}
	resp, body = c.do("GET", "/index.php?route=/", nil)
	if m = pmaToken.FindStringSubmatch(body); resp.StatusCode != 200 || m == nil {
		c.t.Fatalf("phpMyAdmin's home: status %d, token %v", resp.StatusCode, m != nil)
	}
	return m[1]
}

// cookie returns the value of the jar's cookie of that name for the
// client's base, or "".
func (c *client) cookie(name string) string {
	for _, ck := range c.cookies("/") {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// pmaDead reports whether phpMyAdmin, asked directly, refuses the
// cookies: the database's structure is not shown.
func pmaDead(t *testing.T, pma *paneltest.PhpMyAdmin, cookies []*http.Cookie) (bool, string) {
	t.Helper()
	resp, body := replay(t, pma.URL.String(), "/index.php?route=/database/structure&db="+pma.Database, cookies)
	shown := strings.Contains(body, "table=items")
	return !shown, "status " + strconv.Itoa(resp.StatusCode) + ", the table shown " + strconv.FormatBool(shown)
}

// TestPhpMyAdminThroughCommand runs the command with the phpmyadmin
// profile in front of Debian's phpMyAdmin: sign-in, the counter, its AJAX
// navigation counted, the idle end and a forced sign-out ending
// phpMyAdmin's own session (the profile posts the pages' token to its
// sign-out), and its own sign-out noticed.
func TestPhpMyAdminThroughCommand(t *testing.T) {
	pma, s := startPhpMyAdmin(t)
	userID := proxy.PhpMyAdmin().UserID(pma.User)

	t.Run("sign-in, counter and navigation", func(t *testing.T) {
		c := newClient(t, s.base)
		c.pmaSignIn(pma)
		row := `<th scope="row">` + pma.User + ` (panel)</th>`
		if resp, body := proxyAdminIn(t, s).do("GET", "/logout-proxy/system/sessions", nil); resp.StatusCode != 200 || !strings.Contains(body, row) {
			t.Fatalf("sessions page: status %d, lists %s: %v", resp.StatusCode, row, strings.Contains(body, row))
		}
		resp, body := c.do("GET", "/index.php?route=/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "logout-counter") {
			t.Fatalf("home: status %d, counter %v", resp.StatusCode, strings.Contains(body, "logout-counter"))
		}
		s.clock.Advance(30 * time.Second)
		resp, body = c.script("GET", "/index.php?route=/database/structure&db="+pma.Database+"&ajax_request=true&ajax_page_request=true", "", "",
			map[string]string{"X-Requested-With": "XMLHttpRequest"})
		if resp.StatusCode != 200 || !strings.Contains(body, `"success":true`) || !strings.Contains(body, "items") {
			t.Fatalf("navigation: status %d, body %.300q", resp.StatusCode, body)
		}
		if got, want := deadline(t, resp), s.clock.Now().Add(60*time.Second); !got.Equal(want) {
			t.Fatalf("navigation: deadline %v, want %v (extended)", got, want)
		}
	})

	t.Run("the idle end ends phpMyAdmin's own session", func(t *testing.T) {
		c := newClient(t, s.base)
		c.pmaSignIn(pma)
		old := c.cookies("/")
		s.clock.Advance(61 * time.Second)
		c.wantSignInAgain("/index.php?route=/database/structure&db="+pma.Database, "/index.php", logout.ReasonIdle, `name="pma_username"`)
		if dead, got := pmaDead(t, pma, old); !dead {
			t.Fatalf("the old cookies straight to phpMyAdmin: %s; want its sign-in form (phpMyAdmin's session ended too)", got)
		}
	})

	t.Run("a forced sign-out ends phpMyAdmin's own session", func(t *testing.T) {
		c := newClient(t, s.base)
		c.pmaSignIn(pma)
		old := c.cookies("/")
		forceOut(t, s, userID)
		s.clock.Advance(time.Second) // the SQLite store is reread every 500 ms
		c.wantSignInAgain("/index.php?route=/", "/index.php", logout.ReasonForced, `name="pma_username"`)
		if dead, got := pmaDead(t, pma, old); !dead {
			t.Fatalf("the old cookies straight to phpMyAdmin: %s; want its sign-in form", got)
		}
	})

	t.Run("a session signed in around the proxy is refused", func(t *testing.T) {
		direct := newClient(t, pma.URL.String())
		direct.pmaSignIn(pma)
		c := newClient(t, s.base)
		u, _ := url.Parse(s.base + "/")
		c.c.Jar.SetCookies(u, direct.cookies("/"))
		resp, body := c.do("GET", "/index.php?route=/database/structure&db="+pma.Database, nil)
		if strings.Contains(body, "table=items") {
			t.Fatalf("a session the proxy never saw start: status %d, the database shown; want phpMyAdmin's sign-in form", resp.StatusCode)
		}
	})

	t.Run("phpMyAdmin's own sign-out ends the session as manual", func(t *testing.T) {
		c := newClient(t, s.base)
		token := c.pmaSignIn(pma)
		resp, _ := c.do("POST", "/index.php?route=/logout", url.Values{"token": {token}})
		if resp.StatusCode >= 400 {
			t.Fatalf("sign-out: status %d", resp.StatusCode)
		}
		if rows := signOutLog(t, s, userID, logout.ReasonManual); len(rows) != 1 {
			t.Fatalf("sign-out log: %v, want one manual sign-out of %s", rows, userID)
		}
	})
}

// Widget state in the page, for the Chromium tests.
const (
	// left is the counter's MM:SS in seconds.
	counterLeft = `(() => { const [m, s] = document.querySelector('.logout-counter').textContent.split(':'); return +m * 60 + +s; })()`
	// recheck has the widget ask the proxy's status endpoint (passive),
	// as it does when a page comes back from the back-forward cache.
	recheck = `dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))`
	// quiet holds once the page's own requests are done for a second:
	// the panel's scripts load more after the page (WordPress's dashboard
	// widgets and compression test), and each is activity.
	quiet = `document.readyState === 'complete' && !(window.jQuery && jQuery.active) && performance.now() - Math.max(0, ...performance.getEntriesByType('resource').map(e => e.responseEnd)) > 1000`
)

// pageErrors collects the uncaught exceptions, console errors and
// browser-log errors (failed loads) of a tab, from now on.
func pageErrors(t *testing.T, tab browsertest.Tab) func() []chromedp.ConsoleMessage {
	var mu sync.Mutex
	var errs []chromedp.ConsoleMessage
	msgs := chromedp.Console(tab.Ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				errs = append(errs, m)
				mu.Unlock()
			}
		}
	}()
	return func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// A step is one step of a browser test: what to do, and the JavaScript
// that is truthy once the page shows its outcome.
type step struct {
	name string
	do   func(tab browsertest.Tab)
	want string
}

// runSteps runs the steps in the tab in order, each a subtest that waits
// up to 10 s for its outcome; as each step starts where the last one
// ended, the first that fails ends t.
func runSteps(t *testing.T, tab browsertest.Tab, steps []step) {
	t.Helper()
	for _, st := range steps {
		if !t.Run(st.name, func(t *testing.T) {
			tab := tab.With(t)
			st.do(tab)
			tab.Wait(10*time.Second, st.name, st.want)
		}) {
			t.FailNow()
		}
	}
}

// headerOf returns the header's value from the browser's headers, whose
// names may be in any case.
func headerOf(h network.Headers, name string) string {
	for k, v := range h {
		if s, ok := v.(string); ok && strings.EqualFold(k, name) {
			return s
		}
	}
	return ""
}

// navigate loads u in the tab after the session ended. The page may
// navigate on its own at that moment (the panel's scripts, hearing 401,
// reload it), which aborts this load: the step's check then judges where
// the tab landed.
func navigate(tab browsertest.Tab, u string) {
	tab.T.Helper()
	if err := chromedp.Do(tab.Ctx, chromedp.Navigate(u)); err != nil && !strings.Contains(err.Error(), "ERR_ABORTED") {
		tab.T.Fatal(err)
	}
}

// TestWordPressInChromium: in Chromium through the command, WordPress's
// dashboard shows the counter in its admin bar; idle time on the
// server's clock shows, the warning opens before the deadline and "Stay
// signed in" extends the session; a save in the block editor counts as
// activity; the idle end lands on WordPress's sign-in page with the
// notice. axe-core checks the dashboard with the counter and the dialog.
func TestWordPressInChromium(t *testing.T) {
	br := browsertest.NewBrowser(t)
	wp, s := startWordPress(t) // lifetime 60 s, warning 10 s before
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true, Width: 1280, Height: 900})
	errs := pageErrors(t, tab)
	tab.Do(chromedp.Navigate(s.base + "/wp-admin/"))
	// WordPress focuses and selects the user field 200 ms after the page
	// loads: typing before then would be overwritten.
	tab.Wait(10*time.Second, "WordPress's sign-in form", `document.activeElement && document.activeElement.id === 'user_login'`)
	tab.Do(chromedp.SendKeys(chromedp.CSS(`#user_login`), wp.User),
		chromedp.SendKeys(chromedp.CSS(`#user_pass`), wp.Password),
		chromedp.Click(chromedp.CSS(`#wp-submit`)))
	const counter = `document.querySelector('#wp-admin-bar-top-secondary .logout-counter')`
	tab.Wait(15*time.Second, "the counter in WordPress's admin bar at 1:00", counter+` !== null && `+counterLeft+` >= 55`)
	tab.Wait(15*time.Second, "WordPress's own requests after the page load", quiet)
	// The counter, in the admin bar's list of WordPress's own items.
	browsertest.AxeWithin(t, tab.Ctx, "#wp-admin-bar-top-secondary")

	const dialog = `document.querySelector('.logout-dialog')`
	steps := []step{
		{"idle time on the server's clock shows", func(tab browsertest.Tab) {
			s.clock.Advance(30 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, counterLeft + ` <= 30 && ` + counterLeft + ` >= 25 && !` + dialog + `.open`},
		{"the warning opens before the deadline", func(tab browsertest.Tab) {
			s.clock.Advance(22 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, dialog + `.open && ` + counterLeft + ` > 0 && ` + counterLeft + ` <= 10`},
		{"axe-core on the dialog", func(tab browsertest.Tab) { browsertest.AxeWithin(tab.T, tab.Ctx, ".logout-dialog") }, dialog + `.open`},
		{"Stay signed in extends the session", func(tab browsertest.Tab) {
			tab.Do(chromedp.Click(chromedp.CSS(`.logout-dialog .logout-stay`)))
		}, `!` + dialog + `.open && ` + counterLeft + ` >= 55`},
		{"a save in the block editor counts", func(tab browsertest.Tab) {
			tab.Do(chromedp.Navigate(s.base + "/wp-admin/post-new.php"))
			tab.Wait(30*time.Second, "the block editor", `window.wp && wp.data && wp.data.select('core/editor') && wp.data.select('core/editor').getCurrentPostId() > 0 && document.querySelector('.logout-counter') !== null`)
			// The editor is fullscreen: its admin bar is hidden, and
			// the counter floats.
			tab.Wait(10*time.Second, "the counter floating over the fullscreen editor", `document.body.classList.contains('is-fullscreen-mode') && (b => b.classList.contains('logout-proxy-float') && b.getClientRects().length > 0)(document.querySelector('.logout-proxy-counter'))`)
			tab.Wait(15*time.Second, "the block editor's own requests after the page load", quiet)
			s.clock.Advance(40 * time.Second)
			// The editor saves through the REST API (/wp-json/), as its
			// "Save draft" button does; the answer to the save carries
			// the deadline that the save set.
			id := browsertest.Eval[int](tab, `wp.data.select('core/editor').getCurrentPostId()`)
			save := chromedp.Evaluate[bool](`(wp.data.dispatch('core/editor').editPost({title: 'Saved in Chromium'}), wp.data.dispatch('core/editor').savePost(), true)`)
			isSave := func(e network.EventResponseReceived) bool {
				u, err := url.Parse(e.Response.URL)
				return err == nil && strings.HasSuffix(u.Path, "/wp/v2/posts/"+strconv.Itoa(id))
			}
			ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
			defer cancel()
			ev, err := chromedp.Run(ctx, chromedp.WaitEvent(network.ResponseReceived, isSave, save))
			if err != nil {
				tab.T.Fatalf("the editor's save: %v", err)
			}
			if got, want := headerOf(ev.Response.Headers, logout.HeaderDeadline), strconv.FormatInt(s.clock.Now().Add(60*time.Second).UnixMilli(), 10); ev.Response.Status != 200 || got != want {
				tab.T.Fatalf("the editor's save %s: status %d, deadline %s, want 200 and %s (extended)", ev.Response.URL, ev.Response.Status, got, want)
			}
			tab.Wait(30*time.Second, "the saved draft", `!wp.data.select('core/editor').isSavingPost() && wp.data.select('core/editor').didPostSaveRequestSucceed()`)
			browsertest.Eval[bool](tab, recheck)
		}, counterLeft + ` >= 55`},
		{"on a narrow screen the counter stays in the admin bar", func(tab browsertest.Tab) {
			tab.Viewport(400, 800)
			tab.Do(chromedp.Navigate(s.base + "/wp-admin/"))
			tab.Wait(10*time.Second, "the dashboard", `document.querySelector('#wp-admin-bar-top-secondary .logout-counter') !== null`)
			browsertest.AxeWithin(tab.T, tab.Ctx, "#wp-admin-bar-top-secondary")
		}, `(r => r.width > 0 && r.top >= 0 && r.bottom <= 46 && r.right <= innerWidth)(document.querySelector('#wp-admin-bar-top-secondary .logout-counter').getBoundingClientRect())`},
		{"the idle end locks the page in place, and signing in again in its frame resumes it", func(tab browsertest.Tab) {
			tab.Viewport(1280, 900)
			tab.Do(chromedp.Navigate(s.base + "/wp-admin/"))
			tab.Wait(10*time.Second, "Quick Draft", `document.querySelector('#quick-press #title') !== null && document.querySelector('.logout-counter') !== null`)
			tab.Wait(15*time.Second, "WordPress's own requests after the page load", quiet)
			tab.Do(chromedp.SendKeys(chromedp.CSS(`#quick-press #title`), "half an hour of typing"))
			s.clock.Advance(61 * time.Second)
			browsertest.Eval[bool](tab, recheck)
			tab.Wait(10*time.Second, "the lock with WordPress's sign-in page in its frame",
				`document.querySelector('.logout-lock').open && (f => f && f.contentDocument && f.contentDocument.querySelector('#user_login'))(document.querySelector('.logout-frame'))`)
			browsertest.AxeWithin(tab.T, tab.Ctx, ".logout-lock")
			browsertest.Eval[bool](tab, `(d => { d.querySelector('#user_login').value = `+jsQuote(wp.User)+`;
				d.querySelector('#user_pass').value = `+jsQuote(wp.Password)+`; d.querySelector('#wp-submit').click(); return true })(document.querySelector('.logout-frame').contentDocument)`)
		}, `location.pathname === '/wp-admin/' && !document.querySelector('.logout-lock').open && document.querySelector('#quick-press #title').value === 'half an hour of typing'`},
		{"the idle end lands on the sign-in page with the notice", func(tab browsertest.Tab) {
			s.clock.Advance(61 * time.Second)
			navigate(tab, s.base+"/wp-admin/edit.php")
		}, `location.pathname === '/wp-login.php' && (document.querySelector('.logout-proxy-notice')||{}).textContent === 'You have been logged out!' && document.querySelector('#user_login') !== null`},
	}
	runSteps(t, tab, steps)
	// WordPress's own pages load from the Internet (the block editor's
	// welcome guide), and after the idle end every backend request is
	// answered 401: of the other errors, none may be an uncaught
	// exception or come from the proxy's files.
	for _, m := range errs() {
		if m.IsException() || (strings.Contains(m.URL, "/_logout/") && !strings.Contains(m.Text, "status of 401")) {
			t.Errorf("page error: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

// TestPhpMyAdminInChromium: in Chromium through the command, phpMyAdmin
// shows the counter as a floating badge; its AJAX navigation (the
// navigation tree, a database, a table) keeps the widget working and
// counts as activity; and no page has an error (uncaught exceptions,
// console errors, failed loads) from sign-in to the idle end, which lands
// on phpMyAdmin's sign-in page with the notice.
func TestPhpMyAdminInChromium(t *testing.T) {
	br := browsertest.NewBrowser(t)
	pma, s := startPhpMyAdmin(t)
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true, Width: 1280, Height: 900})
	errs := pageErrors(t, tab)
	tab.Do(chromedp.Navigate(s.base+"/index.php"),
		chromedp.WaitVisible(chromedp.CSS(`#input_username`)),
		chromedp.SendKeys(chromedp.CSS(`#input_username`), pma.User),
		chromedp.SendKeys(chromedp.CSS(`#input_password`), pma.Password),
		chromedp.Click(chromedp.CSS(`#input_go`)))
	tab.Wait(15*time.Second, "the counter at 1:00", `document.querySelector('.logout-counter') !== null && `+counterLeft+` >= 55`)
	tab.Wait(15*time.Second, "phpMyAdmin's own requests after the page load", quiet)
	browsertest.AxeWithin(t, tab.Ctx, ".logout-proxy-counter")
	// kept marks the document: AJAX navigation keeps it, a page load
	// would not.
	browsertest.Eval[bool](tab, `(window.kept = true)`)
	const kept = `window.kept === true && document.querySelector('.logout-counter') !== null`
	const dialog = `document.querySelector('.logout-dialog')`
	steps := []step{
		{"idle time on the server's clock shows", func(tab browsertest.Tab) {
			s.clock.Advance(30 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, counterLeft + ` <= 30 && ` + counterLeft + ` >= 25`},
		{"a database opened in the navigation tree counts", func(tab browsertest.Tab) {
			tab.Do(chromedp.Click(chromedp.CSS(`#pma_navigation_tree a.hover_show_full[href$="db=` + pma.Database + `"]`)))
		}, kept + ` && document.querySelector('#page_content a[href*="table=items"]') !== null && ` + counterLeft + ` >= 55`},
		{"a table opened from the database counts", func(tab browsertest.Tab) {
			tab.Wait(15*time.Second, "phpMyAdmin's own requests after the navigation", quiet)
			s.clock.Advance(30 * time.Second)
			browsertest.Eval[bool](tab, recheck)
			tab.Wait(10*time.Second, "the counter at 0:30", counterLeft+` <= 30`)
			tab.Do(chromedp.Click(chromedp.CSS(`#page_content a[href*="table=items"]`)))
		}, kept + ` && document.querySelector('#page_content').textContent.includes('third') && ` + counterLeft + ` >= 55`},
		{"the warning opens before the deadline", func(tab browsertest.Tab) {
			tab.Wait(15*time.Second, "phpMyAdmin's own requests after the navigation", quiet)
			s.clock.Advance(52 * time.Second)
			browsertest.Eval[bool](tab, recheck)
		}, kept + ` && ` + dialog + `.open && ` + counterLeft + ` > 0 && ` + counterLeft + ` <= 10`},
		{"axe-core on the dialog", func(tab browsertest.Tab) { browsertest.AxeWithin(tab.T, tab.Ctx, ".logout-dialog") }, dialog + `.open`},
		{"Stay signed in extends the session", func(tab browsertest.Tab) {
			tab.Do(chromedp.Click(chromedp.CSS(`.logout-dialog .logout-stay`)))
		}, kept + ` && !` + dialog + `.open && ` + counterLeft + ` >= 55`},
		{"no page error on the way", func(tab browsertest.Tab) {
			for _, m := range errs() {
				tab.T.Errorf("page error: %s (%s:%d)", m, m.URL, m.Line)
			}
		}, `true`},
		{"the idle end lands on the sign-in page with the notice", func(tab browsertest.Tab) {
			s.clock.Advance(61 * time.Second)
			navigate(tab, s.base+"/index.php?route=/database/structure&db="+pma.Database)
		}, `location.search.includes('reason=idle') && (document.querySelector('.logout-proxy-notice')||{}).textContent === 'You have been logged out!' && document.querySelector('#input_username') !== null`},
	}
	runSteps(t, tab, steps)
}
