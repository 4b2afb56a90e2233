package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gologout/logout"
)

// forward handles a request the Manager let through: it decides which
// credentials go upstream, then proxies it.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	req := requestOf(r)
	req.r, req.w = r, w
	if _, live := logout.FromContext(r.Context()); !live {
		switch {
		case req.dropped && req.key != "":
			reason, ended, err := p.ended(r.Context(), req.key)
			if err != nil && req.backend {
				ended = true // fail closed on the backend
			}
			if ended {
				p.endCredential(w, r, req)
				if req.backend && p.pageAtSignIn(r) {
					// The Manager lets the sign-in path through, so that
					// signing in again works with a dead cookie; a page
					// of the panel served there is denied as any other.
					p.m.Unauthorized(w, r, reason)
					return
				}
				// "keep" forwards the cookie of an ended session only once
				// the panel has confirmed its sign-in ended.
				if req.backend || p.prof.FrontEnd == "strip" || !req.confirmed {
					req.stripped = p.stripCredentials(r.Header)
				}
			} else {
				req.stripped = p.stripUnstarted(r, req) // a session this proxy never started
			}
		default:
			req.stripped = p.stripUnstarted(r, req) // say, an auth cookie without its session cookie
		}
		if p.sso != nil && req.backend && p.ssoGate(w, r, req) {
			return
		}
	}
	if r.Method == http.MethodGet && r.URL.Path == p.prof.SignInPath && p.prof.ReturnParam != "" {
		q := r.URL.Query()
		if ret, ok := logout.SafeReturnPath(q.Get("return")); ok && q.Get(p.prof.ReturnParam) == "" {
			q.Set(p.prof.ReturnParam, ret)
			r.URL.RawQuery = q.Encode()
		}
	}
	p.rp.ServeHTTP(w, r)
}

// ssoGate sends a backend request without a live session to the single
// sign-on (see SSO), and reports whether it answered it.
func (p *Proxy) ssoGate(w http.ResponseWriter, r *http.Request, req *request) bool {
	switch {
	case r.URL.Path == p.prof.SignInPath:
		return r.Method == http.MethodGet && !p.pageAtSignIn(r) && p.sso.EndProviderSession(w, r)
	case req.ssoUser != nil || p.anonymousPath(r.URL.Path):
		return false
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		p.m.Unauthorized(w, r, 0)
		return true
	}
	ret := r.URL.Path
	if r.URL.RawQuery != "" {
		ret += "?" + r.URL.RawQuery
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.ssoPath+"login?return="+url.QueryEscape(ret), http.StatusSeeOther)
	return true
}

// stripUnstarted removes from a backend request without a session that
// this proxy started the panel's credentials, so that the panel sees an
// anonymous visitor; on AnonymousPaths the session cookie stays, as an
// anonymous visitor's sign-in form keeps its token there, but the
// sign-in's own credentials (ExtraCookies: phpMyAdmin's pmaAuth-1, whose
// every page is at its sign-in path) do not. It reports whether it
// removed any.
func (p *Proxy) stripUnstarted(r *http.Request, req *request) bool {
	switch {
	case !req.backend:
		return false
	case !p.anonymousPath(r.URL.Path):
		return p.stripCredentials(r.Header)
	}
	return filterCookies(r.Header, func(name, _ string) bool {
		return readAs(p.prof.ExtraCookies, name) && !readAs(p.prof.SessionCookies, name) && !matchAny(p.prof.KeepCookies, name)
	})
}

// ended reports whether the session of the upstream session cookie key
// has ended, and why, by the sign-out log.
func (p *Proxy) ended(ctx context.Context, key string) (logout.Reason, bool, error) {
	ev, err := p.m.Ended(ctx, key)
	switch {
	case err == nil:
		return ev.Reason, true, nil
	case errors.Is(err, logout.ErrNotFound):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("proxy: sign-out log: %w", err)
}

// pageAtSignIn reports whether r asks the sign-in path for a page of the
// panel rather than for its sign-in page: a GET or HEAD whose query has
// more than the return and reason parameters, as phpMyAdmin serves every
// page at its sign-in path (/index.php?route=…).
func (p *Proxy) pageAtSignIn(r *http.Request) bool {
	if r.URL.Path != p.prof.SignInPath || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	for k := range r.URL.Query() {
		if k != p.prof.ReturnParam && k != "return" && k != "reason" {
			return true
		}
	}
	return false
}

// stripCredentials removes the panel's credentials from a request's
// Cookie header, keeping KeepCookies. It reports whether it removed any.
func (p *Proxy) stripCredentials(h http.Header) bool {
	return filterCookies(h, func(name, _ string) bool {
		return readAs(p.cred, name) && !matchAny(p.prof.KeepCookies, name)
	})
}

// now reads the clock of Options.Logout.Clock, the Manager's.
func (p *Proxy) now() time.Time { return p.opts.Logout.Clock.Now() }

// rewrite builds the upstream request.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	req := requestOf(pr.In)
	pr.SetURL(p.opts.Upstream)
	p.stripSSOCookies(pr.Out.Header)
	if p.prof.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	if req != nil && req.peerTrusted {
		if v := pr.In.Header["X-Forwarded-For"]; len(v) > 0 {
			pr.Out.Header["X-Forwarded-For"] = slices.Clone(v)
		}
	}
	pr.SetXForwarded()
	if req == nil || !req.peerTrusted {
		for _, h := range clientAddrHeaders {
			pr.Out.Header.Del(h)
		}
	}
	if req != nil && req.peerTrusted {
		for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
			if v := pr.In.Header.Get(h); v != "" {
				pr.Out.Header.Set(h, v)
			}
		}
	}
	if req != nil && req.pageLoad {
		// Page loads may get the widget: ask only for what the proxy
		// can decode.
		if req.gzipOK {
			pr.Out.Header.Set("Accept-Encoding", "gzip")
		} else {
			pr.Out.Header.Set("Accept-Encoding", "identity")
		}
	}
}

// stripSSOCookies removes the cookies of Options.SSO from a request to
// the panel: the ID token in them is the proxy's, not the panel's.
func (p *Proxy) stripSSOCookies(h http.Header) {
	if len(p.ssoCookie) > 0 {
		filterCookies(h, func(name, _ string) bool { return readAs(p.ssoCookie, name) })
	}
}

func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
				return true
			}
		}
	}
	return false
}

// errorHandler answers when the upstream cannot be reached or answers
// badly: 502, or nothing when the client has gone; a session that could
// not be started gets the Manager's 503 ([logout.Manager.Unavailable]).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return
	}
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "proxy: upstream", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	if se := (*signInError)(nil); errors.As(err, &se) {
		p.m.Unavailable(w, r, err) // the Manager's 503, as for a store outage anywhere
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "The admin panel did not answer; please try again in a moment.\n")
}

// signInError is a session that could not be started.
type signInError struct{ err error }

func (e *signInError) Error() string { return "proxy: start session: " + e.err.Error() }
func (e *signInError) Unwrap() error { return e.err }

// bufferPool lends ReverseProxy the chunk buffers of the injector's pool.
type bufferPool struct{ p *sync.Pool }

func (b bufferPool) Get() []byte { return b.p.Get().(*[chunkSize]byte)[:] }
func (b bufferPool) Put(s []byte) {
	if cap(s) == chunkSize {
		b.p.Put((*[chunkSize]byte)(s[:chunkSize]))
	}
}
