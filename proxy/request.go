package proxy

import (
	"context"
	"net/http"

	"github.com/gologout/logout"
)

// A request is one request on its way through the proxy, handed to each
// step that needs it as httputil.ReverseProxy hands Rewrite and
// ModifyResponse theirs: ServeHTTP reads it once (newRequest), forward,
// rewrite, modifyResponse and the Manager's callbacks take it from there.
//
// Its first fields are what ServeHTTP learned before the Manager saw the
// request, fixed from then on; the credential key among them is decoded
// once (Profile.DecodeKey), and every step reads that one. The last
// fields record what the steps did on the way, each set by the one step
// named. Further facts of a request (say, who signed in elsewhere) go
// with the first, set in newRequest.
type request struct {
	backend      bool   // below Profile.Prefix, or one of BackendPaths
	pageLoad     bool   // a GET page load: may get the widget
	gzipOK       bool   // the client accepts gzip
	signIn       bool   // a POST to the sign-in page
	user         string // the name typed in the sign-in form (Profile.UserField)
	peerTrusted  bool   // the client is one of Options.TrustedProxies
	clientOrigin string // the origin the browser sees
	// ssoUser is the identity that the browser signed in as at the
	// provider (Options.SSO) and that has started no session yet, on a
	// backend request; nil for none.
	ssoUser *logout.User
	// cookies are the request's cookies as net/http reads them, after
	// dropAliases: the panel's credentials among them are read alike by
	// the proxy and the panel.
	cookies []*http.Cookie
	// key is the panel's session key: of the first non-empty session
	// cookie (Profile.SessionCookies), decoded by Profile.DecodeKey, or
	// "" for none or one that does not decode. keyCookie is that cookie.
	key       string
	keyCookie *http.Cookie

	// r and w are the request and its writer as the Manager passed them
	// on (the session in r's context); set by forward.
	r *http.Request
	w http.ResponseWriter
	// stripped: forward removed credentials from r's Cookie header.
	stripped bool
	// dropped: the Manager called EndSession (an ended or unknown session).
	dropped bool
	// handled: the ended credential was expired and ended on the panel
	// (endCredential), or the panel signed out itself (followCookies).
	handled bool
	// confirmed: the panel confirmed the ended session's sign-out
	// (endCredential).
	confirmed bool
	// renewed is the key of the session cookie the panel just set, when a
	// session starts with it (startSession).
	renewed string
}

// newRequest reads r as the panel will read it, before the Manager sees
// it: its cookies with the admin pages' and the credentials' aliases
// removed (stripCookies, dropAliases), the polling mark, and the session
// key, decoded once.
func (p *Proxy) newRequest(r *http.Request) *request {
	path := r.URL.Path
	req := &request{backend: p.isBackend(r), peerTrusted: p.trusted(r)}
	req.clientOrigin = p.clientOrigin(r, req.peerTrusted)
	stripCookies(r.Header, p.opts.StripCookies)
	dropAliases(r.Header, p.cred)
	req.cookies = r.Cookies()
	req.key, req.keyCookie = p.sessionKey(req.cookies, nil)
	if p.sso != nil && req.backend {
		if u, ok := p.sso.Identity(r); ok {
			req.ssoUser = &u
		}
	}
	if r.Method == http.MethodGet && !logout.IsScript(r) && (req.backend || path == p.prof.SignInPath) {
		req.pageLoad = true
		req.gzipOK = acceptsGzip(r.Header)
	}
	r.Header.Del(logout.HeaderPassive)
	if p.passive(r) {
		r.Header.Set(logout.HeaderPassive, "1")
	}
	if r.Method == http.MethodPost && path == p.prof.SignInPath {
		req.signIn = true
		if p.prof.UserField != "" {
			if f := peekForm(r); f != nil {
				req.user = f.Get(p.prof.UserField)
			}
		}
	}
	return req
}

// sessionKey returns the key of the first non-empty session cookie among
// cookies, in the order the browser sent them (the most specific path
// first), and that cookie; known is a request whose key was decoded
// already, so that the same cookie is not decoded twice.
func (p *Proxy) sessionKey(cookies []*http.Cookie, known *request) (string, *http.Cookie) {
	for _, c := range cookies {
		if !matchAny(p.prof.SessionCookies, c.Name) || c.Value == "" {
			continue
		}
		if k := known; k != nil && k.keyCookie != nil && k.keyCookie.Name == c.Name && k.keyCookie.Value == c.Value {
			return k.key, c
		}
		return p.decodeKey(c.Name, c.Value), c
	}
	return "", nil
}

// forwardedKey returns the key of the session cookie that forward let
// through to the panel: the request's own, unless forward stripped it.
func (p *Proxy) forwardedKey(req *request) string {
	if !req.stripped {
		return req.key
	}
	k, _ := p.sessionKey(req.r.Cookies(), req)
	return k
}

// decodeKey returns what keys a session by the session cookie name with
// value as the browser or the panel sends it: Profile.DecodeKey's key
// ("" on an error: an anonymous visitor), or without it the value as PHP
// decodes it (percent-escapes decoded, so that "a|b" and "a%7Cb", one
// session to PHP, are one to the proxy too).
func (p *Proxy) decodeKey(name, value string) string {
	if p.prof.DecodeKey == nil {
		return percentDecode(value)
	}
	k, err := p.prof.DecodeKey(name, value)
	if err != nil {
		return ""
	}
	return k
}

type requestCtxKey struct{}

func (requestCtxKey) String() string { return "proxy request" }

// withRequest returns r carrying req, for the Manager to hand on.
func withRequest(r *http.Request, req *request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), requestCtxKey{}, req))
}

// requestOf returns the request value that r carries, or nil for a
// request that did not come through ServeHTTP.
func requestOf(r *http.Request) *request {
	req, _ := r.Context().Value(requestCtxKey{}).(*request)
	return req
}
