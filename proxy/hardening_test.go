package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// TestPathVariants: an ended session's cookie sent to the backend under
// a path that nginx, Apache or a case-insensitive server routes to the
// backend is refused as on the backend itself, and never reaches the
// panel.
func TestPathVariants(t *testing.T) {
	oc := &fakeOctober{signedIn: map[string]bool{}}
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Cookie"))
		mu.Unlock()
		oc.ServeHTTP(w, r)
	}))
	defer up.Close()
	srv, dead := octoberEnded(t, up.URL)

	for _, path := range []string{"//backend/", "///backend/", "/BACKEND/", "/Backend", "/./backend/", "/x/../backend/", "/%2e%2e/backend/", "/%2E/backend", `/x\..\backend/`} {
		t.Run(path, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			status := rawGet(t, srv.URL, path, "october_session="+dead)
			if status != http.StatusSeeOther {
				t.Errorf("status %d, want 303 to the sign-in page", status)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seen {
				if strings.Contains(s, dead) && !strings.Contains(s, "/auth/signout") {
					t.Fatalf("the ended session's cookie reached the panel: %q", s)
				}
			}
		})
	}
}

// TestSignOutRetried: with FrontEnd "keep", a panel sign-out that fails
// is tried again each time the ended session's cookie comes back, and
// until the panel confirms it the cookie reaches the panel nowhere, not
// even on the front end.
func TestSignOutRetried(t *testing.T) {
	oc := &fakeOctober{signedIn: map[string]bool{}}
	var mu sync.Mutex
	fails, tries := 2, 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/backend/backend/auth/signout" {
			mu.Lock()
			tries++
			fail := tries <= fails
			mu.Unlock()
			if fail {
				http.Error(w, "database is down", http.StatusInternalServerError)
				return
			}
		}
		oc.ServeHTTP(w, r)
	}))
	defer up.Close()
	srv, dead := octoberEnded(t, up.URL)

	get := func() string {
		req, _ := http.NewRequest("GET", srv.URL+"/shop", nil)
		req.Header.Set("Cookie", "october_session="+dead)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, resp.StatusCode, " ")
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return b.String()
	}
	for i := 1; i <= fails; i++ {
		if body := get(); strings.Contains(body, "session:"+dead) {
			t.Fatalf("try %d failed, yet the front end got the ended session's cookie: %q", i, body)
		}
	}
	if body := get(); !strings.Contains(body, "session:"+dead) || !strings.Contains(body, "admin:false") {
		t.Fatalf("after the confirmed sign-out: %q; want the visitor's session kept, signed out of the backend", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if tries != fails+1 {
		t.Fatalf("sign-out tries %d, want %d", tries, fails+1)
	}
	if len(oc.signedOut) != 1 || oc.signedOut[0] != dead {
		t.Fatalf("October sign-outs %v, want %s", oc.signedOut, dead)
	}
}

// octoberEnded starts the OctoberCMS profile's proxy in front of
// upstream, signs in and lets the session idle out; it returns the
// proxy and the ended session's cookie value.
func octoberEnded(t *testing.T, upstream string) (*httptest.Server, string) {
	t.Helper()
	clock := fakeclock.New()
	_, srv := newProxy(t, upstream, proxy.OctoberCMS(), clock, nil)
	c := newClient(t, srv.URL)
	c.do("GET", "/", nil)
	c.do("POST", "/backend/backend/auth/signin", url.Values{"login": {"admin"}, "password": {"x"}})
	var dead string
	for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL)) {
		if ck.Name == "october_session" {
			dead = ck.Value
		}
	}
	if !strings.HasPrefix(dead, "user") {
		t.Fatalf("session cookie after sign-in: %q", dead)
	}
	idle(t, nil, clock)
	return srv, dead
}

