package proxy_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// fakeWordPress behaves like WordPress for the proxy: sign-in at
// /wp-login.php sets wordpress_logged_in_<hash> (path /) and
// wordpress_<hash> (path /wp-admin), holding a session token; it
// redirects to its configured site address; /wp-admin/admin-ajax.php
// answers the heartbeat. Admin pages carry the "Log Out" link with the
// session's nonce (after pad bytes of filler, to cross the proxy's read
// boundaries), and GET /wp-login.php?action=logout destroys the session
// token only with that nonce, as wp_logout does after
// check_admin_referer('log-out').
type fakeWordPress struct {
	mu        sync.Mutex
	site      string
	pad       int
	lastReq   http.Header
	n         int
	live      map[string]bool // session tokens
	destroyed []string        // tokens destroyed by a sign-out with the right nonce
	badNonce  int             // sign-outs refused for a wrong or missing nonce
	login     string          // the login its cookie names, whatever was typed; "": as typed
}

// wpNonce is the fake's nonce of a session token.
func wpNonce(token string) string {
	sum := sha256.Sum256([]byte("log-out|" + token))
	return hex.EncodeToString(sum[:5])
}

// wpToken returns the session token of r's logged-in cookie, if live.
func (f *fakeWordPress) wpToken(r *http.Request) (string, bool) {
	c, err := r.Cookie("wordpress_logged_in_0123abcd")
	if err != nil {
		return "", false
	}
	v, _ := url.QueryUnescape(c.Value) // WordPress's value is URL-encoded, as PHP's setcookie writes it
	_, tok, _ := strings.Cut(v, "|")
	return tok, f.live[tok]
}

func (f *fakeWordPress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastReq = r.Header.Clone()
	const hash = "0123abcd"
	switch r.URL.Path {
	case "/wp-login.php":
		if r.Method == http.MethodPost {
			r.ParseForm()
			if r.Form.Get("pwd") != "pw" {
				w.Write([]byte("<html><body>bad password"))
				return
			}
			f.n++
			tok := "tok" + strconv.Itoa(f.n)
			f.live[tok] = true
			login := r.Form.Get("log")
			if f.login != "" {
				login = f.login // signed in by e-mail address, or in other case
			}
			http.SetCookie(w, &http.Cookie{Name: "wordpress_logged_in_" + hash, Value: url.QueryEscape(login + "|" + tok), Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "wordpress_" + hash, Value: r.Form.Get("log") + "|auth" + tok, Path: "/wp-admin"})
			http.Redirect(w, r, f.site+"/wp-admin/", http.StatusFound)
			return
		}
		if r.URL.Query().Get("action") == "logout" {
			tok, ok := f.wpToken(r)
			if !ok || r.URL.Query().Get("_wpnonce") != wpNonce(tok) {
				f.badNonce++
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html><body>Do you really want to log out?"))
				return
			}
			delete(f.live, tok)
			f.destroyed = append(f.destroyed, tok)
			http.SetCookie(w, &http.Cookie{Name: "wordpress_logged_in_" + hash, Path: "/", MaxAge: -1})
			http.Redirect(w, r, f.site+"/wp-login.php?loggedout=true", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body><form>sign in</form></body></html>"))
	case "/wp-admin/admin-ajax.php":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"wp-auth-check":true}`))
	default:
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, auth := r.Header["Cookie"]
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>WP</title></head><body class="wp-admin">%s<div id="wp-admin-bar-top-secondary">`,
			strings.Repeat("<p>filler</p>", f.pad/13))
		if tok, ok := f.wpToken(r); ok {
			fmt.Fprintf(w, `<a class="ab-item" href="%s/wp-login.php?action=logout&#038;_wpnonce=%s">Log Out</a>`, f.site, wpNonce(tok))
		}
		fmt.Fprintf(w, `</div>cookies:%v</body></html>`, auth)
	}
}

// signOuts returns the tokens destroyed with the right nonce and the
// count of sign-outs refused.
func (f *fakeWordPress) signOuts() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.destroyed), f.badNonce
}

