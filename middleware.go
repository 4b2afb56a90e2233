package logout

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header names of the middleware.
const (
	// HeaderDeadline carries, on every backend response of a signed-in
	// session, when the session ends, in Unix milliseconds. An answer
	// that ends its session carries none ([Manager.SignOut]), or the new
	// session's ([Manager.SignIn]).
	HeaderDeadline = "Logout-Deadline"
	// HeaderServerTime carries the server's time of the response in Unix
	// milliseconds, so a page can correct for its own clock.
	HeaderServerTime = "Logout-Server-Time"
	// HeaderPassive, set to "1" on a request, keeps that request from
	// extending the session (polling, background refresh).
	HeaderPassive = "X-Logout-Passive"
	// HeaderCSRF carries the CSRF token on script requests.
	HeaderCSRF = "X-Csrf-Token"
	// FieldCSRF is the form field that carries the CSRF token.
	FieldCSRF = "csrf_token"
)

// reqState is the signed-in request's context, in one allocation of 144
// bytes: the engine's handle of the session, from which [FromContext]
// builds the session when asked, and what [Manager.Status],
// [Manager.CSRFToken] and [Manager.SignIn] read. A handler can only be
// given it through the request's context, so a request copy
// (r.WithContext) is another allocation a signed-in request costs; the
// header string is the third, and the cancellable context of a backend
// request in flight (with its cancel func) the fourth and fifth
// (BenchmarkRequestVsBare: 5 in all).
type reqState struct {
	context.Context
	h     handle // the engine's: the session as it let the request in
	key   string // the credential presented, for the CSRF token
	now   time.Time
	began *Session  // the session that SignIn started on the request, which it now describes; nil: none
	hdr   [3]string // the values of the deadline, server-time and Cache-Control headers
}

// session returns the request's session: the one SignIn started on it,
// or the one the middleware let in.
func (c *reqState) session() Session {
	if c.began != nil {
		return *c.began
	}
	return c.h.session()
}

// sessionID returns the ID of c.session() without building it.
func (c *reqState) sessionID() string {
	if c.began != nil {
		return c.began.ID
	}
	return c.h.sessionID()
}

// Value makes reqState its own context rather than a context.WithValue
// around one: one allocation fewer. It answers sessionKey with its
// handle, which the engine takes for the request's identity (cut).
func (c *reqState) Value(key any) any {
	switch key {
	case sessionKey{}:
		return &c.h
	case stateKey{}:
		return c
	}
	return c.Context.Value(key)
}

type stateKey struct{}

func (stateKey) String() string { return "logout state" }

func stateOf(r *http.Request) *reqState {
	rs, _ := r.Context().Value(stateKey{}).(*reqState)
	return rs
}

// Handler returns the middleware. It decides before calling next:
//
//   - a signed-in session within its deadline is served, with the session
//     in the request context ([FromContext]); a non-passive request counts
//     as activity. Backend responses get [HeaderDeadline],
//     [HeaderServerTime] and "Cache-Control: no-store".
//   - a session past its deadline ends. A backend page load is redirected
//     (303) to the sign-in page with the reason and a return path; a
//     backend script request gets 401 with JSON; a front-end request is
//     served as an anonymous visitor, never redirected.
//   - a request without a session, or with an unknown or tampered token,
//     is served as anonymous.
//   - when the store fails, backend requests get 503 with Retry-After
//     (fail closed) and front-end requests are served as anonymous;
//     nothing is ended. Once a store call has failed, front-end requests
//     no longer wait for the store: they are served as anonymous at once
//     until a backend request or a background probe (at most one per
//     [Options.SyncInterval]) finds that it answers again.
//
// Page loads and script requests are told apart by [IsScript]. Mount
// [Manager.Require] on the backend routes that need a signed-in user.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backend := m.scope.backend(r)
		passive := m.scope.passive(r)
		rs, err := m.check(r, backend, passive)
		if err != nil {
			m.refuse(w, r, backend, err, next)
			return
		}
		if backend {
			setBackendHeaders(w.Header(), &rs.hdr, rs.h.deadlineTime(), rs.now)
			m.eng.cancelClose(rs.h.sessionID()) // a tab is open after all
			if !passive {
				// Real work is not idleness (engine_inflight.go), and
				// ends with its session: a tunnel or a request that
				// never ends is cut when the session ends.
				ctx, cancel := context.WithCancelCause(rs)
				part := m.eng.enter(rs.h, rs.now.UnixMicro(), &rs.h, cancel)
				defer m.eng.leave(rs, rs.h, part, &rs.h, false)
				defer cancel(nil)
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(rs))
	})
}

