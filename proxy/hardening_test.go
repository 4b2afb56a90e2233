package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

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
