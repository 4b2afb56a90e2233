package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
)

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
			if matchAny(p.cred, ck.Name) && cookieGone(ck, p.now()) {
				return true
			}
		}
		return false
	default:
		loc, err := resp.Location()
		return err == nil && strings.HasPrefix(loc.Path, c)
	}
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
