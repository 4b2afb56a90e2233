package logout

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
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
	// session, when the session ends, in Unix milliseconds.
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

// ErrCSRF is returned by [Manager.CheckCSRF] for a request that comes from
// another origin or lacks the session's CSRF token.
var ErrCSRF = errors.New("logout: missing or wrong CSRF token")

// errUnknownSession: a cookie that names no session, or a tampered one.
var errUnknownSession = fmt.Errorf("%w: unknown or malformed session token", ErrNoSession)

// reqState is the signed-in request's context: one allocation.
type reqState struct {
	context.Context
	sess Session
	e    *entry
	set  *Settings
	now  time.Time
	hdr  [2]string
}

func (c *reqState) Value(key any) any {
	if key == (sessionKey{}) {
		return &c.sess
	}
	if key == (stateKey{}) {
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
		backend := m.isBackend(r.URL.Path)
		rs, err := m.check(r, backend)
		if err != nil {
			m.refuse(w, r, backend, err, next)
			return
		}
		if backend {
			h := w.Header()
			h["Cache-Control"] = m.noStore
			// One string holds both numbers: one allocation, not two.
			var buf [40]byte
			b := strconv.AppendInt(buf[:0], rs.sess.Deadline.UnixMilli(), 10)
			n := len(b)
			both := string(strconv.AppendInt(b, rs.now.UnixMilli(), 10))
			rs.hdr[0], rs.hdr[1] = both[:n], both[n:]
			h[HeaderDeadline] = rs.hdr[0:1:1]
			h[HeaderServerTime] = rs.hdr[1:2:2]
		}
		next.ServeHTTP(w, r.WithContext(rs))
	})
}

// Check decides on r as [Manager.Handler] does, without responding: it
// returns the signed-in session (recording activity unless r is passive),
// [ErrNoSession] for an anonymous request, an [*EndedError] for a session
// that has ended (ending it now if its deadline has passed), or an error
// wrapping [ErrUnavailable] when the store fails.
func (m *Manager) Check(r *http.Request) (Session, error) {
	rs, err := m.check(r, m.isBackend(r.URL.Path))
	if err != nil {
		return Session{}, err
	}
	return rs.sess, nil
}

func (m *Manager) isBackend(p string) bool {
	pre := m.opts.BackendPrefix
	return strings.HasPrefix(p, pre) && (len(p) == len(pre) || p[len(pre)] == '/')
}

func (m *Manager) isPassive(r *http.Request) bool {
	if v := r.Header[HeaderPassive]; len(v) > 0 && v[0] == "1" {
		return true
	}
	return m.passive[r.URL.Path]
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

// errStoreDown answers a front-end request while the store is known to
// be failing, without asking it again.
var errStoreDown = fmt.Errorf("%w: failing, not asked again until it answers a probe", ErrUnavailable)

// check is the per-request decision.
func (m *Manager) check(r *http.Request, backend bool) (*reqState, error) {
	key := m.creds.presented(r)
	if key == "" {
		return nil, ErrNoSession
	}
	if !backend && m.health.failing() {
		// A front-end page never waits for a store known to be down: it
		// is served to an anonymous visitor at once, while a probe in
		// the background (or a backend request) finds out when the store
		// answers again.
		m.probe()
		return nil, errStoreDown
	}
	rs, err := m.checkKey(r, key, backend)
	if err != nil && errors.Is(err, ErrUnavailable) {
		m.storeFailed(err)
	}
	return rs, err
}

// checkKey is check for a request that presents a credential.
func (m *Manager) checkKey(r *http.Request, key string, backend bool) (*reqState, error) {
	ctx := r.Context()
	now := m.now()
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return nil, err
	}
	e, err := m.load(ctx, key, now)
	if err != nil {
		return nil, err
	}
	nowµ := now.UnixMicro()
	if d, _ := e.deadline(set, e.seen.Load()); nowµ >= d {
		if err := m.expire(ctx, e, set, now); err != nil {
			return nil, err
		}
	}
	if backend || set.FrontendActivity {
		e.used.Store(nowµ)
		if !m.isPassive(r) {
			maxStore(&e.seen, nowµ)
			if nowµ-e.written.Load() >= m.touchInterval(set, e).Microseconds() {
				if err := m.write(ctx, e, set); err != nil {
					return nil, err
				}
			}
		}
	}
	s, _ := e.session(set)
	return &reqState{Context: ctx, sess: s, e: e, set: set, now: now}, nil
}

