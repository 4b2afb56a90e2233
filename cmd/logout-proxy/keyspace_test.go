package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/internal/djangotest"
	"github.com/gologout/logout/proxy"
)

// fakePanel is a Django-like panel: a sign-in POST to /admin/login/ sets
// a 32-character sessionid, which is what Django's and PHP's session
// cookies are; every other request answers 200.
func fakePanel(t *testing.T) *httptest.Server {
	const sessionID = "abcdefghijklmnopqrstuvwxyz012345"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/admin/login/" {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: sessionID, Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>panel</title><p>panel page"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPanelCookieIsNoAdminToken: a panel user named "1" (the admin pages'
// administrator's user ID) whose 32-byte panel cookie, base64url-encoded,
// is a well-formed admin-pages token gets no access to the admin pages,
// and a forced sign-out of the administrator leaves the panel user alone.
func TestPanelCookieIsNoAdminToken(t *testing.T) {
	panel := fakePanel(t)
	s := start(t, panel.URL, map[string]string{"LOGOUT_ADMIN_USER": "proxyadmin", "LOGOUT_ADMIN_PASSWORD": "proxy-admin-password"})

	for _, name := range []string{"1", "01", "+1"} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, s.base)
			if resp, _ := c.do("POST", "/admin/login/", url.Values{"username": {name}, "password": {"x"}}); resp.StatusCode != http.StatusFound {
				t.Fatalf("panel sign-in: status %d", resp.StatusCode)
			}
			u, _ := url.Parse(s.base)
			var panelCookie string
			for _, ck := range c.c.Jar.Cookies(u) {
				if ck.Name == "sessionid" {
					panelCookie = ck.Value
				}
			}
			if len(panelCookie) != 32 {
				t.Fatalf("panel cookie %q, want 32 characters", panelCookie)
			}
			if resp, _ := c.do("GET", "/admin/", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("panel page: status %d, want 200", resp.StatusCode)
			}
			forged := newClient(t, s.base)
			forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "logout_session", Value: base64.RawURLEncoding.EncodeToString([]byte(panelCookie)), Path: "/"}})
			for _, path := range []string{"/logout-proxy/system/settings/user-session", "/logout-proxy/system/sessions", "/logout-proxy/"} {
				resp, body := forged.do("GET", path, nil)
				if resp.StatusCode == http.StatusOK && strings.Contains(body, "csrf_token") {
					t.Fatalf("%s with the panel cookie as an admin token: status 200, want the sign-in", path)
				}
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("%s with the panel cookie as an admin token: status %d, want 303", path, resp.StatusCode)
				}
			}
		})
	}

	// The administrator's forced sign-out of its own user ID "1" does
	// not end the panel user's session named "1", and the other way round.
	admin := newClient(t, s.base)
	admin.adminSignIn("proxyadmin", "proxy-admin-password")
	resp, body := admin.do("GET", "/logout-proxy/system/sessions", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sessions page: status %d", resp.StatusCode)
	}
	if !strings.Contains(body, "1 (panel)") {
		t.Fatal("the sessions page does not show the panel's user 1 as the panel's")
	}
	// The fake panel gives every sign-in one session ID: the last, "+1",
	// replaced the others.
	if !strings.Contains(body, `name="user" value="panel:&#43;1"`) {
		t.Fatal("the sessions page offers no sign-out by user for the panel's user +1")
	}
	m := backendCSRF.FindStringSubmatch(body)
	if resp, _ := admin.do("POST", "/logout-proxy/system/sessions/signout", url.Values{"csrf_token": {m[1]}, "scope": {"user"}, "user": {proxy.PanelUser("1")}}); resp.StatusCode >= 400 {
		t.Fatalf("forced sign-out of the panel's user 1: status %d", resp.StatusCode)
	}
	if resp, _ := admin.do("GET", "/logout-proxy/system/sessions", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the administrator after the panel's user 1 was forced out: status %d, want 200", resp.StatusCode)
	}
}