// setBackendHeaders sets the headers of a signed-in backend response:
// [HeaderDeadline], [HeaderServerTime] and "Cache-Control: no-store",
// their values kept in vals, which the request owns. One string holds
// both numbers: one allocation, not two (BenchmarkRequest: 5 allocations
// instead of 6, the same bytes). Each header's slice is the request's
// own, so a handler that writes into one changes no other response.
func setBackendHeaders(h http.Header, vals *[3]string, deadline, now time.Time) {
	var buf [40]byte
	b := strconv.AppendInt(buf[:0], deadline.UnixMilli(), 10)
	n := len(b)
	both := string(strconv.AppendInt(b, now.UnixMilli(), 10))
	*vals = [3]string{both[:n], both[n:], "no-store"}
	h[HeaderDeadline] = vals[0:1:1]
	h[HeaderServerTime] = vals[1:2:2]
	h["Cache-Control"] = vals[2:3:3]
}

// Check decides on r as [Manager.Handler] does, without responding: it
// returns the signed-in session (recording activity unless r is passive),
// [ErrNoSession] for an anonymous request, an [*EndedError] for a session
// that has ended (ending it now if its deadline has passed), or an error
// wrapping [ErrUnavailable] when the store fails.
func (m *Manager) Check(r *http.Request) (Session, error) {
	rs, err := m.check(r, m.scope.backend(r), m.scope.passive(r))
	if err != nil {
		return Session{}, err
	}
	return rs.session(), nil
}

// scope tells which requests are the backend's and which are passive.
type scope struct {
	prefix    string                   // Options.BackendPrefix
	isBackend func(*http.Request) bool // Options.Backend, or nil
	passives  map[string]bool          // Options.PassivePaths and the passive endpoints
}

func newScope(opts Options, p Paths) scope {
	sc := scope{prefix: opts.BackendPrefix, isBackend: opts.Backend, passives: make(map[string]bool)}
	for _, path := range opts.PassivePaths {
		sc.passives[path] = true
	}
	sc.passives[p.Status] = true
	sc.passives[p.Events] = true
	return sc
}

// backend reports whether r is below the backend prefix, or
// [Options.Backend] says it is the backend's.
func (sc scope) backend(r *http.Request) bool {
	p, pre := r.URL.Path, sc.prefix
	if strings.HasPrefix(p, pre) && (len(p) == len(pre) || p[len(pre)] == '/') {
		return true
	}
	return sc.isBackend != nil && sc.isBackend(r)
}

// passive reports whether r does not count as activity: [HeaderPassive]
// or a passive path.
func (sc scope) passive(r *http.Request) bool {
	if v := r.Header[HeaderPassive]; len(v) > 0 && v[0] == "1" {
		return true
	}
	return sc.passives[r.URL.Path]
}

// Busy marks long work of r's session as activity until done is called,
// for work that outlives the request that started it (an export that
// runs on after the response): until then, the session does not end by
// idleness (its absolute limit still ends it), and the call of done
// counts as activity. Calls of done after the first do nothing. For a
// request without a signed-in session (one that did not go through
// [Manager.Handler]), done does nothing.
//
// A backend request is already busy while [Manager.Handler] serves it;
// Busy is for what goes on after it returns.
func (m *Manager) Busy(r *http.Request) (done func()) {
	rs := stateOf(r)
	if rs == nil || !rs.h.valid() {
		return func() {}
	}
	return m.eng.hold(context.WithoutCancel(r.Context()), rs.h)
}

// IsScript reports whether r was sent by a script (fetch, XMLHttpRequest)
// rather than loaded as a page, and so should get a status code with a
// JSON body instead of a redirect to an HTML page. It is the one place
// where Logout makes that decision; the middleware, [Manager.Require] and
// [Manager.Unauthorized] all use it:
//
//   - Sec-Fetch-Mode "navigate" or Sec-Fetch-Dest "document", "iframe" or
//     "frame": a page load, whatever else the request says;
//   - X-Requested-With set (jQuery, htmx and most frameworks): a script;
//   - any other Sec-Fetch-Mode ("cors", "same-origin", "no-cors"): a
//     script;
//   - otherwise (browsers without Fetch Metadata, other clients) an
//     Accept header that names application/json, or any "+json" type, and
//     not text/html: a script.
//
// Anything else is a page load.
func IsScript(r *http.Request) bool {
	h := r.Header
	mode := headerValue(h, "Sec-Fetch-Mode")
	switch headerValue(h, "Sec-Fetch-Dest") {
	case "document", "iframe", "frame":
		return false
	}
	if mode == "navigate" {
		return false
	}
	if headerValue(h, "X-Requested-With") != "" || mode != "" {
		return true
	}
	accept := strings.ToLower(strings.Join(h.Values("Accept"), ","))
	return (strings.Contains(accept, "application/json") || strings.Contains(accept, "+json")) &&
		!strings.Contains(accept, "text/html")
}

// headerValue is Header.Get for a canonical name, without canonicalising.
func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// check is the per-request decision.
func (m *Manager) check(r *http.Request, backend, passive bool) (*reqState, error) {
	key := m.creds.presented(r)
	if key == "" {
		return nil, ErrNoSession
	}
	ctx := r.Context()
	h, now, err := m.eng.decide(ctx, visit{key: key, backend: backend, passive: passive})
	if err != nil {
		return nil, err
	}
	return &reqState{Context: ctx, h: h, key: key, now: now}, nil
}