func (m *Manager) touchInterval(set *Settings, e *entry) time.Duration {
	if m.opts.TouchInterval > 0 {
		return m.opts.TouchInterval
	}
	return min(max(set.IdleLifetime(e.sess.Roles)/100, time.Millisecond), 5*time.Second)
}

func endedErr(ev *Event) error { return &EndedError{Reason: ev.Reason, At: ev.At} }

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// load returns the cached entry of key, reading the store when it has
// none or when its copy is older than the sync interval.
func (m *Manager) load(ctx context.Context, key string, now time.Time) (*entry, error) {
	if e := m.cached(key); e != nil {
		if ev := e.ended.Load(); ev != nil {
			return nil, endedErr(ev)
		}
		if err := m.sync(ctx, e, now, false); err != nil {
			return nil, err
		}
		return e, nil
	}
	c, ok := m.creds.resolve(key)
	if !ok {
		return nil, errUnknownSession
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Session(sctx, c.id)
	if errors.Is(err, ErrNotFound) {
		return nil, m.goneErr(sctx, c.id)
	}
	if err != nil {
		return nil, unavailable("session", err)
	}
	m.storeAnswered()
	return m.insert(newEntry(key, c.secret, s, now)), nil
}

// goneErr explains a session the store no longer has: why it ended, or
// errUnknownSession when the log has no word of it.
func (m *Manager) goneErr(ctx context.Context, id string) error {
	ev, err := m.store.Event(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return errUnknownSession
	case err != nil:
		return unavailable("event", err)
	}
	return endedErr(&ev)
}

// gone handles an entry whose session the store no longer has: it
// records why it ended, drops it from the cache and returns the error to
// report.
func (m *Manager) gone(ctx context.Context, e *entry) error {
	err := m.goneErr(ctx, e.sess.ID)
	var ended *EndedError
	if errors.As(err, &ended) {
		e.ended.Store(&Event{SessionID: e.sess.ID, UserID: e.sess.UserID, Reason: ended.Reason, At: ended.At})
	}
	m.forget(e)
	return err
}

// sync rereads e from the store if its copy is older than the sync
// interval, or always with force.
func (m *Manager) sync(ctx context.Context, e *entry, now time.Time, force bool) error {
	fresh := func() bool {
		d := now.UnixMicro() - e.synced.Load()
		return d >= 0 && d < m.opts.SyncInterval.Microseconds()
	}
	if !force && fresh() {
		return nil
	}
	e.mu.Lock()
	defer m.unlock(ctx, e)
	if ev := e.ended.Load(); ev != nil {
		return endedErr(ev)
	}
	if !force && fresh() {
		return nil
	}
	if f := e.failed.Load(); f.answers(now, m.opts.StoreTimeout) {
		return f.err // failed after this request arrived: do not queue another timeout
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Session(sctx, e.sess.ID)
	if errors.Is(err, ErrNotFound) {
		return m.gone(sctx, e)
	}
	if err != nil {
		err = unavailable("session", err)
		e.failed.Store(&failure{at: m.now(), err: err})
		return err
	}
	e.failed.Store(nil)
	m.storeAnswered()
	maxStore(&e.seen, s.LastSeen.UnixMicro())
	maxStore(&e.written, s.LastSeen.UnixMicro())
	e.synced.Store(now.UnixMicro())
	return nil
}

// write records e's newest activity in the store, unless another request
// is using the entry's store connection right now (the request path never
// queues behind a store call; the next request or the flush writes it).
func (m *Manager) write(ctx context.Context, e *entry, set *Settings) error {
	if !e.mu.TryLock() {
		// The holder writes it when it lets go (unlock): the activity is
		// never left unwritten until some later request.
		e.dirty.Store(true)
		return nil
	}
	err := m.writeLocked(ctx, e, set)
	m.unlock(ctx, e)
	return err
}

// unlock releases e.mu, first writing the activity of requests that
// found it held. A request sets e.dirty only after its TryLock failed,
// so while someone held the lock: either that holder sees the flag here,
// or a later holder does.
func (m *Manager) unlock(ctx context.Context, e *entry) {
	for {
		if e.dirty.Swap(false) && e.ended.Load() == nil {
			// The same rule as on the request path: write when the newest
			// activity is a touch interval past the newest written (this
			// holder may just have written most of it).
			if c := m.settings.Load(); c != nil && e.seen.Load()-e.written.Load() >= m.touchInterval(&c.s, e).Microseconds() {
				// Errors are not this caller's: the activity stays in
				// e.seen and the next request, sweep or flush writes it.
				_ = m.writeLocked(context.WithoutCancel(ctx), e, &c.s)
			}
		}
		e.mu.Unlock()
		if !e.dirty.Load() || !e.mu.TryLock() {
			return
		}
	}
}

// writeLocked is write for a caller that holds e.mu.
func (m *Manager) writeLocked(ctx context.Context, e *entry, set *Settings) error {
	seen := e.seen.Load()
	if seen <= e.written.Load() {
		return nil
	}
	d, _ := e.deadline(set, seen)
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	err := m.store.TouchSession(sctx, e.sess.ID, time.UnixMicro(seen).UTC(), time.UnixMicro(d).UTC())
	if errors.Is(err, ErrNotFound) {
		return m.gone(sctx, e)
	}
	if err != nil {
		return unavailable("touch", err)
	}
	maxStore(&e.written, seen)
	return nil
}

// expire handles a session that looks past its deadline: it confirms
// with the store (another process may have seen activity) and ends it,
// returning why. It returns nil when the session turned out to be alive.
func (m *Manager) expire(ctx context.Context, e *entry, set *Settings, now time.Time) error {
	for range 2 {
		if err := m.sync(ctx, e, now, true); err != nil {
			return err
		}
		s, reason := e.session(set)
		if now.Before(s.Deadline) {
			return nil
		}
		if ev := e.ended.Load(); ev != nil {
			return endedErr(ev)
		}
		sctx, cancel := m.storeCtx(ctx)
		evs, err := m.store.EndSessions(sctx, Selector{IDs: []string{s.ID}, SeenBy: s.LastSeen}, reason, s.Deadline)
		cancel()
		if err != nil {
			return unavailable("end session", err)
		}
		if len(evs) > 0 {
			m.ended(ctx, evs)
			return endedErr(&evs[0])
		}
		// Ended meanwhile by another request, or newer activity was
		// written by another process: look again.
	}
	if ev := e.ended.Load(); ev != nil {
		return endedErr(ev)
	}
	s, reason := e.session(set)
	return &EndedError{Reason: reason, At: s.Deadline}
}

// refuse answers a request whose check failed.
func (m *Manager) refuse(w http.ResponseWriter, r *http.Request, backend bool, err error, next http.Handler) {
	var ended *EndedError
	switch {
	case errors.As(err, &ended):
		m.creds.drop(w, r)
		if backend && r.URL.Path != m.opts.SignInPath {
			m.unauthorized(w, r, Denial{Err: ended, Reason: ended.Reason, Message: ended.Reason.Message()})
			return
		}
	case errors.Is(err, errUnknownSession):
		m.creds.drop(w, r)
	case errors.Is(err, ErrNoSession):
	case errors.Is(err, errStoreDown):
		// Known to be failing: logged once when it started.
		if backend {
			m.respondUnavailable(w, r, err)
			return
		}
	default:
		m.log.LogAttrs(r.Context(), slog.LevelError, "logout: session check failed", slog.String("error", err.Error()))
		if backend {
			m.respondUnavailable(w, r, err)
			return
		}
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
		d.Message = reason.Message()
	}
	m.unauthorized(w, r, d)
}

// unauthorized fills in d's status and sign-in URL for r and denies it.
func (m *Manager) unauthorized(w http.ResponseWriter, r *http.Request, d Denial) {
	d.Status, d.Script = http.StatusSeeOther, false
	ret := r.URL.Path
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		ret = r.URL.RequestURI()
	}
	if IsScript(r) || r.URL.Path == m.paths.Status || r.URL.Path == m.paths.KeepAlive {
		d.Status, d.Script = http.StatusUnauthorized, true
		ret = ""
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
			ret = ref.RequestURI()
		}
	}
	d.SignInURL = m.SignInURL(d.Reason, ret)
	m.deny(w, r, d)
}

