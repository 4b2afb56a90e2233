package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
	"github.com/gologout/logout/widget"
)

// modifyResponse follows sign-ins and sign-outs in the upstream's
// cookies, rewrites redirects to the upstream's own address, and injects
// the widget (or the sign-out notice) into HTML pages.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	req := requestOf(resp.Request)
	if req == nil || req.r == nil {
		return nil
	}
	if ctx := resp.Request.Context(); p.log.Enabled(ctx, slog.LevelDebug) {
		// The path only: a query may hold a nonce or a token.
		p.log.LogAttrs(ctx, slog.LevelDebug, "proxy: forwarded", slog.String("method", req.r.Method),
			slog.String("path", req.r.URL.Path), slog.Int("status", resp.StatusCode), slog.Bool("backend", req.backend))
	}
	p.rewriteLocation(resp, req)
	p.stripOwnSetCookies(resp.Header)
	if req.r.URL.Path == p.prof.SignInPath && req.r.Header.Get("Sec-Fetch-Dest") == "iframe" && req.r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		allowSameOriginFrame(resp.Header) // the lock dialog's frame
	}
	if _, set := req.w.Header()["Cache-Control"]; set && req.backend {
		// The Manager's no-store on a backend page is the answer's one
		// Cache-Control: the panel's would be a second line.
		resp.Header.Del("Cache-Control")
	}
	if err := p.followCookies(resp, req); err != nil {
		return err
	}
	sess, live := logout.FromContext(req.r.Context())
	switch {
	case !req.pageLoad || resp.StatusCode != http.StatusOK || !isHTML(resp.Header):
	case live && req.renewed == "" && req.backend:
		cfg, ok := widget.New(p.m, req.r)
		if !ok {
			return nil
		}
		cfg.AssetsPrefix = p.base + "widget/"
		cfg.Labels = p.opts.Labels
		cfg.SignInFrame = true // the lock dialog shows the panel's own sign-req page
		return p.inject(resp, sess.ID, func(nonce string) []byte { return p.widgetSnippet(cfg, nonce) })
	case req.r.URL.Path == p.prof.SignInPath:
		reason, err := logout.ParseReason(req.r.URL.Query().Get("reason"))
		if err != nil {
			return nil
		}
		return p.inject(resp, "", func(string) []byte { return p.noticeSnippet(reason.Message()) })
	}
	return nil
}

// allowSameOriginFrame lets the panel's sign-in page be framed by the
// panel's own pages, for the lock dialog's frame, and by no one else:
// X-Frame-Options becomes SAMEORIGIN and a CSP frame-ancestors 'self'.
func allowSameOriginFrame(h http.Header) {
	h.Set("X-Frame-Options", "SAMEORIGIN")
	for i, v := range h["Content-Security-Policy"] {
		var out []string
		for d := range strings.SplitSeq(v, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(d), " "); strings.EqualFold(name, "frame-ancestors") {
				d = " frame-ancestors 'self'"
			}
			out = append(out, d)
		}
		h["Content-Security-Policy"][i] = strings.Join(out, ";")
	}
}

// stripOwnSetCookies removes the Set-Cookie lines of Options.StripCookies
// (the admin pages' cookies) from the panel's answer: the panel never sets
// them, as it never sees them. A line's name is read as a browser reads
// it (RFC 6265 5.2: the text before the first "=", trimmed), not by
// http.ParseSetCookie, which refuses names that browsers take.
func (p *Proxy) stripOwnSetCookies(h http.Header) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 || len(p.opts.StripCookies) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		if !readAs(p.opts.StripCookies, strings.TrimSpace(name)) {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
}

