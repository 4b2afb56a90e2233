package proxy

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	pathpkg "path"
	"strings"
)

// ServeHTTP serves the proxy's own files and forwards everything else
// through the Manager's middleware.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.routePath(r)
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, p.base+"proxy/"):
		p.assets.ServeHTTP(w, r)
		return
	case strings.HasPrefix(path, p.base+"widget/"):
		p.widget.ServeHTTP(w, r)
		return
	case p.sso != nil && strings.HasPrefix(path, p.ssoPath):
		p.sso.ServeHTTP(w, r)
		return
	}
	p.handler.ServeHTTP(w, withRequest(r, p.newRequest(r)))
}

// routePath rewrites r's path to the one the panel will route, so that
// the proxy, the Manager and the panel decide on one path: dot segments
// resolved, repeated slashes merged, backslashes read as slashes (as
// nginx, Apache and IIS in front of a panel do), and the backend prefix in
// the profile's case (a case-insensitive server routes "/ADMIN/" to the
// backend). A path that is already so is left as it is, with its own
// encoding.
func (p *Proxy) routePath(r *http.Request) {
	clean := routedPath(r.URL.Path)
	pre := p.prof.Prefix
	if len(clean) >= len(pre) && strings.EqualFold(clean[:len(pre)], pre) && (len(clean) == len(pre) || clean[len(pre)] == '/') {
		clean = pre + clean[len(pre):]
	}
	if clean != r.URL.Path {
		r.URL.Path, r.URL.RawPath = clean, ""
	}
}

// routedPath returns p with backslashes read as slashes, repeated
// slashes merged and dot segments resolved, keeping a final slash.
func routedPath(p string) string {
	if p != "" && p[0] == '/' && !strings.Contains(p, "//") && !strings.Contains(p, "/.") && !strings.Contains(p, "\\") {
		return p // already clean: no allocation on every request's path
	}
	p = strings.ReplaceAll(p, "\\", "/")
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := pathpkg.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// anonymousPath reports whether an anonymous visitor's session cookie is
// forwarded on the backend path (Profile.AnonymousPaths).
func (p *Proxy) anonymousPath(path string) bool {
	if !p.prof.AnonymousSessions {
		return false
	}
	for _, a := range p.prof.AnonymousPaths {
		if strings.HasPrefix(path, a) {
			return true
		}
	}
	return false
}

// isBackend reports whether r is a backend request: below the profile's
// prefix (every request, for a panel that is the whole site), or one of
// its BackendPaths.
func (p *Proxy) isBackend(r *http.Request) bool {
	path, pre := r.URL.Path, p.prof.Prefix
	if strings.HasPrefix(path, pre) && (len(path) == len(pre) || path[len(pre)] == '/') {
		return true
	}
	for _, rule := range p.prof.BackendPaths {
		if rule.match(r) {
			return true
		}
	}
	return false
}

// passive reports whether r is one of the profile's polling requests
// with a parameter (those without one are the Manager's PassivePaths).
func (p *Proxy) passive(r *http.Request) bool {
	for _, rule := range p.prof.Passive {
		if rule.Param == "" || r.URL.Path != rule.Path {
			continue
		}
		if r.URL.Query().Get(rule.Param) == rule.Value {
			return true
		}
		if r.Method == http.MethodPost {
			if f := peekForm(r); f != nil && f.Get(rule.Param) == rule.Value {
				return true
			}
		}
	}
	return false
}

// peekForm reads an URL-encoded body of at most formPeekLimit bytes and
// puts it back for forwarding; it returns nil for other bodies.
func peekForm(r *http.Request) url.Values {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, formPeekLimit+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || len(b) > formPeekLimit {
		return nil
	}
	f, err := url.ParseQuery(string(b))
	if err != nil {
		return nil
	}
	return f
}