// TestAdminLanguageSwitch: the admin pages' language switch stays below
// --admin-prefix, and its cookie too, so that neither reaches the panel.
func TestAdminLanguageSwitch(t *testing.T) {
	var panelPaths []string
	var mu sync.Mutex
	panel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		panelPaths = append(panelPaths, r.URL.Path)
		mu.Unlock()
		w.Write([]byte("panel"))
	}))
	defer panel.Close()
	s := start(t, panel.URL, map[string]string{"LOGOUT_ADMIN_USER": "proxyadmin", "LOGOUT_ADMIN_PASSWORD": "proxy-admin-password"})
	c := newClient(t, s.base)
	_, body := c.do("GET", "/logout-proxy/auth/signin", nil)
	if !strings.Contains(body, `action="/logout-proxy/lang"`) {
		t.Fatal("the sign-in page's language switch does not go below --admin-prefix")
	}
	resp, _ := c.do("GET", "/logout-proxy/lang?lang=pl&return=%2Flogout-proxy%2Fauth%2Fsignin", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/logout-proxy/auth/signin" {
		t.Fatalf("language switch: status %d to %q, want 303 back to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "lang=pl") || !strings.Contains(sc, "Path=/logout-proxy") {
		t.Fatalf("language cookie %q, want lang=pl on Path=/logout-proxy", sc)
	}
	if _, body := c.do("GET", "/logout-proxy/auth/signin", nil); !strings.Contains(body, `lang="pl"`) {
		t.Fatal("the sign-in page is not in Polish after the switch")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(panelPaths) != 0 {
		t.Fatalf("the panel got %v", panelPaths)
	}
}

// TestDjangoLockInPlace: behind the proxy an ended session locks the page
// in place: the lock dialog shows Django's own sign-in page in a frame
// (its X-Frame-Options relaxed to SAMEORIGIN for that page only), and
// signing in there as the same user brings the page back with what was
// typed in it.
func TestDjangoLockInPlace(t *testing.T) {
	dj := djangotest.Start(t)
	br := browsertest.NewBrowser(t)
	s := start(t, dj.URL.String(), nil) // lifetime 60 s
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true, Width: 1000, Height: 800})
	tab.Do(chromedp.Navigate(s.base+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_username`)),
		chromedp.SendKeys(chromedp.CSS(`#id_username`), dj.User),
		chromedp.SendKeys(chromedp.CSS(`#id_password`), dj.Password),
		chromedp.Submit(chromedp.CSS(`#id_password`)))
	tab.Wait(10*time.Second, "the dashboard", `document.querySelector('#user-tools .logout-counter') !== null`)
	tab.Do(chromedp.Navigate(s.base + "/admin/auth/group/add/"))
	tab.Wait(10*time.Second, "the add form", `document.querySelector('#id_name') !== null && document.querySelector('.logout-counter') !== null`)
	tab.Do(chromedp.SendKeys(chromedp.CSS(`#id_name`), "half an hour of typing"))

	s.clock.Advance(61 * time.Second)
	browsertest.Eval[bool](tab, `(dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true})), true)`)
	tab.Wait(10*time.Second, "the lock dialog with Django's sign-in page in its frame",
		`document.querySelector('.logout-lock').open && (f => f && f.contentDocument && f.contentDocument.querySelector('#id_username'))(document.querySelector('.logout-frame'))`)
	if loc := tab.Location(); !strings.Contains(loc, "/admin/auth/group/add/") {
		t.Fatalf("the page was left for %q", loc)
	}
	browsertest.Axe(t, tab.Ctx)

	browsertest.Eval[bool](tab, `(d => { d.querySelector('#id_username').value = `+jsQuote(dj.User)+`;
		d.querySelector('#id_password').value = `+jsQuote(dj.Password)+`; d.querySelector('#login-form').submit(); return true })(document.querySelector('.logout-frame').contentDocument)`)
	tab.Wait(10*time.Second, "the page back", `!document.querySelector('.logout-lock').open && !document.querySelector('.logout-frame')`)
	if got := browsertest.Eval[string](tab, `document.querySelector('#id_name').value`); got != "half an hour of typing" {
		t.Fatalf("typed text after the sign-in in the frame: %q", got)
	}
	// The page is the new session's: a request from it is served.
	if got := browsertest.Eval[float64](tab, `fetch('/admin/', {headers: {'Sec-Fetch-Mode': 'cors'}}).then(r => r.status)`); got != 200 {
		t.Fatalf("a request of the page after the sign-in: status %v, want 200", got)
	}
}

func jsQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestCounterFollowsItsPlace: the counter sits in the profile's element
// while it is shown and floats as a badge while the panel hides it, as
// WordPress's fullscreen editor hides its admin bar.
func TestCounterFollowsItsPlace(t *testing.T) {
	panel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/admin/login/" {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "abcdefghijklmnopqrstuvwxyz012345", Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>panel</title><style>.full #user-tools{display:none}</style></head>` +
			`<body><div id="user-tools">tools</div><main><h1>Editor</h1></main></body></html>`))
	}))
	defer panel.Close()
	s := start(t, panel.URL, nil)
	br := browsertest.NewBrowser(t)
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true})
	tab.Do(chromedp.Navigate(s.base + "/admin/login/"))
	browsertest.Eval[bool](tab, `fetch('/admin/login/', {method: 'POST', body: new URLSearchParams({username: 'ada'})}).then(() => true)`)
	tab.Do(chromedp.Navigate(s.base + "/admin/"))
	const (
		box      = `document.querySelector('.logout-proxy-counter')`
		inPlace  = box + `.parentNode.id === 'user-tools' && !` + box + `.classList.contains('logout-proxy-float')`
		floating = box + `.parentNode === document.body && ` + box + `.classList.contains('logout-proxy-float') && ` + box + `.getClientRects().length > 0`
	)
	tab.Wait(10*time.Second, "the counter in #user-tools", inPlace)
	browsertest.Eval[bool](tab, `(document.body.classList.add('full'), true)`)
	tab.Wait(5*time.Second, "the counter floating while #user-tools is hidden", floating)
	browsertest.Eval[bool](tab, `(document.body.classList.remove('full'), true)`)
	tab.Wait(5*time.Second, "the counter back in #user-tools", inPlace)
}

// TestTrustedProxyIPv4Mapped: --trusted-proxy ::ffff:127.0.0.1 trusts the
// IPv4 client 127.0.0.1 in the proxy as in the admin pages (one rule,
// proxy.TrustedPrefixes): its X-Forwarded-For is kept.
func TestTrustedProxyIPv4Mapped(t *testing.T) {
	var mu sync.Mutex
	var xff string
	panel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		xff = r.Header.Get("X-Forwarded-For")
		mu.Unlock()
		w.Write([]byte("panel"))
	}))
	defer panel.Close()
	s := start(t, panel.URL, map[string]string{"LOGOUT_TRUSTED_PROXY": "::ffff:127.0.0.1"})
	req, _ := http.NewRequest("GET", s.base+"/blog/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(xff, "203.0.113.9,") {
		t.Fatalf("X-Forwarded-For at the panel %q, want the trusted proxy's 203.0.113.9 kept", xff)
	}
}