// rawGet sends a page load of path as it is written, which
// http.NewRequest would clean or escape, and returns the status.
func rawGet(t *testing.T, base, path, cookie string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n", path, cookie)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestProxyHeaders: client-address headers of an untrusted client are not
// forwarded, the panel cannot set the admin pages' cookies, and a backend
// page carries one Cache-Control.
func TestProxyHeaders(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path == "/admin/login/" {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		w.Header().Add("Set-Cookie", "logout_session=planted; Path=/")
		w.Header().Add("Set-Cookie", "__Host-logout_device=planted; Path=/; Secure")
		w.Header().Add("Set-Cookie", "panel_pref=1; Path=/")
		w.Header().Set("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private")
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	own := []proxy.Pattern{}
	for _, n := range []string{"logout_session", "__Host-logout_session", "logout_device", "__Host-logout_device"} {
		p, err := proxy.ParsePattern(n)
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, p)
	}
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) { o.StripCookies = own })
	c := newClient(t, srv.URL)
	c.do("POST", "/admin/login/", url.Values{"username": {"u"}, "password": {"p"}})

	req, _ := http.NewRequest("GET", srv.URL+"/admin/page", nil)
	for _, h := range []string{"X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "X-Client-IP"} {
		req.Header.Set(h, "203.0.113.9")
	}
	for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL)) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backend page: status %d", resp.StatusCode)
	}
	mu.Lock()
	for _, h := range []string{"X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip"} {
		if v := got.Get(h); v != "" {
			t.Errorf("%s from an untrusted client reached the panel: %q", h, v)
		}
	}
	mu.Unlock()
	for _, line := range resp.Header["Set-Cookie"] {
		if strings.Contains(line, "logout_") {
			t.Errorf("the panel set the admin pages' cookie: %q", line)
		}
	}
	if !strings.Contains(strings.Join(resp.Header["Set-Cookie"], "\n"), "panel_pref=1") {
		t.Errorf("the panel's own cookie was dropped: %q", resp.Header["Set-Cookie"])
	}
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 || !strings.Contains(cc[0], "no-store") {
		t.Errorf("Cache-Control %q, want one line with no-store", cc)
	}
}

// TestTunnelCutAtSignOut: a WebSocket tunnel of a signed-in session is
// closed, on both sides, when the session is forced out, instead of
// carrying the panel's traffic on while the same cookie gets 303.
func TestTunnelCutAtSignOut(t *testing.T) {
	upClosed := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/admin/login/" {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		if r.Header.Get("Upgrade") != "websocket" {
			io.WriteString(w, "page")
			return
		}
		conn, brw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for { // the panel streams until its side is closed
			if _, err := brw.ReadString('\n'); err != nil {
				close(upClosed)
				return
			}
			brw.WriteString("tick\n")
			brw.Flush()
		}
	}))
	defer up.Close()
	p, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), nil)
	c := newClient(t, srv.URL)
	c.do("POST", "/admin/login/", url.Values{"username": {"alice"}, "password": {"p"}})

	conn, err := net.Dial("tcp", mustParse(t, srv.URL).Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /admin/ws HTTP/1.1\r\nHost: x\r\nCookie: sessionid=s1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(conn, "hello\n")
	if line, _ := br.ReadString('\n'); line != "tick\n" {
		t.Fatalf("tunnel: got %q", line)
	}
	if _, err := p.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: proxy.PanelUser("alice")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-upClosed:
	case <-time.After(10 * time.Second):
		t.Fatal("the panel's side of the tunnel stayed open after the sign-out")
	}
	if _, err := io.ReadAll(br); err != nil && !errors.Is(err, io.EOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the browser's side of the tunnel stayed open after the sign-out")
		}
	}
}

// TestPanelUserNames: a panel user is recorded as the panel knows them:
// WordPress by the login in its cookie (also after signing in by e-mail
// address or in other case), OctoberCMS without regard to case, Django as
// typed.
func TestPanelUserNames(t *testing.T) {
	tests := []struct {
		name    string
		prof    proxy.Profile
		typed   string
		want    string
		ruleFor string // a name typed in a per-user rule that names the same user
	}{
		{"wordpress by e-mail", proxy.WordPress(), "Editor@Example.com", "panel:editor", "EDITOR"},
		{"wordpress in capitals", proxy.WordPress(), "EDITOR", "panel:editor", "editor"},
		{"octobercms in capitals", proxy.OctoberCMS(), "ADMIN", "panel:admin", "Admin"},
		{"django as typed", proxy.Django(), "Admin", "panel:Admin", "Admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.prof.UserID(tt.ruleFor); got != tt.want {
				t.Errorf("UserID(%q) = %q, want %q", tt.ruleFor, got, tt.want)
			}
			if tt.prof.Name != "wordpress" {
				if got := tt.prof.UserID(tt.typed); got != tt.want {
					t.Errorf("UserID(%q) = %q, want %q", tt.typed, got, tt.want)
				}
				return
			}
			// WordPress's cookie names the login, whatever was typed.
			wp := &fakeWordPress{site: "https://blog.example", live: map[string]bool{}, login: "editor"}
			up := httptest.NewServer(wp)
			defer up.Close()
			p, srv := newProxy(t, up.URL, tt.prof, fakeclock.New(), nil)
			newClient(t, srv.URL).do("POST", "/wp-login.php", url.Values{"log": {tt.typed}, "pwd": {"pw"}})
			ss, err := p.Manager().Sessions(context.Background(), logout.ListOptions{})
			if err != nil || len(ss) != 1 || ss[0].UserID != tt.want {
				t.Fatalf("sessions %+v, %v; want one of %s", ss, err, tt.want)
			}
		})
	}
}

