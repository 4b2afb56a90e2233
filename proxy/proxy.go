package proxy

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	pathpkg "path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
	"github.com/gologout/logout/widget"
)

// Options configure a Proxy. Upstream and Profile are required; every
// other field states its default.
type Options struct {
	// Upstream is the panel's address, such as http://127.0.0.1:8000.
	Upstream *url.URL
	// Profile describes the panel. It is validated by New.
	Profile Profile
	// Logout holds further options of the [logout.Manager] (Now,
	// SyncInterval, Defaults, OnSignOut, …). Its BackendPrefix, SignInPath,
	// EndpointsPath, App, PassivePaths, Deny and Logger are set by the
	// proxy.
	Logout logout.Options
	// TrustedProxies are the reverse proxies (addresses or networks) in
	// front of this one whose X-Forwarded-For, -Host, -Proto and Forwarded
	// headers are kept. From any other client they are replaced. Default
	// none.
	TrustedProxies []netip.Prefix
	// StripCookies name cookies that are never forwarded to the upstream,
	// such as those of the proxy's own admin pages.
	StripCookies []Pattern
	// RewriteOrigins are further origins ("https://example.com") that the
	// panel believes it has, such as WordPress's site address: redirects
	// to them, as to Upstream, are rewritten to the proxy's origin.
	RewriteOrigins []string
	// Transport forwards requests. Default a clone of
	// http.DefaultTransport that keeps up to 256 idle connections to the
	// upstream (MaxIdleConns and MaxIdleConnsPerHost; the DefaultTransport
	// keeps 2 per host, so that under load most requests would open a new
	// connection and leave one in TIME_WAIT) and closes each after 90 s
	// unused (IdleConnTimeout). The number of connections in use is not
	// limited: bound the panel's workers in its own server (PHP-FPM's
	// pm.max_children, gunicorn's --workers).
	Transport http.RoundTripper
	// Labels are the widget's strings; empty ones are English.
	Labels widget.Labels
	// Logger receives errors and sign-in records. Default slog.Default().
	Logger *slog.Logger
	// SignOutTimeout bounds the request that ends a session on the panel.
	// Default 5 s.
	SignOutTimeout time.Duration
	// LaravelKey, when set, is the APP_KEY of a Laravel panel (OctoberCMS)
	// that encrypts its session cookie: New sets the profile's DecodeKey
	// to its [LaravelKey.DecodeKey], which New refuses to replace.
	//
	// Deprecated: set [Profile.DecodeKey] to key.DecodeKey, which serves
	// any panel with a sealed session cookie.
	LaravelKey *LaravelKey
	// SSO, when set, puts a single sign-on in front of a panel that signs
	// in through an OpenID provider: New calls it with the Proxy's
	// Manager and [Proxy.SSOPath], below which the SSO's endpoints are
	// served, and fails when it fails. See [SSO]; package
	// github.com/gologout/logout/oidc's ProxySSO is one. Default none.
	SSO func(m *logout.Manager, path string) (SSO, error)
}

// An SSO is a single sign-on in front of the panel (Options.SSO): the
// proxy signs a browser in at the provider itself, before the panel's own
// single sign-on plugin signs it in silently from the provider session,
// and starts the panel's session for the identity it verified, with its
// tags, by which the provider's logout ends it. When SSO is set:
//
//   - A backend request without a live session and without a pending
//     identity (Identity) is sent to the SSO's sign-in, SSOPath +
//     "login?return=…" (a GET or HEAD; any other method is refused as
//     Manager.Unauthorized refuses it), except at the sign-in page, whose
//     password form works as before, and on Profile.AnonymousPaths.
//   - A GET of the sign-in page first asks EndProviderSession, which ends
//     the provider session of an ended session (OpenID Connect
//     RP-Initiated Logout) and then comes back to the sign-in page with
//     the reason.
//   - When the panel answers a request that carries a pending identity,
//     and is not a POST of the sign-in form, with a new session cookie,
//     the session starts for Identity's user and Started binds the
//     identity to it.
type SSO interface {
	// ServeHTTP serves the SSO's endpoints below Proxy.SSOPath, outside
	// the Manager's middleware: the sign-in, the redirect URI, the
	// provider's logout channels.
	http.Handler
	// Identity returns the user (ID, name, tags) whom r's browser signed
	// in as at the provider and who has not started a session yet.
	Identity(r *http.Request) (logout.User, bool)
	// Started binds r's pending identity to the session s it started.
	Started(w http.ResponseWriter, r *http.Request, s logout.Session)
	// EndProviderSession answers the sign-in page's GET when r's last
	// session ended and its provider session is to be ended, and
	// reports whether it did.
	EndProviderSession(w http.ResponseWriter, r *http.Request) bool
	// CookieNames are the SSO's cookies, as patterns (ParsePattern): the
	// proxy never forwards them to the panel.
	CookieNames() []string
}