// followCookies starts a session when the upstream answers a sign-in
// with a new session cookie, and ends it when the upstream deletes it.
func (p *Proxy) followCookies(resp *http.Response, req *request) error {
	if len(resp.Header["Set-Cookie"]) == 0 {
		return nil
	}
	cookies := resp.Cookies()
	// set is the key of the last live session cookie the panel sets, and
	// renewed that of the last one it does not delete by MaxAge or value
	// (one that has expired still counts): each decoded once.
	var set, renewed string
	deleted := false
	now := p.now()
	for _, c := range cookies {
		gone := cookieGone(c, now)
		if !matchAny(p.prof.SessionCookies, c.Name) {
			// A panel whose session cookie is every visitor's
			// (phpMyAdmin) keeps it at its sign-out and deletes the
			// sign-in's own credential.
			if gone && p.prof.AnonymousSessions && matchAny(p.prof.ExtraCookies, c.Name) && !matchAny(p.prof.KeepCookies, c.Name) {
				deleted = true
			}
			continue
		}
		if gone {
			deleted = true
		}
		if c.Value == "" || c.MaxAge < 0 {
			continue
		}
		if k := p.decodeKey(c.Name, c.Value); k != "" {
			renewed = k
			if !gone {
				set = k
			}
		}
	}
	sess, live := logout.FromContext(req.r.Context())
	current := p.forwardedKey(req)
	switch {
	case set != "" && set != current && !live && req.signIn && resp.StatusCode < 400 &&
		(resp.StatusCode >= 300 || !p.prof.AnonymousSessions):
		return p.startSession(req, renewed, p.signInUser(cookies, req), false)
	case set != "" && set != current && !live && !req.signIn && req.ssoUser != nil && resp.StatusCode < 400 &&
		(resp.StatusCode >= 300 || !p.prof.AnonymousSessions):
		// The panel's single sign-on signed in the identity that the
		// proxy's own verified.
		return p.startSession(req, renewed, *req.ssoUser, true)
	case set != "" && set != current && live && !p.prof.AnonymousSessions:
		// The panel renewed the session's ID (Django's cycle_key on a
		// password change): carry the session over to the new ID, with
		// the tags by which a provider's logout finds it (Options.SSO).
		return p.startSession(req, renewed, logout.User{ID: sess.UserID, Name: sess.UserName, Roles: sess.Roles, Tags: sess.Tags}, false)
	case set != "" && set != current && live && req.signIn && resp.StatusCode >= 300 && resp.StatusCode < 400:
		return p.startSession(req, renewed, p.signInUser(cookies, req), false)
	case deleted && (set == "" || set == current) && live,
		// A panel whose session cookie is every visitor's gives a new
		// one outside a sign-in when it signs out (Laravel's, and so
		// OctoberCMS's, invalidate): the signed-in session is gone.
		set != "" && set != current && live && p.prof.AnonymousSessions && !req.signIn:
		req.handled = true // the panel signed out itself
		if err := p.m.SignOut(req.w, req.r); err != nil {
			p.log.Warn("proxy: sign out", slog.String("error", err.Error()))
		}
	}
	return nil
}

// signInUser returns the user who just signed in: the name in the
// session cookie the panel set (Profile.UserCookiePattern; cookies are
// the answer's), or else the name typed in the form, and the user ID of
// that name (Profile.UserID).
func (p *Proxy) signInUser(cookies []*http.Cookie, req *request) logout.User {
	name := req.user
	if p.userRe != nil {
		for _, c := range cookies {
			if !matchAny(p.prof.SessionCookies, c.Name) {
				continue
			}
			if m := p.userRe.FindStringSubmatch(percentDecode(c.Value)); m != nil && m[1] != "" {
				name = m[1]
				break
			}
		}
	}
	return logout.User{ID: p.prof.UserID(name), Name: strings.TrimSpace(name)}
}

// startSession starts the session of the panel's user u, keyed by
// renewed, the session cookie the panel just set: its ID is the
// Profile's UserID of the panel's name, and its name, which the widget
// shows, that name. sso: u is the request's pending identity
// (Options.SSO), which the session then uses up.
func (p *Proxy) startSession(req *request, renewed string, u logout.User, sso bool) error {
	req.renewed = renewed
	s, err := p.m.SignIn(req.w, req.r, u)
	if err != nil {
		// Fail closed: the browser never gets a cookie the proxy does
		// not know.
		return &signInError{err}
	}
	if sso {
		p.sso.Started(req.w, req.r, s)
	}
	p.log.LogAttrs(req.r.Context(), slog.LevelInfo, "proxy: signed in",
		slog.String("user", u.ID), logid.Attr(s.ID), slog.Bool("sso", sso))
	return nil
}

// rewriteLocation points redirects to the upstream's own address at the
// proxy's.
func (p *Proxy) rewriteLocation(resp *http.Response, req *request) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, known := range p.origins {
		if o == strings.ToLower(known) {
			c, err := url.Parse(req.clientOrigin)
			if err != nil {
				return
			}
			u.Scheme, u.Host = c.Scheme, c.Host
			resp.Header.Set("Location", u.String())
			return
		}
	}
}

// isHTML reports whether a response is an HTML page to inject into.
func isHTML(h http.Header) bool {
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || (ct != "text/html" && ct != "application/xhtml+xml") {
		return false
	}
	if d := h.Get("Content-Disposition"); strings.HasPrefix(strings.ToLower(strings.TrimSpace(d)), "attachment") {
		return false
	}
	return true
}