// TestUnseenSessionFailsClosed: with anonymous_sessions (OctoberCMS), a
// session signed in without the proxy (before it was put in, or directly
// against the panel) reaches no backend page with its cookie, only the
// sign-in pages, which an anonymous visitor needs.
func TestUnseenSessionFailsClosed(t *testing.T) {
	oc := &fakeOctober{signedIn: map[string]bool{"direct1": true}}
	up := httptest.NewServer(oc)
	defer up.Close()
	_, srv := newProxy(t, up.URL, proxy.OctoberCMS(), fakeclock.New(), nil)
	get := func(path string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Cookie", "october_session=direct1")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, path := range []string{"/backend", "/backend/cms/pages"} {
		if body := get(path); strings.Contains(body, "admin:true") {
			t.Errorf("%s: a session the proxy never saw start reached the panel: %q", path, body)
		}
	}
	if body := get("/backend/backend/auth/signin"); !strings.Contains(body, "session:direct1") {
		t.Errorf("the sign-in page did not get the visitor's session cookie: %q", body)
	}
	if body := get("/shop"); !strings.Contains(body, "session:direct1") {
		t.Errorf("the front end did not get the visitor's session cookie: %q", body)
	}
}

// TestBackendPaths: WordPress's REST API (/wp-json/, ?rest_route=) is
// backend: an author saving through it is active, and an ended session's
// cookies reach it nowhere.
func TestBackendPaths(t *testing.T) {
	wp := &fakeWordPress{site: "https://blog.example", live: map[string]bool{}}
	up, rest := counting(t, wp, func(r *http.Request) bool { // REST requests that reached WordPress
		return r.URL.Query().Has("rest_route") || strings.HasPrefix(r.URL.Path, "/wp-json/")
	})
	clock := fakeclock.New()
	_, srv := newProxy(t, up.URL, proxy.WordPress(), clock, nil)
	c := newClient(t, srv.URL)
	c.do("POST", "/wp-login.php", url.Values{"log": {"author"}, "pwd": {"pw"}})
	save := func(path string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"content":"draft"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Mode", "cors")
		for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL+"/")) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Saving every 40 s of a 60 s lifetime keeps the author signed in.
	for _, path := range []string{"/wp-json/wp/v2/posts/1", "/index.php?rest_route=/wp/v2/posts/1", "/?rest_route=/wp/v2/posts/1", "/wp-json/wp/v2/posts/1"} {
		clock.Advance(40 * time.Second)
		if resp := save(path); resp.StatusCode != http.StatusOK || resp.Header.Get(logout.HeaderDeadline) == "" {
			t.Fatalf("save through %s: status %d, deadline %q; want 200 with the session's deadline", path, resp.StatusCode, resp.Header.Get(logout.HeaderDeadline))
		}
	}
	clock.Advance(61 * time.Second)
	n := rest.Load()
	if resp := save("/wp-json/wp/v2/posts/1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("save after the idle end: status %d, want 401", resp.StatusCode)
	}
	if rest.Load() != n {
		t.Fatal("the ended session's save reached the REST API")
	}
}

// TestWholeSitePanel: a profile whose prefix is "/" (phpMyAdmin) makes
// every path the backend, and the admin pages' prefix stays the proxy's.
func TestWholeSitePanel(t *testing.T) {
	prof, err := proxy.ParseProfile([]byte(`{"name": "whole", "prefix": "/", "sign_in_path": "/index.php", "user_field": "pma_username",
		"session_cookies": ["phpMyAdmin"], "anonymous_sessions": true}`))
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/index.php" {
			http.SetCookie(w, &http.Cookie{Name: "phpMyAdmin", Value: "signed-in", Path: "/"})
			http.Redirect(w, r, "/index.php?route=/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>cookie:"+r.Header.Get("Cookie")+"</body></html>")
	}))
	defer up.Close()
	clock := fakeclock.New()
	_, srv := newProxy(t, up.URL, prof, clock, nil)
	c := newClient(t, srv.URL)
	if resp, _ := c.do("POST", "/index.php", url.Values{"pma_username": {"root"}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: status %d", resp.StatusCode)
	}
	resp, body := c.do("GET", "/db_structure.php", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "logout-counter") {
		t.Fatalf("a page of the whole-site panel: status %d, counter %v", resp.StatusCode, strings.Contains(body, "logout-counter"))
	}
	clock.Advance(61 * time.Second)
	if resp, _ := c.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the idle end: status %d, want 303 to the sign-in page", resp.StatusCode)
	}
}

