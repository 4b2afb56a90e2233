package logout_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gologout/logout"
)

func TestSafeReturnPath(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"/backend", true},
		{"/backend/x?a=1&b=%2F#frag", true},
		{"/", true},
		{"/a//b", true},
		{"", false},
		{"backend", false},
		{"//evil.example", false},
		{"///evil.example", false},
		{"https://evil.example", false},
		{"http:/evil.example", false},
		{"javascript:alert(1)", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"/%2F/evil.example", false},
		{"/%2f%2fevil.example", false},
		{"%2F%2Fevil.example", false},
		{"/%5Cevil.example", false},
		{"/%5cevil.example", false},
		{"/\tevil", false},
		{"/x\r\nSet-Cookie: a=b", false},
		{" //evil.example", false},
		{"/" + strings.Repeat("a", 3000), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := logout.SafeReturnPath(tt.in)
			if ok != tt.ok {
				t.Fatalf("SafeReturnPath(%q) = %q, %v; want ok=%v", tt.in, got, ok, tt.ok)
			}
		})
	}
}

func FuzzSafeReturnPath(f *testing.F) {
	for _, s := range []string{"/backend", "//evil.example", "/\\evil", "/%2F%2Fx", "https://x", "/a?b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := logout.SafeReturnPath(s)
		if !ok {
			return
		}
		u, err := url.Parse(p)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
			strings.ContainsAny(p, "\\\r\n") {
			t.Fatalf("SafeReturnPath(%q) accepted %q", s, p)
		}
		// Resolved against our origin, it stays on our origin.
		base, _ := url.Parse("https://app.example/backend/auth/signin")
		if r := base.ResolveReference(u); r.Host != "app.example" {
			t.Fatalf("%q resolves to host %q", p, r.Host)
		}
	})
}

func FuzzMiddlewareCookie(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("garbage")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		e := newEnv(t, logout.Options{})
		good := e.signIn("alice")
		if v == good.Value {
			return
		}
		w := e.do(req{path: "/backend", header: map[string]string{"Cookie": "logout_session=" + v}})
		if w.Code != 200 || w.Body.String() != "anonymous" {
			t.Fatalf("cookie %q: %d %q, want anonymous", v, w.Code, w.Body)
		}
	})
}