// inject wraps resp's body in an injector of the snippet that build
// renders for the page's CSP nonce ("" for none). With a session ID and
// the profile's SignOut.NoncePattern, it also learns the session's
// sign-out nonce from the page as it streams.
func (p *Proxy) inject(resp *http.Response, sessionID string, build func(nonce string) []byte) error {
	nonce, ok := cspAllows(resp.Header.Values("Content-Security-Policy"))
	if !ok {
		if !p.warnedCSP.Swap(true) {
			p.log.Warn("proxy: the panel's Content-Security-Policy allows no same-origin script, so no counter is added; add 'self' (or the proxy's path " +
				p.base + ") to its script-src and style-src")
		}
		return nil
	}
	body := resp.Body
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return fmt.Errorf("proxy: gzip page: %w", err)
		}
		body = readCloser{zr, multiCloser{zr, body}}
		gzipped = true
	default:
		return nil // br, zstd, deflate: not requested for page loads; pass it on
	}
	if sessionID != "" && p.nonceRe != nil {
		body = &nonceReader{src: body, re: p.nonceRe, found: func(n string) { p.nonces.put(sessionID, n, p.now()) }}
	}
	buf := p.bufs.Get().(*[chunkSize]byte)
	resp.Body = newInjector(body, build(nonce), buf[:], func(b []byte) { p.bufs.Put((*[chunkSize]byte)(b)) })
	if gzipped {
		resp.Body = gzipBody(resp.Body) // what was compressed goes on compressed
	}
	resp.ContentLength = -1
	for _, h := range []string{"Content-Length", "ETag", "Last-Modified", "Content-MD5", "Accept-Ranges"} {
		resp.Header.Del(h)
	}
	resp.Header.Set("Cache-Control", "no-store")
	return nil
}

// gzipWriters are the compressors of gzipBody, reused.
var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// gzipBody returns src compressed with gzip as it is read. Closing the
// result closes src and stops the compression.
func gzipBody(src io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(pw)
		_, err := io.Copy(zw, src)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		gzipWriters.Put(zw)
		src.Close()
		pw.CloseWithError(err)
	}()
	return readCloser{pr, pr}
}

type readCloser struct {
	io.Reader
	io.Closer
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

var noticeTmpl = template.Must(template.New("n").Parse(
	`<link rel="stylesheet" href="{{.Base}}proxy/proxy.css"><div class="logout-proxy-notice" role="alert">{{.Message}}</div>`))

// widgetSnippet renders what goes after <body> on a signed-in page: the
// proxy's and the widget's tags, rendered once in New (they depend only on
// the paths), and the counter, rendered per page.
func (p *Proxy) widgetSnippet(cfg widget.Config, nonce string) []byte {
	head, tail := p.snippetHead, p.snippetTail
	if nonce != "" {
		n := `<script nonce="` + template.HTMLEscapeString(nonce) + `" `
		head = strings.ReplaceAll(head, "<script ", n)
	}
	el := cfg.Element()
	b := make([]byte, 0, len(head)+len(el)+len(tail))
	b = append(b, head...)
	b = append(b, el...)
	return append(b, tail...)
}

// noticeSnippet renders the sign-in page's notice.
func (p *Proxy) noticeSnippet(msg string) []byte {
	var b bytes.Buffer
	if err := noticeTmpl.Execute(&b, struct{ Base, Message string }{p.base, msg}); err != nil {
		return nil
	}
	return b.Bytes()
}

// cspAllows reports whether the policies allow a same-origin script, and
// the nonce to reuse when only a nonce would.
func cspAllows(policies []string) (nonce string, ok bool) {
	for _, header := range policies {
		for policy := range strings.SplitSeq(header, ",") {
			n, allowed := policyAllows(policy)
			if !allowed {
				if n == "" {
					return "", false
				}
				nonce = n
			}
		}
	}
	return nonce, true
}

// policyAllows judges one policy: script-src-elem, else script-src, else
// default-src.
func policyAllows(policy string) (nonce string, ok bool) {
	dirs := map[string][]string{}
	for d := range strings.SplitSeq(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, dup := dirs[name]; !dup {
			dirs[name] = f[1:]
		}
	}
	src, found := dirs["script-src-elem"]
	if !found {
		src, found = dirs["script-src"]
	}
	if !found {
		src, found = dirs["default-src"]
	}
	if !found {
		return "", true
	}
	strict := false
	for _, s := range src {
		ls := strings.ToLower(s)
		switch {
		case ls == "'strict-dynamic'":
			strict = true
		case strings.HasPrefix(ls, "'nonce-") && strings.HasSuffix(s, "'"):
			nonce = s[len("'nonce-") : len(s)-1]
		}
	}
	for _, s := range src {
		if ls := strings.ToLower(s); !strict && (ls == "'self'" || ls == "*") {
			return "", true
		}
	}
	return nonce, false
}