func newProxy(t *testing.T, upstream string, prof proxy.Profile, clock *fakeclock.Clock, mod func(*proxy.Options)) (*proxy.Proxy, *httptest.Server) {
	t.Helper()
	set := logout.DefaultSettings()
	set.Lifetime, set.WarningLead = 60*time.Second, 10*time.Second
	o := proxy.Options{Upstream: mustParse(t, upstream), Profile: prof, Logout: logout.Options{Clock: clock, Defaults: &set}}
	if mod != nil {
		mod(&o)
	}
	p, err := proxy.New(logout.NewMemoryStore(), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestWordPress(t *testing.T) {
	wp := &fakeWordPress{site: "https://blog.example", live: map[string]bool{}}
	up := httptest.NewServer(wp)
	defer up.Close()
	clock := fakeclock.New()
	p, srv := newProxy(t, up.URL, proxy.WordPress(), clock, func(o *proxy.Options) { o.RewriteOrigins = []string{"https://blog.example"} })
	c := newClient(t, srv.URL)

	resp, _ := c.do("POST", "/wp-login.php", url.Values{"log": {"editor"}, "pwd": {"pw"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != srv.URL+"/wp-admin/" {
		t.Fatalf("sign-in: status %d to %q, want 302 to the proxy's /wp-admin/ (site address rewritten)", resp.StatusCode, resp.Header.Get("Location"))
	}
	ss, err := p.Manager().Sessions(context.Background(), logout.ListOptions{})
	if err != nil || len(ss) != 1 || ss[0].UserID != proxy.PanelUser("editor") || ss[0].UserName != "editor" {
		t.Fatalf("sessions: %+v, %v; want one of the user named in the form, by that name", ss, err)
	}
	resp, body := c.do("GET", "/wp-admin/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `data-logout-proxy-target="#wp-admin-bar-top-secondary"`) {
		t.Fatalf("dashboard: status %d, body %q", resp.StatusCode, body)
	}
	if !strings.Contains(body, `data-user-name="editor"`) { // the lock dialog's user name, not panel:editor
		t.Errorf("dashboard: no data-user-name=\"editor\" in %q", body)
	}
	deadline := resp.Header.Get(logout.HeaderDeadline)

	// The heartbeat does not extend the session.
	clock.Advance(30 * time.Second)
	req, _ := http.NewRequest("POST", srv.URL+"/wp-admin/admin-ajax.php", strings.NewReader("action=heartbeat&interval=60"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL+"/wp-admin/")) {
		req.AddCookie(ck)
	}
	hb, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hb.Body.Close()
	if got := hb.Header.Get(logout.HeaderDeadline); hb.StatusCode != 200 || got != deadline {
		t.Fatalf("heartbeat: status %d, deadline %s; want 200 and the deadline unchanged (%s)", hb.StatusCode, got, deadline)
	}

	// An auth cookie without its session cookie is not forwarded.
	thief := newClient(t, srv.URL)
	thief.c.Jar.SetCookies(mustParse(t, srv.URL+"/wp-admin/"), []*http.Cookie{{Name: "wordpress_0123abcd", Value: "editor|auth1", Path: "/wp-admin"}})
	if _, body := thief.do("GET", "/wp-admin/", nil); !strings.Contains(body, "cookies:false") {
		t.Fatalf("a lone auth cookie reached WordPress: %q", body)
	}

	clock.Advance(31 * time.Second)
	resp, _ = c.do("GET", "/wp-admin/", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/wp-login.php?") {
		t.Fatalf("after the idle lifetime: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	expired := map[string]bool{}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(sc, "Max-Age=0") {
			name, _, _ := strings.Cut(sc, "=")
			path := sc[strings.Index(sc, "Path=")+5:]
			path, _, _ = strings.Cut(path, ";")
			expired[name+" "+path] = true
		}
	}
	for _, want := range []string{"wordpress_logged_in_0123abcd /", "wordpress_0123abcd /wp-admin"} {
		if !expired[want] {
			t.Errorf("not expired: %s (expired: %v)", want, expired)
		}
	}
	if loc := resp.Header.Get("Location"); true {
		_, body := c.do("GET", loc, nil)
		if !strings.Contains(body, "You have been logged out!") {
			t.Fatalf("sign-in page after the timeout: %q", body)
		}
	}
}

// TestWordPressSignOutNonce: the proxy learns the nonce of WordPress's
// "Log Out" link from the admin pages and, when the session has ended
// and its cookies come back, signs it out on WordPress with that nonce.
func TestWordPressSignOutNonce(t *testing.T) {
	tests := []struct {
		name string
		pad  int  // filler before the link: past the injector's 32 KiB chunk
		page bool // the session loaded an admin page
		end  func(t *testing.T, p *proxy.Proxy, clock *fakeclock.Clock)
		back string // the path the browser comes back on
		want bool   // WordPress destroyed the session
	}{
		{"idle, back on the backend", 0, true, idle, "/wp-admin/", true},
		{"idle, back on the front end", 0, true, idle, "/", true},
		{"idle, link past the first chunk", 100 << 10, true, idle, "/wp-admin/", true},
		{"forced", 0, true, func(t *testing.T, p *proxy.Proxy, clock *fakeclock.Clock) {
			if _, err := p.Manager().ForceSignOut(context.Background(), logout.Selector{UserID: proxy.PanelUser("editor")}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
		}, "/wp-admin/", true},
		{"no page seen: no nonce, no call", 0, false, idle, "/wp-admin/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wp := &fakeWordPress{site: "https://blog.example", pad: tt.pad, live: map[string]bool{}}
			up := httptest.NewServer(wp)
			defer up.Close()
			clock := fakeclock.New()
			p, srv := newProxy(t, up.URL, proxy.WordPress(), clock, func(o *proxy.Options) { o.RewriteOrigins = []string{"https://blog.example"} })
			c := newClient(t, srv.URL)
			if resp, _ := c.do("POST", "/wp-login.php", url.Values{"log": {"editor"}, "pwd": {"pw"}}); resp.StatusCode != http.StatusFound {
				t.Fatalf("sign-in: status %d, want 302", resp.StatusCode)
			}
			if tt.page {
				if resp, body := c.do("GET", "/wp-admin/", nil); resp.StatusCode != 200 || !strings.Contains(body, "_wpnonce="+wpNonce("tok1")) {
					t.Fatalf("dashboard: status %d, nonce in the page %v", resp.StatusCode, strings.Contains(body, "_wpnonce="))
				}
			}
			tt.end(t, p, clock)
			c.do("GET", tt.back, nil)
			destroyed, refused := wp.signOuts()
			if got := slices.Equal(destroyed, []string{"tok1"}); got != tt.want || refused != 0 {
				t.Fatalf("WordPress sessions destroyed: %v, refused sign-outs %d; want destroyed %v and none refused", destroyed, refused, tt.want)
			}
			// Once only, and the dead cookie never reaches WordPress.
			c.do("GET", tt.back, nil)
			if again, _ := wp.signOuts(); len(again) != len(destroyed) {
				t.Fatalf("sign-outs after a second request: %v, want %v", again, destroyed)
			}
		})
	}
}

// idle lets the session of newProxy's 60 s lifetime expire.
func idle(t *testing.T, _ *proxy.Proxy, clock *fakeclock.Clock) { clock.Advance(61 * time.Second) }

// fakeOctober behaves like OctoberCMS on Laravel: every visitor gets an
// october_session cookie; sign-in renews it; sign-out is GET.
type fakeOctober struct {
	mu        sync.Mutex
	n         int
	signedIn  map[string]bool
	signedOut []string
}

func (f *fakeOctober) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := ""
	if c, err := r.Cookie("october_session"); err == nil {
		sid = c.Value
	}
	if sid == "" {
		f.n++
		sid = "anon" + strconv.Itoa(f.n)
		http.SetCookie(w, &http.Cookie{Name: "october_session", Value: sid, Path: "/"})
	}
	switch r.URL.Path {
	case "/backend/backend/auth/signin":
		if r.Method == http.MethodPost {
			f.n++
			nsid := "user" + strconv.Itoa(f.n)
			f.signedIn[nsid] = true
			http.SetCookie(w, &http.Cookie{Name: "october_session", Value: nsid, Path: "/"})
			http.Redirect(w, r, "/backend", http.StatusFound)
			return
		}
	case "/backend/backend/auth/signout":
		delete(f.signedIn, sid)
		f.signedOut = append(f.signedOut, sid)
		f.n++ // a new visitor's session, as Laravel's invalidate gives
		http.SetCookie(w, &http.Cookie{Name: "october_session", Value: "anon" + strconv.Itoa(f.n), Path: "/"})
		http.Redirect(w, r, "/backend/backend/auth/signin", http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, "<html><body><div class=mainmenu-accountmenu></div>session:%s admin:%v</body></html>", sid, f.signedIn[sid])
}

func TestOctoberCMS(t *testing.T) {
	oc := &fakeOctober{signedIn: map[string]bool{}}
	up := httptest.NewServer(oc)
	defer up.Close()
	clock := fakeclock.New()
	p, srv := newProxy(t, up.URL, proxy.OctoberCMS(), clock, nil)
	c := newClient(t, srv.URL)
	if resp, body := c.do("GET", "/", nil); resp.StatusCode != 200 || !strings.Contains(body, "session:anon") {
		t.Fatalf("front page: %d %q", resp.StatusCode, body)
	}
	if n, _ := p.Manager().CountSessions(context.Background(), logout.ListOptions{}); n != 0 {
		t.Fatalf("an anonymous visitor got %d sessions", n)
	}
	resp, _ := c.do("POST", "/backend/backend/auth/signin", url.Values{"login": {"admin"}, "password": {"x"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	if ss, _ := p.Manager().Sessions(context.Background(), logout.ListOptions{}); len(ss) != 1 || ss[0].UserID != proxy.PanelUser("admin") {
		t.Fatalf("sessions after sign-in: %+v", ss)
	}
	if resp, body := c.do("GET", "/backend", nil); resp.StatusCode != 200 || !strings.Contains(body, "admin:true") || !strings.Contains(body, "logout-counter") {
		t.Fatalf("backend: %d %q", resp.StatusCode, body)
	}
	clock.Advance(2 * time.Minute)
	// The front end keeps the visitor's session (FrontEnd "keep") and is
	// never redirected; the sign-in is ended on October.
	resp, body := c.do("GET", "/shop", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "session:user") || !strings.Contains(body, "admin:false") {
		t.Fatalf("front end after the timeout: %d %q; want the same visitor session, signed out of the backend", resp.StatusCode, body)
	}
	if len(oc.signedOut) != 1 {
		t.Fatalf("October sign-outs: %v, want one", oc.signedOut)
	}
	if resp, _ := c.do("GET", "/backend", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("backend after the timeout: %d, want 303", resp.StatusCode)
	}
}

// TestBadUpstream: odd answers never break the proxy or the session.
func TestBadUpstream(t *testing.T) {
	page := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/admin/login/":
			if r.Method == http.MethodPost {
				http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
				http.Redirect(w, r, "/admin/", http.StatusFound)
				return
			}
			page(w)
			io.WriteString(w, "<body>login")
		case "/admin/500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/admin/reset":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/admin/lying":
			page(w)
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, "<body>short")
		case "/admin/invalid":
			page(w)
			io.WriteString(w, "<<<body <!-- <script> \x00\xff")
		case "/admin/huge":
			page(w)
			io.WriteString(w, "<html><body>")
			for range 2000 {
				io.WriteString(w, strings.Repeat("x", 1024))
			}
		case "/admin/gzip":
			page(w)
			if r.Header.Get("Accept-Encoding") != "gzip" {
				http.Error(w, "want gzip only, got "+r.Header.Get("Accept-Encoding"), 400)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, "<html><body>zipped</body></html>")
			zw.Close()
		case "/admin/badgzip":
			page(w)
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "not gzip")
		case "/admin/csp-none":
			page(w)
			w.Header().Set("Content-Security-Policy", "script-src 'none'")
			io.WriteString(w, "<body>x")
		case "/admin/csp-nonce":
			page(w)
			w.Header().Set("Content-Security-Policy", "script-src 'nonce-r4nd' 'strict-dynamic'")
			io.WriteString(w, "<body>x")
		case "/admin/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/admin/xff":
			fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"))
		default:
			page(w)
			io.WriteString(w, "<body>ok")
		}
	}))
	defer up.Close()
	clock := fakeclock.New()
	_, srv := newProxy(t, up.URL, proxy.Django(), clock, nil)
	c := newClient(t, srv.URL)
	c.do("POST", "/admin/login/", url.Values{"username": {"u"}})

	tests := []struct {
		path   string
		status int
		check  func(body string, h http.Header) error
	}{
		{"/admin/500", 500, nil},
		{"/admin/reset", 502, nil},
		{"/admin/invalid", 200, nil},
		{"/admin/huge", 200, func(b string, _ http.Header) error {
			if len(b) < 2000*1024 || !strings.Contains(b[:4096], "logout-counter") {
				return errors.New("huge page not injected or cut")
			}
			return nil
		}},
		{"/admin/gzip", 200, func(b string, h http.Header) error {
			// What the panel compressed goes on compressed, with the counter.
			if h.Get("Content-Encoding") != "gzip" {
				return fmt.Errorf("gzip page: encoding %q, want gzip", h.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(strings.NewReader(b))
			if err != nil {
				return fmt.Errorf("gzip page: %v", err)
			}
			page, err := io.ReadAll(zr)
			if err != nil || !strings.Contains(string(page), "logout-counter") || !strings.Contains(string(page), "zipped") {
				return fmt.Errorf("gzip page: %q, %v", page, err)
			}
			return nil
		}},
		{"/admin/badgzip", 502, nil},
		{"/admin/csp-none", 200, func(b string, _ http.Header) error {
			if strings.Contains(b, "<script") {
				return errors.New("injected against the CSP")
			}
			return nil
		}},
		{"/admin/csp-nonce", 200, func(b string, _ http.Header) error {
			if !strings.Contains(b, `nonce="r4nd"`) {
				return errors.New("the page's nonce was not reused")
			}
			return nil
		}},
		{"/admin/xff", 200, func(b string, _ http.Header) error {
			if b != "127.0.0.1|"+mustParse(t, srv.URL).Host+"|http" {
				return fmt.Errorf("forwarded headers %q", b)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			req.Header.Set("Accept-Encoding", "gzip, br")
			req.Header.Set("X-Forwarded-For", "6.6.6.6") // not trusted
			req.Header.Set("X-Forwarded-Host", "evil.example")
			for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL)) {
				req.AddCookie(ck)
			}
			tr := &http.Transport{DisableCompression: true}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.status, b)
			}
			if tt.check != nil {
				if err := tt.check(string(b), resp.Header); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Run("lying Content-Length", func(t *testing.T) {
		// The client sees a cut response; the proxy lives on.
		c.c.Get(srv.URL + "/admin/lying")
	})
	t.Run("server-sent events stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/admin/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL)) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "data: one\n" {
			t.Fatalf("first event: %q, %v", line, err)
		}
	})
	t.Run("session survives", func(t *testing.T) {
		if resp, _ := c.do("GET", "/admin/", nil); resp.StatusCode != 200 {
			t.Fatalf("after the bad answers: status %d", resp.StatusCode)
		}
	})
}

func TestTrustedProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"))
	}))
	defer up.Close()
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Host", "admin.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(b), "203.0.113.9, 127.0.0.1|admin.example|https"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestWebSocket: an upgrade passes through both ways.
func TestWebSocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", 400)
			return
		}
		conn, brw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	defer up.Close()
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), nil)
	conn, err := net.Dial("tcp", mustParse(t, srv.URL).Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /admin/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(conn, "hello\n")
	if line, _ := br.ReadString('\n'); line != "echo hello\n" {
		t.Fatalf("got %q", line)
	}
}

// TestStoreDown: a failing store fails closed on the backend only.
func TestStoreDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	p, err := proxy.New(failingStore{logout.NewMemoryStore()}, proxy.Options{Upstream: mustParse(t, up.URL), Profile: proxy.Django()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	for _, tt := range []struct {
		path string
		want int
	}{{"/admin/", 503}, {"/", 200}, {"/blog/", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: "abc"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}

type failingStore struct{ *logout.MemoryStore }

func (failingStore) Session(context.Context, string) (logout.Session, error) {
	return logout.Session{}, errors.New("connection refused")
}
