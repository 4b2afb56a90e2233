package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// nginxRoute is how nginx (merge_slashes on) and Apache normalise a
// decoded path before routing, written for the test: "\" read as "/",
// empty and "." segments dropped, ".." removing the segment before it.
func nginxRoute(p string) string {
	var out []string
	for seg := range strings.SplitSeq(strings.ReplaceAll(p, `\`, "/"), "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// FuzzRoutePath: whatever the path, the proxy routes it where nginx
// would, and a path that nginx (or a case-insensitive server) sends to
// the backend is a backend path to the proxy.
func FuzzRoutePath(f *testing.F) {
	for _, s := range []string{"/backend/", "//backend", "/x/../backend", `/.\backend`, "/BACKEND/x", "/backendx", "/.well-known/a", ""} {
		f.Add(s)
	}
	p := &Proxy{prof: Profile{Prefix: "/backend"}}
	f.Fuzz(func(t *testing.T, path string) {
		r := &http.Request{URL: &url.URL{Path: path}}
		p.routePath(r)
		got := r.URL.Path
		if again := routedPath(got); again != got {
			t.Fatalf("routedPath(%q) = %q, not stable: %q", path, got, again)
		}
		want := nginxRoute(path)
		if strings.TrimSuffix(nginxRoute(got), "/") != strings.TrimSuffix(want, "/") && !strings.EqualFold(nginxRoute(got), want) {
			t.Fatalf("path %q routed to %q; nginx routes %q", path, got, want)
		}
		lw := strings.ToLower(want)
		if (lw == "/backend" || strings.HasPrefix(lw, "/backend/")) && !p.isBackend(&http.Request{URL: &url.URL{Path: got}}) {
			t.Fatalf("path %q (nginx: %q) routed to %q, not a backend path", path, want, got)
		}
	})
}