// TestPanelOwnSignOut: when the user signs out in the panel itself (its
// "Log Out" link), the Logout session ends too, as manual, instead of
// staying active until it idles out.
func TestPanelOwnSignOut(t *testing.T) {
	wp := &fakeWordPress{site: "https://blog.example", live: map[string]bool{}}
	up := httptest.NewServer(wp)
	defer up.Close()
	p, srv := newProxy(t, up.URL, proxy.WordPress(), fakeclock.New(), nil)
	c := newClient(t, srv.URL)
	c.do("POST", "/wp-login.php", url.Values{"log": {"editor"}, "pwd": {"pw"}})
	_, body := c.do("GET", "/wp-admin/", nil)
	m := regexp.MustCompile(`_wpnonce=([0-9a-f]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no Log Out link on the dashboard")
	}
	c.do("GET", "/wp-login.php?action=logout&_wpnonce="+m[1], nil)
	if n, _ := p.Manager().CountSessions(context.Background(), logout.ListOptions{}); n != 0 {
		t.Fatalf("%d sessions after the panel's own sign-out, want none", n)
	}
	evs, _ := p.Manager().Events(context.Background(), 10)
	if len(evs) != 1 || evs[0].Reason != logout.ReasonManual {
		t.Fatalf("sign-out log %+v, want one manual sign-out", evs)
	}
}

// TestPhpMyAdminOwnSignOut: phpMyAdmin's own sign-out keeps its session
// cookie, every visitor's, and deletes pmaAuth-1, the sign-in's own
// credential; the Logout session ends as manual.
func TestPhpMyAdminOwnSignOut(t *testing.T) {
	up := httptest.NewServer(&fakePMA{signedIn: map[string]bool{}, honest: true})
	defer up.Close()
	p, srv := newProxy(t, up.URL, proxy.PhpMyAdmin(), fakeclock.New(), nil)
	c := newClient(t, srv.URL)
	c.do("GET", "/", nil)
	c.do("POST", "/index.php?route=/", url.Values{"pma_username": {"root"}})
	_, body := c.do("GET", "/index.php?route=/", nil)
	m := regexp.MustCompile(`name="token" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "signed in:true") {
		t.Fatalf("phpMyAdmin through the proxy: %q", body)
	}
	c.do("POST", "/index.php?route=/logout", url.Values{"token": {m[1]}})
	if n, _ := p.Manager().CountSessions(context.Background(), logout.ListOptions{}); n != 0 {
		t.Fatalf("%d sessions after phpMyAdmin's own sign-out, want none", n)
	}
	evs, _ := p.Manager().Events(context.Background(), 10)
	if len(evs) != 1 || evs[0].Reason != logout.ReasonManual {
		t.Fatalf("sign-out log %+v, want one manual sign-out", evs)
	}
}

// TestPhpMyAdminAroundProxy: a phpMyAdmin session signed in without the
// proxy (before it was put in, or straight at the panel) is not served
// through it, although every page of phpMyAdmin is at its sign-in path,
// where an anonymous visitor's session cookie goes on: the sign-in's own
// credential, pmaAuth-1, does not.
func TestPhpMyAdminAroundProxy(t *testing.T) {
	up := httptest.NewServer(&fakePMA{signedIn: map[string]bool{}, honest: true})
	defer up.Close()
	_, srv := newProxy(t, up.URL, proxy.PhpMyAdmin(), fakeclock.New(), nil)
	direct := newClient(t, up.URL)
	direct.do("POST", "/index.php?route=/", url.Values{"pma_username": {"root"}})
	if _, body := direct.do("GET", "/index.php?route=/", nil); !strings.Contains(body, "signed in:true") {
		t.Fatalf("phpMyAdmin directly: %q", body)
	}
	c := newClient(t, srv.URL)
	c.c.Jar.SetCookies(mustParse(t, srv.URL), direct.c.Jar.Cookies(mustParse(t, up.URL)))
	if _, body := c.do("GET", "/index.php?route=/", nil); !strings.Contains(body, "signed in:false") {
		t.Fatalf("the session signed in around the proxy, through it: %q; want phpMyAdmin's anonymous visitor", body)
	}
}