// A Proxy is a reverse proxy to one admin panel that signs idle sessions
// out. It is an http.Handler, safe for concurrent use. Create one with New.
type Proxy struct {
	opts      Options
	prof      Profile
	m         *logout.Manager
	rp        *httputil.ReverseProxy
	log       *slog.Logger
	base      string // the proxy's own path: Prefix + "/_logout/"
	endpoints string // where the Manager's endpoints are
	assets    http.Handler
	widget    http.Handler
	origins   []string
	signedOut sync.Map       // session ID → *signOutState
	nSigned   atomic.Int64   // entries in signedOut
	cred      []Pattern      // the profile's SessionCookies and ExtraCookies
	nonceRe   *regexp.Regexp // the profile's SignOut.NoncePattern, or nil
	userRe    *regexp.Regexp // the profile's UserCookiePattern, or nil
	nonces    *nonceCache    // the latest sign-out nonce of each session
	warnedCSP atomic.Bool
	bufs      sync.Pool
	handler   http.Handler
	sso       SSO       // Options.SSO's, or nil
	ssoPath   string    // base + "sso/"
	ssoCookie []Pattern // sso's CookieNames
	// snippetHead and snippetTail surround the counter in the injected
	// snippet.
	snippetHead, snippetTail string
}

//go:embed assets
var assetFS embed.FS

// chunkSize is the injector's buffer: the most of a page held at once.
const chunkSize = 32 << 10

// formPeekLimit bounds how much of a sign-in or polling form is read to
// learn the user or spot the poll; larger bodies are forwarded unread.
const formPeekLimit = 64 << 10

