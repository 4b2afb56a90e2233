package proxy

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/widget"
)

// Options configure a Proxy. Upstream and Profile are required; every
// other field states its default.
type Options struct {
	// Upstream is the panel's address, such as http://127.0.0.1:8000.
	Upstream *url.URL
	// Profile describes the panel. It is validated by New.
	Profile Profile
	// Logout holds further options of the [logout.Manager] (Clock,
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
	if opts.Logout.Clock == nil {
		opts.Logout.Clock = logout.SystemClock{} // the Manager's default, read by the proxy too
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

var _ http.Handler = (*Proxy)(nil)
var _ logout.AppSessions = appSessions{}
