package logout

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
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
		Session: rs.sess, ServerTime: rs.now, Lifetime: rs.set.IdleLifetime(rs.sess.UserID, rs.sess.Roles),
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
	c, _ := m.creds.resolve(rs.key) // valid: the middleware found its session
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
