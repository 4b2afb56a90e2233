package logout

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// ErrCSRF is returned by [Manager.CheckCSRF] for a request that comes from
// another origin or lacks the session's CSRF token.
var ErrCSRF = errors.New("logout: missing or wrong CSRF token")

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
	// User and CSRFToken are the session's, in the answer of …/status:
	// a page that was signed in again elsewhere (the lock dialog's frame)
	// learns whose session it now has and its token.
	User      string `json:"user,omitempty"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (m *Manager) writeJSON(w http.ResponseWriter, code int, v statusJSON) {
	if v.ServerTime == 0 {
		v.ServerTime = m.eng.now().UnixMilli()
	}
	writeJSON(w, code, v)
}

// Status returns the status of r's session, or false when r went through
// [Manager.Handler] without a signed-in session.
func (m *Manager) Status(r *http.Request) (Status, bool) {
	rs := stateOf(r)
	if rs == nil {
		return Status{}, false
	}
	return rs.h.status(rs.session(), rs.now), true
}

// CSRFToken returns the CSRF token of r's session, to put in forms as
// [FieldCSRF] or in script requests as [HeaderCSRF]. It is derived from
// the session's secret, so it needs no storage and dies with the session.
// It returns "" for a request without a signed-in session; after
// [Manager.SignIn] on the request, the new session's token.
func (m *Manager) CSRFToken(r *http.Request) string {
	key := ""
	if rs := stateOf(r); rs != nil {
		key = rs.key
	} else if slot, ok := r.Context().Value(signInKey{}).(*signInSlot); ok {
		key = slot.key // SignIn started a session on r
	}
	c, ok := m.creds.resolve(key) // valid: the middleware found its session, or SignIn issued it
	if !ok {
		return ""
	}
	return csrfToken(c.secret)
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
	// Endpoints is where [Manager.Endpoints] serves
	// ([Options.EndpointsPath]): mount it on Endpoints + "/".
	Endpoints string
	// Status, KeepAlive and SignOut are the session endpoints that
	// [Manager.Endpoints] serves below [Options.EndpointsPath].
	Status, KeepAlive, SignOut string
	// Events is the push endpoint (server-sent events) that
	// [Manager.Endpoints] serves below [Options.EndpointsPath].
	Events string
}

// Paths returns the paths the Manager serves and redirects to.
func (m *Manager) Paths() Paths {
	p := m.opts.EndpointsPath
	return Paths{Backend: m.opts.BackendPrefix, SignIn: m.opts.SignInPath, Endpoints: p,
		Status: p + "/status", KeepAlive: p + "/keepalive", SignOut: p + "/signout", Events: p + "/events"}
}

// Endpoints returns the handler of the session endpoints under
// [Options.EndpointsPath]; mount it behind [Manager.Handler]:
//
//   - GET  …/status: passive; 200 with the deadline, server time,
//     lifetime, warning lead and counter setting, the user ID ("user") and
//     the session's CSRF token ("csrf_token"), or 401 when signed out.
//   - POST …/keepalive: CSRF-checked; extends the session ("Stay signed
//     in") and answers like status.
//   - POST …/signout: CSRF-checked; signs out ([ReasonManual]); 303 to the
//     sign-in page, or 200 JSON for scripts, with the session's cookie
//     expired and `Clear-Site-Data: "cache"` so that the browser drops the
//     backend pages it cached (`"cache", "cookies"` with
//     [Options.ClearSiteCookies], which empties every cookie of the
//     registrable domain).
//   - GET  …/events: passive; the push stream ([server-sent events]):
//     401 like status when signed out; else 200 "text/event-stream" with
//     "retry: 2000", then an event "status" (data: the JSON of status) at
//     once and whenever the session's deadline or the settings change,
//     an event "ended" (data: the JSON of status's 401, with the reason)
//     when the session ends by any path, after which the stream closes,
//     and a comment ": ping" every [Options.PushPing]. It never counts as
//     activity. Changes made by another process arrive at once with a
//     [Watcher] store, otherwise within [Options.SyncInterval] (each
//     stream then rereads its session once per interval) while
//     [Manager.Run] runs. Streams close when Run returns or the
//     [http.Server] shuts down. With [Settings.SignOutOnClose], the close
//     of a session's last stream starts its close grace.
//
// A backend request that is not passive keeps its session from ending by
// idleness while it is served (see [Manager.Busy]).
//
// [server-sent events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
func (m *Manager) Endpoints() http.Handler {
	p := m.Paths()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p.Status, m.serveStatus)
	mux.HandleFunc("GET "+p.Events, m.serveEvents)
	mux.HandleFunc("POST "+p.KeepAlive, func(w http.ResponseWriter, r *http.Request) {
		if err := m.CheckCSRF(r); err != nil {
			m.deny(w, r, forbiddenDenial(err, true))
			return
		}
		m.serveStatus(w, r)
	})
	mux.HandleFunc("POST "+p.SignOut, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.Status(r); !ok {
			m.creds.drop(w, r) // a cookie of an ended session
			m.respondSignedOut(w, r)
			return
		}
		if err := m.CheckCSRF(r); err != nil {
			m.deny(w, r, forbiddenDenial(err, IsScript(r)))
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
	// button must not show them). "cookies" would delete every cookie of
	// the registrable domain, other sites' on its subdomains too, so it
	// is the application's choice.
	if m.opts.ClearSiteCookies {
		w.Header().Set("Clear-Site-Data", `"cache", "cookies"`)
	} else {
		w.Header().Set("Clear-Site-Data", `"cache"`)
	}
	u := m.SignInURL(ReasonManual, "")
	if IsScript(r) {
		m.writeJSON(w, http.StatusOK, statusJSON{Reason: ReasonManual.String(), Message: m.message(r, ReasonManual), SignInURL: u})
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
	v := signedInJSON(st)
	v.User, v.CSRFToken = st.Session.UserID, m.CSRFToken(r)
	m.writeJSON(w, http.StatusOK, v)
}