// New returns a Proxy that keeps its sessions in store. It fails on
// invalid options; it does not touch the store or the upstream.
func New(store logout.Store, opts Options) (*Proxy, error) {
	if opts.Upstream == nil || (opts.Upstream.Scheme != "http" && opts.Upstream.Scheme != "https") || opts.Upstream.Host == "" {
		return nil, errors.New("proxy: Upstream must be an http:// or https:// URL with a host")
	}
	if err := opts.Profile.Validate(); err != nil {
		return nil, err
	}
	for _, o := range opts.RewriteOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("proxy: rewrite origin %q: want scheme://host[:port]", o)
		}
	}
	trusted, err := TrustedPrefixes(opts.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	opts.TrustedProxies = trusted
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Transport == nil {
		opts.Transport = defaultTransport()
	}
	if opts.SignOutTimeout <= 0 {
		opts.SignOutTimeout = 5 * time.Second
	}
	if opts.LaravelKey != nil {
		if opts.Profile.DecodeKey != nil {
			return nil, errors.New("proxy: LaravelKey and Profile.DecodeKey: set one (DecodeKey: key.DecodeKey)")
		}
		opts.Profile.DecodeKey = opts.LaravelKey.DecodeKey
	}
	p := &Proxy{opts: opts, prof: opts.Profile.normalized(), log: opts.Logger, nonces: newNonceCache()}
	p.cred = slices.Concat(p.prof.SessionCookies, p.prof.ExtraCookies)
	if p.prof.UserCookiePattern != "" {
		p.userRe = regexp.MustCompile(p.prof.UserCookiePattern) // validated above
	}
	if so := p.prof.SignOut; so != nil {
		p.nonceRe, _ = compileNonce(so.NoncePattern) // validated above
	}
	p.base = p.prof.Prefix + "/_logout/"
	p.ssoPath = p.base + "sso/"
	p.endpoints = p.prof.Prefix + "/_logout/session"
	p.origins = append([]string{originOf(opts.Upstream)}, opts.RewriteOrigins...)
	p.bufs.New = func() any { return new([chunkSize]byte) }
	p.snippetHead = `<link rel="stylesheet" href="` + p.base + `proxy/proxy.css">` +
		`<script src="` + p.base + `proxy/proxy.js" defer></script>` +
		string(widget.Config{AssetsPrefix: p.base + "widget/"}.Script()) +
		`<span class="logout-proxy-counter logout-proxy-float" data-logout-proxy-target="` +
		template.HTMLEscapeString(p.prof.CounterSelector) + `">`
	p.snippetTail = `</span>`

	lo := opts.Logout
	lo.BackendPrefix, lo.SignInPath, lo.EndpointsPath = p.prof.Prefix, p.prof.SignInPath, p.endpoints
	if p.prof.Prefix == "" { // the whole site is the panel
		lo.BackendPrefix = strings.TrimSuffix(p.base, "/")
	}
	lo.Backend = p.isBackend
	lo.App, lo.Deny, lo.Logger = appSessions{p}, p.deny, opts.Logger
	lo.PassivePaths = nil
	for _, r := range p.prof.Passive {
		if r.Param == "" {
			lo.PassivePaths = append(lo.PassivePaths, r.Path)
		}
	}
	m, err := logout.New(store, lo)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.m = m
	if opts.SSO != nil {
		if p.sso, err = opts.SSO(m, p.ssoPath); err != nil {
			return nil, fmt.Errorf("proxy: single sign-on: %w", err)
		}
		for _, name := range p.sso.CookieNames() {
			pat, err := ParsePattern(name)
			if err != nil {
				return nil, fmt.Errorf("proxy: single sign-on: %w", err)
			}
			p.ssoCookie = append(p.ssoCookie, pat)
		}
	}
	sub, _ := fs.Sub(assetFS, "assets")
	p.assets = http.StripPrefix(p.base+"proxy/", http.FileServerFS(sub))
	p.widget = http.StripPrefix(p.base+"widget", widget.Handler())
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      opts.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		BufferPool:     bufferPool{&p.bufs},
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == p.endpoints || strings.HasPrefix(r.URL.Path, p.endpoints+"/") {
			p.m.Endpoints().ServeHTTP(w, r)
			return
		}
		p.forward(w, r)
	})
	p.handler = p.m.Handler(inner)
	return p, nil
}

// maxIdleConns is how many idle connections to the upstream the default
// Transport keeps: more than a busy panel serves at once.
const maxIdleConns = 256

// defaultTransport is Options.Transport's default.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = maxIdleConns, maxIdleConns
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Manager returns the Proxy's [logout.Manager], for the admin pages
// (settings, sessions, forced sign-out) and tests.
func (p *Proxy) Manager() *logout.Manager { return p.m }

// Run ends expired sessions until ctx is done, then writes pending
// activity; see [logout.Manager.Run].
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.m.Run(ctx); err != nil {
		return fmt.Errorf("proxy: run: %w", err)
	}
	return nil
}

// AssetsPath returns the path below which the proxy serves its own files
// and the session endpoints: the profile's prefix + "/_logout/".
func (p *Proxy) AssetsPath() string { return p.base }

// SSOPath returns the path below which the proxy serves the endpoints of
// Options.SSO: the profile's prefix + "/_logout/sso/".
func (p *Proxy) SSOPath() string { return p.ssoPath }

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

// endCredential expires an ended session's cookies in the browser and
// ends the session on the panel, once per request.
func (p *Proxy) endCredential(w http.ResponseWriter, r *http.Request, req *request) {
	if req == nil || req.handled {
		return
	}
	req.handled = true
	for _, c := range req.cookies {
		if !matchAny(p.cred, c.Name) || matchAny(p.prof.KeepCookies, c.Name) {
			continue
		}
		if p.prof.FrontEnd == "keep" && matchAny(p.prof.SessionCookies, c.Name) {
			continue // it also holds the visitor's front-end session
		}
		for _, path := range p.prof.CookiePaths {
			http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: path, MaxAge: -1, HttpOnly: true})
		}
	}
	req.confirmed = p.signOutUpstream(r, req)
}