// unavailableRetry is the Retry-After of a 503 answer, in seconds.
const unavailableRetry = "5"

// respondUnavailable answers a backend request while the store fails:
// 503 with Retry-After, as JSON for scripts.
func (m *Manager) respondUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	m.deny(w, r, Denial{Status: http.StatusServiceUnavailable, Err: err, Script: IsScript(r),
		Message: "The sign-in service is temporarily unavailable. Your session is kept; please try again in a moment."})
}

// forbidden answers a session endpoint's failed CSRF check.
func (m *Manager) forbidden(w http.ResponseWriter, r *http.Request, err error, script bool) {
	m.deny(w, r, Denial{Status: http.StatusForbidden, Err: err, Script: script,
		Message: "The request was refused: it did not come from this site's page or its security token is missing or out of date. Reload the page and try again."})
}

// statusJSON is the body of the status, keep-alive and sign-out
// endpoints and of 401 answers to scripts.
type statusJSON struct {
	SignedIn    bool   `json:"signed_in"`
	Deadline    int64  `json:"deadline,omitempty"`
	ServerTime  int64  `json:"server_time"`
	Lifetime    int64  `json:"lifetime"`
	WarningLead int64  `json:"warning_lead"`
	ShowCounter bool   `json:"show_counter"`
	Reason      string `json:"reason,omitempty"`
	Message     string `json:"message,omitempty"`
	SignInURL   string `json:"sign_in_url,omitempty"`
	Unavailable bool   `json:"unavailable,omitempty"`
}

