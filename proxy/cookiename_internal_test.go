package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var runtimes = map[string]func(string) map[string]string{
	"PHP": phpCookies, "PHP before 7.4.11": oldPHPCookies, "Django": djangoCookies,
}

// checkCookieRules checks a Cookie header against pats after the proxy's
// two rules: after dropAliases every runtime reads each credential
// cookie it sees under its own name with the value Go reads first, and
// after stripCookies no runtime reads any credential.
func checkCookieRules(t *testing.T, header string, pats []Pattern) {
	h := http.Header{"Cookie": {header}}
	dropAliases(h, pats)
	after := strings.Join(h["Cookie"], "; ")
	want := goFirst(after)
	for rt, read := range runtimes {
		for name, val := range read(after) {
			if !matchAny(pats, name) {
				continue
			}
			// Go and Python drop the quotes around a value, PHP keeps
			// them: a quoted value is no other cookie's.
			if w, ok := want[name]; !ok || unquote(w) != unquote(val) {
				t.Fatalf("%s reads credential %q=%q from %q (kept of %q); the proxy reads %q, %v", rt, name, val, after, header, w, ok)
			}
		}
	}
	stripCookies(h, pats)
	after = strings.Join(h["Cookie"], "; ")
	for rt, read := range runtimes {
		for name := range read(after) {
			if matchAny(pats, name) {
				t.Fatalf("%s reads credential %q from %q after stripping %q", rt, name, after, header)
			}
		}
	}
}

var credPatterns = []Pattern{mustPattern("wordpress_logged_in_*"), mustPattern("wordpress_*"), mustPattern("sessionid")}

func TestCookieNameRules(t *testing.T) {
	for _, header := range []string{
		"wordpress.logged.in_0123abcd=a; wordpress.0123abcd=b",
		"wordpress logged in_0123abcd=a",
		"wordpress[logged_in_0123abcd=a",
		"wordpress_logged_in_0123abcd[x]=a",
		"%77ordpress_logged_in_0123abcd=a",
		"wordpress%5Flogged%5Fin_0123abcd=a",
		"wordpress+logged_in_0123abcd=a",
		"  wordpress_logged_in_0123abcd=a",
		"\x0bsessionid=a",
		"sessionid\xa0=a",
		"sessionid\x1c=a; other=1",
		"sessionid=live; sessionid=dead",
		"wordpress.logged_in_0123abcd=dead; wordpress_logged_in_0123abcd=live",
		"wordpress_logged_in_0123abcd=live; wordpress_logged_in_0123abcd=dead",
		"sessionid\x00x=a",
		"theme=dark; wordpress_test_cookie=WP; lang=en",
	} {
		t.Run(header, func(t *testing.T) { checkCookieRules(t, header, credPatterns) })
	}
}

// FuzzCookieNames: whatever the Cookie header, no runtime reads a
// credential the proxy does not, and after stripping none at all.
func FuzzCookieNames(f *testing.F) {
	for _, s := range []string{"wordpress.logged.in_x=1", "sessionid=1; sessionid=2", "a[b]=1; wordpress_logged_in_x=2", "%73essionid=1", " sessionid =1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if strings.ContainsAny(header, "\r\n") {
			return // no header value holds a line break
		}
		checkCookieRules(t, header, credPatterns)
	})
}

// TestCookieGone is the one rule by which the proxy tells that the panel
// deleted a cookie (a sign-in's end, a confirmed sign-out), on the
// proxy's clock rather than the machine's.
func TestCookieGone(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) // far from the machine's clock
	for _, tc := range []struct {
		name string
		c    http.Cookie
		want bool
	}{
		{"live", http.Cookie{Name: "s", Value: "v"}, false},
		{"empty value", http.Cookie{Name: "s"}, true},
		{"negative max-age", http.Cookie{Name: "s", Value: "v", MaxAge: -1}, true},
		{"positive max-age", http.Cookie{Name: "s", Value: "v", MaxAge: 60}, false},
		{"expired before now", http.Cookie{Name: "s", Value: "v", Expires: now.Add(-time.Second)}, true},
		{"expires after now, though before the machine's time", http.Cookie{Name: "s", Value: "v", Expires: now.Add(time.Second)}, false},
		{"expires exactly now", http.Cookie{Name: "s", Value: "v", Expires: now}, false},
	} {
		if got := cookieGone(&tc.c, now); got != tc.want {
			t.Errorf("%s: cookieGone = %v, want %v", tc.name, got, tc.want)
		}
	}
}