// refuse answers a request whose check failed.
func (m *Manager) refuse(w http.ResponseWriter, r *http.Request, backend bool, err error, next http.Handler) {
	var ended *EndedError
	switch {
	case errors.As(err, &ended):
		m.creds.drop(w, r)
		if backend && r.URL.Path != m.opts.SignInPath {
			m.unauthorized(w, r, Denial{Err: ended, Reason: ended.Reason, Message: m.message(r, ended.Reason)})
			return
		}
	case errors.Is(err, errUnknownSession):
		m.creds.drop(w, r)
	case errors.Is(err, ErrNoSession):
	case errors.Is(err, errStoreDown):
		// Front end only, while the store is known to be failing: served
		// as anonymous; the failure was logged once when it started.
	default:
		m.log.LogAttrs(r.Context(), slog.LevelError, "logout: session check failed", slog.String("error", err.Error()))
		if backend {
			m.deny(w, r, unavailableDenial(r, err))
			return
		}
	}
	if r.Method == http.MethodPost && (backend || r.URL.Path == m.opts.SignInPath) {
		r = withSignInSlot(r) // where SignIn leaves the new credential (signedin.go)
	}
	next.ServeHTTP(w, r)
}

// SignInURL returns the sign-in page's URL telling why the session ended
// (0 for none) and where to return after signing in again (a same-origin
// path; anything else is dropped).
func (m *Manager) SignInURL(reason Reason, returnPath string) string {
	q := url.Values{}
	if reason.Valid() {
		q.Set("reason", reason.String())
	}
	if p, ok := SafeReturnPath(returnPath); ok && p != m.opts.SignInPath {
		q.Set("return", p)
	}
	if len(q) == 0 {
		return m.opts.SignInPath
	}
	return m.opts.SignInPath + "?" + q.Encode()
}

// Require returns middleware that serves next only for a request with a
// live session; mount it behind [Manager.Handler] on the backend routes
// that need a signed-in user. A request without one is answered by
// [Manager.Unauthorized] with no reason, exactly as the middleware
// answers an ended session: a page load gets a 303 to the sign-in page
// with the return path, a script a 401 with JSON.
func (m *Manager) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stateOf(r) == nil {
			m.Unauthorized(w, r, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Unauthorized answers a request that needs a signed-in session and has
// none: reason says why its session ended, or is 0 when there was none.
// A page load ([IsScript] false) is redirected (303) to
// [Manager.SignInURL] with the reason and, for GET and HEAD, the request's
// path as the return path. A script, and the status and keep-alive
// endpoints, get 401 with one JSON shape whether a session ended or never
// was:
//
//	{"signed_in": false, "server_time": …, "reason": "idle",
//	 "message": "You have been logged out!", "sign_in_url": "/backend/auth/signin?…"}
//
// "reason" is left out when there is none; the return path of a script's
// sign-in URL is the page that sent it (a same-origin Referer). The
// answer carries "Cache-Control: no-store". With [Options.Deny] set, that
// function answers instead.
func (m *Manager) Unauthorized(w http.ResponseWriter, r *http.Request, reason Reason) {
	d := Denial{Err: ErrNoSession, Reason: reason, Message: "Please sign in."}
	if reason.Valid() {
		d.Err = &EndedError{Reason: reason}
		d.Message = m.message(r, reason)
	}
	m.unauthorized(w, r, d)
}

// message is the sign-out notice of reason for r: [Options.Message] or
// [Reason.Message].
func (m *Manager) message(r *http.Request, reason Reason) string {
	if m.opts.Message != nil {
		return m.opts.Message(r, reason)
	}
	return reason.Message()
}

// unauthorized fills in d's status and sign-in URL for r and denies it.
func (m *Manager) unauthorized(w http.ResponseWriter, r *http.Request, d Denial) {
	d.Status, d.Script = http.StatusSeeOther, false
	ret := r.URL.Path
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		ret = r.URL.RequestURI()
	}
	if IsScript(r) || r.URL.Path == m.paths.Status || r.URL.Path == m.paths.KeepAlive || r.URL.Path == m.paths.Events {
		d.Status, d.Script = http.StatusUnauthorized, true
		ret = scriptReturn(r)
	}
	d.SignInURL = m.SignInURL(d.Reason, ret)
	m.deny(w, r, d)
}

// scriptReturn is the return path of a script's sign-in URL: the page
// that sent it (a same-origin Referer), or "".
func scriptReturn(r *http.Request) string {
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		return ref.RequestURI()
	}
	return ""
}

// forbiddenDenial is the answer to a session endpoint's failed CSRF check.
func forbiddenDenial(err error, script bool) Denial {
	return Denial{Status: http.StatusForbidden, Err: err, Script: script,
		Message: "The request was refused: it did not come from this site's page or its security token is missing or out of date. Reload the page and try again."}
}