// maxSignOutTries bounds how often the proxy asks the panel to end one
// session: a try is made each time the ended session's cookie comes back,
// until the panel confirms.
const maxSignOutTries = 5

// signOutState is what the proxy knows of the panel's sign-out of one
// ended session.
type signOutState struct {
	mu        sync.Mutex
	tries     int
	confirmed bool
}

// signOutUpstream ends r's session on the panel, as the profile's SignOut
// says, and reports whether the panel confirmed it (a status below 400):
// now or at an earlier try. A failed try is logged and made again the
// next time the cookie comes back, at most maxSignOutTries times.
func (p *Proxy) signOutUpstream(r *http.Request, req *request) bool {
	so := p.prof.SignOut
	if so == nil || req.key == "" {
		return false
	}
	id := p.m.SessionID(req.key)
	v, loaded := p.signedOut.LoadOrStore(id, &signOutState{})
	if !loaded && p.nSigned.Add(1) > 10000 { // bound the memory: forget the old ones
		p.signedOut.Clear()
		p.nSigned.Store(0)
	}
	st := v.(*signOutState)
	st.mu.Lock() // one try at a time per session
	defer st.mu.Unlock()
	if st.confirmed {
		return true
	}
	if st.tries >= maxSignOutTries {
		return false
	}
	path, form, nonce := so.Path, so.Form, ""
	if p.nonceRe != nil {
		var ok bool
		nonce, ok = p.nonces.take(id, p.now())
		if !ok {
			if st.tries == 0 {
				p.log.Info("proxy: no sign-out nonce seen for the session; it is ended at the proxy only",
					logid.Attr(id))
			}
			st.tries = maxSignOutTries
			return false
		}
		path = strings.ReplaceAll(path, nonceSlot, url.QueryEscape(nonce))
		form = strings.ReplaceAll(form, nonceSlot, url.QueryEscape(nonce))
	}
	st.tries++
	status, err := p.signOutRequest(r, req, so, path, form)
	if err == nil && status < 400 {
		st.confirmed = true
		p.log.Info("proxy: signed out on the panel", logid.Attr(id), slog.Int("status", status), slog.Int("try", st.tries))
		return true
	}
	if nonce != "" {
		p.nonces.put(id, nonce, p.now()) // for the next try
	}
	level, attrs := slog.LevelWarn, []slog.Attr{logid.Attr(id), slog.Int("try", st.tries), slog.Int("of", maxSignOutTries)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.Int("status", status))
	}
	if st.tries >= maxSignOutTries {
		level = slog.LevelError // given up: the cookie stays blocked at the proxy
	}
	p.log.LogAttrs(r.Context(), level, "proxy: sign out upstream failed", attrs...)
	return false
}

// signOutRequest sends the panel's sign-out request for r's session to
// path, with the URL-encoded form for a POST, and returns the panel's
// status; an answer without the profile's proof (SignOut.Confirm) is an
// error.
func (p *Proxy) signOutRequest(r *http.Request, req *request, so *SignOut, path, form string) (int, error) {
	u := *p.opts.Upstream
	u.Path, u.RawQuery, _ = strings.Cut(path, "?")
	var body io.Reader
	if so.Method == http.MethodPost {
		vals, _ := url.ParseQuery(form) // validated with the profile
		if so.CSRFCookie != "" {
			if i := slices.IndexFunc(req.cookies, func(c *http.Cookie) bool { return c.Name == so.CSRFCookie }); i >= 0 {
				vals.Set(so.CSRFField, req.cookies[i].Value)
			}
		}
		body = strings.NewReader(vals.Encode())
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.opts.SignOutTimeout)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, so.Method, u.String(), body)
	if err != nil {
		return 0, err
	}
	if body != nil {
		out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, line := range r.Header["Cookie"] {
		out.Header.Add("Cookie", line)
	}
	p.stripSSOCookies(out.Header)
	if p.prof.PreserveHost {
		out.Host = r.Host
	}
	// Django checks the Referer of HTTPS POSTs against the host.
	out.Header.Set("Referer", req.clientOrigin+p.prof.SignInPath)
	out.Header.Set("X-Forwarded-Host", r.Host)
	resp, err := p.opts.Transport.RoundTrip(out)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 400 && !p.confirmed(resp) {
		return resp.StatusCode, fmt.Errorf("the answer is no proof of the sign-out (confirm %q)", so.Confirm)
	}
	return resp.StatusCode, nil
}

