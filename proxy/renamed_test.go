package proxy_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// TestRenamedCookiesOfEndedSession: after an idle end, the session's
// cookies sent under names that PHP reads as the same ("." and " " for
// "_", an unclosed "[", URL-encoding) reach the panel under no name, on
// backend and front-end paths alike; and a live session's cookie cannot
// be shadowed by a renamed dead one placed first.
func TestRenamedCookiesOfEndedSession(t *testing.T) {
	wp := &fakeWordPress{site: "https://blog.example", live: map[string]bool{}}
	up := httptest.NewServer(wp)
	defer up.Close()
	clock := fakeclock.New()
	_, srv := newProxy(t, up.URL, proxy.WordPress(), clock, nil)

	signIn := func(user string) (loggedIn, auth string) {
		c := newClient(t, srv.URL)
		c.do("POST", "/wp-login.php", map[string][]string{"log": {user}, "pwd": {"pw"}})
		for _, ck := range c.c.Jar.Cookies(mustParse(t, srv.URL+"/wp-admin/")) {
			switch ck.Name {
			case "wordpress_logged_in_0123abcd":
				loggedIn = ck.Value
			case "wordpress_0123abcd":
				auth = ck.Value
			}
		}
		if loggedIn == "" || auth == "" {
			t.Fatalf("sign-in of %s set no cookies", user)
		}
		return loggedIn, auth
	}
	deadIn, deadAuth := signIn("admin")
	clock.Advance(61 * time.Second)
	liveIn, liveAuth := signIn("subscriber")

	send := func(path, cookie string) map[string]string {
		navigate(t, srv.URL+path, cookie)
		wp.mu.Lock()
		defer wp.mu.Unlock()
		return proxy.PHPCookies(strings.Join(wp.lastReq["Cookie"], "; "))
	}
	tests := []struct{ name, cookie string }{
		{"dots", "wordpress.logged.in_0123abcd=" + deadIn + "; wordpress.0123abcd=" + deadAuth},
		{"spaces", "wordpress logged in_0123abcd=" + deadIn},
		{"unclosed bracket", "wordpress[logged_in_0123abcd=" + deadIn},
		{"URL-encoded name", "wordpress%5Flogged%5Fin_0123abcd=" + deadIn},
		{"dead renamed before a live one", "wordpress.logged_in_0123abcd=" + deadIn + "; wordpress_logged_in_0123abcd=" + liveIn + "; wordpress_0123abcd=" + liveAuth},
		{"dead after a live one", "wordpress_logged_in_0123abcd=" + liveIn + "; wordpress_logged_in_0123abcd=" + deadIn},
	}
	for _, tt := range tests {
		for _, path := range []string{"/wp-admin/", "/", "/?p=1"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				got := send(path, tt.cookie)
				for name, v := range got {
					if strings.HasPrefix(name, "wordpress_") && name != "wordpress_test_cookie" && (v == deadIn || v == deadAuth) {
						t.Fatalf("PHP reads the ended session's %s from %q", name, tt.cookie)
					}
				}
			})
		}
	}
}