func (m *Manager) writeJSON(w http.ResponseWriter, code int, v statusJSON) {
	if v.ServerTime == 0 {
		v.ServerTime = m.now().UnixMilli()
	}
	writeJSON(w, code, v)
}

// A Status describes a request's signed-in session for a page's counter.
type Status struct {
	// Session is the session, its Deadline under the current settings.
	Session Session
	// ServerTime is the time the request was checked.
	ServerTime time.Time
	// Lifetime is the session's idle lifetime.
	Lifetime time.Duration
	// WarningLead and ShowCounter are from the settings in force.
	WarningLead time.Duration
	ShowCounter bool
}

// Status returns the status of r's session, or false when r went through
// [Manager.Handler] without a signed-in session.
func (m *Manager) Status(r *http.Request) (Status, bool) {
	rs := stateOf(r)
	if rs == nil {
		return Status{}, false
	}
	return Status{
		Session: rs.sess, ServerTime: rs.now, Lifetime: rs.set.IdleLifetime(rs.sess.Roles),
		WarningLead: rs.set.WarningLead, ShowCounter: rs.set.ShowCounter,
	}, true
}

// CSRFToken returns the CSRF token of r's session, to put in forms as
// [FieldCSRF] or in script requests as [HeaderCSRF]. It is derived from
// the session's secret, so it needs no storage and dies with the session.
// It returns "" for a request without a signed-in session.
func (m *Manager) CSRFToken(r *http.Request) string {
	rs := stateOf(r)
	if rs == nil {
		return ""
	}
	return csrfToken(rs.e.secret)
}