// confirmed reports whether the panel's answer to a sign-out proves it
// as the profile's SignOut.Confirm says.
func (p *Proxy) confirmed(resp *http.Response) bool {
	switch c := p.prof.SignOut.Confirm; c {
	case "":
		return true
	case "cookie":
		for _, ck := range resp.Cookies() {
			if matchAny(p.cred, ck.Name) && (ck.MaxAge < 0 || ck.Value == "" || (!ck.Expires.IsZero() && ck.Expires.Before(p.now()))) {
				return true
			}
		}
		return false
	default:
		loc, err := resp.Location()
		return err == nil && strings.HasPrefix(loc.Path, c)
	}
}

// now reads the clock of Options.Logout.Now.
func (p *Proxy) now() time.Time {
	if p.opts.Logout.Now != nil {
		return p.opts.Logout.Now()
	}
	return time.Now()
}

// deny answers the requests the Manager refuses: an ended session's
// cookies are expired and ended on the panel first.
func (p *Proxy) deny(w http.ResponseWriter, r *http.Request, d logout.Denial) {
	var ended *logout.EndedError
	if errors.As(d.Err, &ended) {
		p.endCredential(w, r, requestOf(r))
	}
	d.Write(w)
}

// appSessions connects the Manager to the panel's session cookie.
type appSessions struct{ p *Proxy }

// SessionID implements logout.AppSessions: the key of the session cookie
// the upstream just set, or else of the one the request carries.
func (a appSessions) SessionID(r *http.Request) string {
	req := requestOf(r)
	if req == nil { // not through ServeHTTP: read the cookie here
		k, _ := a.p.sessionKey(r.Cookies(), nil)
		return k
	}
	if req.renewed != "" {
		return req.renewed
	}
	return req.key
}

// EndSession implements logout.AppSessions. The Manager calls it for an
// ended session and for an unknown one alike; the proxy tells them apart
// later (deny, forward), except on the sign-out endpoint.
func (a appSessions) EndSession(w http.ResponseWriter, r *http.Request) {
	req := requestOf(r)
	if req == nil {
		return
	}
	req.dropped = true
	if strings.HasPrefix(r.URL.Path, a.p.endpoints+"/") && r.Method == http.MethodPost {
		a.p.endCredential(w, r, req) // the widget's "Sign out now"
	}
}

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

// clientAddrHeaders are the headers other than X-Forwarded-For and
// Forwarded by which proxies and CDNs tell a client's address: from a
// client that is no trusted proxy they are a lie, and are not forwarded.
var clientAddrHeaders = []string{"X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip",
	"X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Forwarded-For", "Client-Ip", "X-Forwarded"}

// trusted reports whether r comes from one of Options.TrustedProxies.
func (p *Proxy) trusted(r *http.Request) bool {
	if len(p.opts.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pre := range p.opts.TrustedProxies {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientOrigin is the origin the browser sees: scheme and host, taken
// from X-Forwarded-Proto and -Host only from a trusted proxy.
func (p *Proxy) clientOrigin(r *http.Request, trusted bool) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if trusted {
		if v := r.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			scheme = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" && !strings.ContainsAny(v, "/ ,") {
			host = v
		}
	}
	return scheme + "://" + host
}

func originOf(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

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

var _ http.Handler = (*Proxy)(nil)
var _ logout.AppSessions = appSessions{}