// fakePMA behaves like phpMyAdmin with cookie authentication: a session
// cookie for every visitor, renewed at sign-in with pmaAuth-1; pages carry
// the session's token; sign-out is a POST with that token, which deletes
// pmaAuth-1, and anything else is answered 302 and ignored.
type fakePMA struct {
	mu       sync.Mutex
	n        int
	signedIn map[string]bool
	honest   bool // false: sign-out ignores the token and does nothing
}

func (f *fakePMA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := ""
	if c, err := r.Cookie("phpMyAdmin"); err == nil {
		sid = c.Value
	}
	token := "0123456789abcdef" + fmt.Sprintf("%016x", len(sid))
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/index.php" && r.URL.Query().Get("route") == "/logout":
		r.ParseForm()
		if f.honest && r.PostForm.Get("token") == token {
			delete(f.signedIn, sid)
			// phpMyAdmin 5.2 sends its session cookie again, unchanged,
			// then seals pmaAuth-1 anew and deletes it.
			http.SetCookie(w, &http.Cookie{Name: "phpMyAdmin", Value: sid, Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "pmaAuth-1", Value: "resealed", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "pmaAuth-1", Value: "deleted", Path: "/", MaxAge: -1})
		}
		http.Redirect(w, r, "/index.php?route=/", http.StatusFound)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/index.php":
		f.n++
		sid = "pma" + strconv.Itoa(f.n) + "xxxxxxxx"
		f.signedIn[sid] = true
		http.SetCookie(w, &http.Cookie{Name: "phpMyAdmin", Value: sid, Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "pmaAuth-1", Value: "sealed", Path: "/"})
		http.Redirect(w, r, "/index.php?route=/", http.StatusFound)
		return
	}
	auth, _ := r.Cookie("pmaAuth-1") // sealed with a key of the session
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, `<html><body><form><input type="hidden" name="token" value="%s"></form>signed in:%v</body></html>`, token, f.signedIn[sid] && auth != nil && auth.Value == "sealed")
}

// TestSignOutForm: phpMyAdmin's sign-out is a POST with its pages' token,
// and counts only when its answer deletes the credentials; one that does
// nothing (302 all the same) is a failed try, made again.
func TestSignOutForm(t *testing.T) {
	for _, honest := range []bool{true, false} {
		t.Run(fmt.Sprint("honest ", honest), func(t *testing.T) {
			pma := &fakePMA{signedIn: map[string]bool{}, honest: honest}
			up, signOuts := counting(t, pma, func(r *http.Request) bool { return r.URL.Query().Get("route") == "/logout" })
			clock := fakeclock.New()
			_, srv := newProxy(t, up.URL, proxy.PhpMyAdmin(), clock, nil)
			c := newClient(t, srv.URL)
			c.do("GET", "/", nil)
			c.do("POST", "/index.php", url.Values{"pma_username": {"root"}})
			var sid string
			for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL)) {
				if ck.Name == "phpMyAdmin" {
					sid = ck.Value
				}
			}
			if _, body := c.do("GET", "/index.php?route=/", nil); !strings.Contains(body, "signed in:true") {
				t.Fatalf("phpMyAdmin through the proxy: %q", body)
			}
			clock.Advance(61 * time.Second)
			for range 2 { // the ended cookie comes back twice
				rawGet(t, srv.URL, "/", "phpMyAdmin="+sid+"; pmaAuth-1=sealed")
			}
			pma.mu.Lock()
			defer pma.mu.Unlock()
			if honest {
				if pma.signedIn[sid] || signOuts.Load() != 1 {
					t.Fatalf("signed in on the panel: %v after %d sign-outs; want ended by one", pma.signedIn[sid], signOuts.Load())
				}
			} else if signOuts.Load() != 2 {
				t.Fatalf("%d sign-outs, want a second try after an answer that proved nothing", signOuts.Load())
			}
		})
	}
}