// CheckCSRF returns nil when r is a same-origin request (by
// [http.CrossOriginProtection]) that carries its session's CSRF token in
// [HeaderCSRF] or the form field [FieldCSRF]; otherwise an error wrapping
// [ErrCSRF]. Safe methods (GET, HEAD, OPTIONS) pass the origin check but
// still need the token.
func (m *Manager) CheckCSRF(r *http.Request) error {
	if err := m.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCSRF, err)
	}
	want := m.CSRFToken(r)
	if want == "" {
		return fmt.Errorf("%w: no session", ErrCSRF)
	}
	got := r.Header.Get(HeaderCSRF)
	if got == "" {
		got = r.PostFormValue(FieldCSRF)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrCSRF
	}
	return nil
}

// Paths are the URL paths that a [Manager] serves and sends browsers to,
// from its [Options]; pages and the widget take them from here rather
// than writing them twice.
type Paths struct {
	// Backend is the backend prefix ([Options.BackendPrefix]), such as
	// "/backend".
	Backend string
	// SignIn is the sign-in page ([Options.SignInPath]).
	SignIn string
	// Status, KeepAlive and SignOut are the session endpoints that
	// [Manager.Endpoints] serves below [Options.EndpointsPath].
	Status, KeepAlive, SignOut string
}

// Paths returns the paths the Manager serves and redirects to.
func (m *Manager) Paths() Paths {
	p := m.opts.EndpointsPath
	return Paths{Backend: m.opts.BackendPrefix, SignIn: m.opts.SignInPath,
		Status: p + "/status", KeepAlive: p + "/keepalive", SignOut: p + "/signout"}
}

// Endpoints returns the handler of the session endpoints under
// [Options.EndpointsPath]; mount it behind [Manager.Handler]:
//
//   - GET  …/status: passive; 200 with the deadline, server time,
//     lifetime, warning lead and counter setting, or 401 when signed out.
//   - POST …/keepalive: CSRF-checked; extends the session ("Stay signed
//     in") and answers like status.
//   - POST …/signout: CSRF-checked; signs out ([ReasonManual]); 303 to the
//     sign-in page, or 200 JSON for scripts, with
//     `Clear-Site-Data: "cache", "cookies"` so that the browser drops the
//     backend pages it cached and the site's cookies.
func (m *Manager) Endpoints() http.Handler {
	p := m.Paths()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p.Status, m.serveStatus)
	mux.HandleFunc("POST "+p.KeepAlive, func(w http.ResponseWriter, r *http.Request) {
		if err := m.CheckCSRF(r); err != nil {
			m.forbidden(w, r, err, true)
			return
		}
		m.serveStatus(w, r)
	})
	mux.HandleFunc("POST "+p.SignOut, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.Status(r); !ok {
			m.respondSignedOut(w, r)
			return
		}
		if err := m.CheckCSRF(r); err != nil {
			m.forbidden(w, r, err, IsScript(r))
			return
		}
		if err := m.SignOut(w, r); err != nil {
			m.log.LogAttrs(r.Context(), slog.LevelError, "logout: sign out", slog.String("error", err.Error()))
			m.deny(w, r, Denial{Status: http.StatusServiceUnavailable, Err: err, Script: IsScript(r),
				Message: "The sign-out could not be recorded; please try again."})
			return
		}
		m.respondSignedOut(w, r)
	})
	return mux
}

func (m *Manager) respondSignedOut(w http.ResponseWriter, r *http.Request) {
	// Drop what the browser kept of the backend: cached pages (the back
	// button must not show them) and every cookie of the site.
	w.Header().Set("Clear-Site-Data", `"cache", "cookies"`)
	u := m.SignInURL(ReasonManual, "")
	if IsScript(r) {
		m.writeJSON(w, http.StatusOK, statusJSON{Reason: ReasonManual.String(), Message: ReasonManual.Message(), SignInURL: u})
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (m *Manager) serveStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := m.Status(r)
	if !ok {
		m.Unauthorized(w, r, 0)
		return
	}
	m.writeJSON(w, http.StatusOK, statusJSON{
		SignedIn: true, Deadline: st.Session.Deadline.UnixMilli(), ServerTime: st.ServerTime.UnixMilli(),
		Lifetime: secs(st.Lifetime), WarningLead: secs(st.WarningLead), ShowCounter: st.ShowCounter,
	})
}