// TestPageAtSignInPath: phpMyAdmin serves every page at its sign-in path
// (/index.php?route=…), so an ended session's request for one of them is
// denied as any other backend request is, a page load with a 303 to the
// sign-in page that names the reason and a script with a 401, rather than
// served as the sign-in page without a word; the sign-in page itself and a
// new sign-in still go through to the panel.
func TestPageAtSignInPath(t *testing.T) {
	up := httptest.NewServer(&fakePMA{signedIn: map[string]bool{}, honest: true})
	defer up.Close()
	tests := []struct {
		name, method, path string
		script             bool
		want               int
		wantLoc            string // in the Location of a 303
	}{
		{"a page", "GET", "/index.php?route=/database/structure&db=d", false, http.StatusSeeOther,
			"/index.php?reason=idle&return=%2Findex.php%3Froute%3D%2Fdatabase%2Fstructure%26db%3Dd"},
		{"a script", "GET", "/index.php?route=/database/structure&db=d&ajax_request=true", true, http.StatusUnauthorized, ""},
		{"the sign-in page", "GET", "/index.php", false, http.StatusOK, ""},
		{"the sign-in page with the reason", "GET", "/index.php?reason=idle", false, http.StatusOK, ""},
		{"a new sign-in", "POST", "/index.php?route=/", false, http.StatusFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeclock.New()
			_, srv := newProxy(t, up.URL, proxy.PhpMyAdmin(), clock, nil)
			c := newClient(t, srv.URL)
			c.do("GET", "/", nil)
			c.do("POST", "/index.php?route=/", url.Values{"pma_username": {"root"}})
			if _, body := c.do("GET", "/index.php?route=/", nil); !strings.Contains(body, "signed in:true") {
				t.Fatalf("phpMyAdmin through the proxy: %q", body)
			}
			clock.Advance(61 * time.Second)
			var form io.Reader
			if tt.method == "POST" {
				form = strings.NewReader("pma_username=root")
			}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, form)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			if tt.script {
				req.Header.Set("Sec-Fetch-Mode", "cors")
			}
			resp, err := c.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want || (tt.wantLoc != "" && resp.Header.Get("Location") != tt.wantLoc) {
				t.Fatalf("got %d to %q, want %d to %q", resp.StatusCode, resp.Header.Get("Location"), tt.want, tt.wantLoc)
			}
		})
	}
}

// counting serves h as an upstream and counts the requests that match.
func counting(t *testing.T, h http.Handler, match func(*http.Request) bool) (*httptest.Server, *atomic.Int64) {
	n := new(atomic.Int64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	return up, n
}

// TestDebugLog: at debug level every proxied request is logged, by path
// only (a query may hold a nonce), and nothing of its cookies.
func TestDebugLog(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedBuilder{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) { o.Logger = logger })
	req, _ := http.NewRequest("GET", srv.URL+"/blog/post?token=s3cret", nil)
	req.Header.Set("Cookie", "sessionid=c00kie")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if !strings.Contains(out, `msg="proxy: forwarded" method=GET path=/blog/post status=200`) {
		t.Fatalf("debug log %q lacks the forwarded request", out)
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "c00kie") {
		t.Fatalf("debug log %q holds a secret", out)
	}
}

type lockedBuilder struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (l lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestOctoberOwnSignOut: OctoberCMS signs out by giving the browser a new
// visitor's session; the proxy ends the Logout session then, as manual,
// instead of listing it until it idles out.
func TestOctoberOwnSignOut(t *testing.T) {
	oc := &fakeOctober{signedIn: map[string]bool{}}
	up := httptest.NewServer(oc)
	defer up.Close()
	p, srv := newProxy(t, up.URL, proxy.OctoberCMS(), fakeclock.New(), nil)
	c := newClient(t, srv.URL)
	c.do("GET", "/", nil)
	c.do("POST", "/backend/backend/auth/signin", url.Values{"login": {"admin"}, "password": {"x"}})
	if n, _ := p.Manager().CountSessions(context.Background(), logout.ListOptions{}); n != 1 {
		t.Fatalf("%d sessions after sign-in, want 1", n)
	}
	c.do("GET", "/backend/backend/auth/signout", nil)
	if n, _ := p.Manager().CountSessions(context.Background(), logout.ListOptions{}); n != 0 {
		t.Fatalf("%d sessions after October's own sign-out, want none", n)
	}
	if evs, _ := p.Manager().Events(context.Background(), 10); len(evs) != 1 || evs[0].Reason != logout.ReasonManual {
		t.Fatalf("sign-out log %+v, want one manual sign-out", evs)
	}
}
