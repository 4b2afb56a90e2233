package logout

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// A Denial describes a request that Logout refuses: what its built-in
// answer would be and why. [Options.Deny] receives one so that an
// application can answer in its own words; [Denial.Write] writes the
// built-in answer.
type Denial struct {
	// Status is the built-in answer's status code:
	// 303 (a page load without a live session: to SignInURL),
	// 401 (a script without a live session),
	// 403 (a session endpoint's CSRF check failed) or
	// 503 (the store is failing; the session is kept).
	Status int
	// Err says why: [ErrNoSession], an [*EndedError], or an error
	// wrapping [ErrCSRF] or [ErrUnavailable]. Use errors.Is and errors.As.
	Err error
	// Reason is why the session ended, or 0 when there was none or it
	// did not end.
	Reason Reason
	// Script reports whether the answer is for a script ([IsScript], or
	// a session endpoint): JSON rather than a page.
	Script bool
	// SignInURL is the sign-in page with the reason and the return path,
	// for 303 and 401; empty otherwise.
	SignInURL string
	// Message is the built-in English message.
	Message string
	// ServerTime is when the request was refused.
	ServerTime time.Time
}

// Write writes the built-in answer: a 303 redirect to SignInURL, or the
// status code with a JSON body for scripts (the shape of the session
// endpoints': signed_in, server_time, reason, message, sign_in_url,
// unavailable) or a plain-text message for pages. Every answer carries
// "Cache-Control: no-store", and a 503 "Retry-After: 5".
func (d Denial) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if d.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", unavailableRetry)
	}
	if d.Status == http.StatusSeeOther {
		h.Set("Location", d.SignInURL)
		w.WriteHeader(d.Status)
		return
	}
	if !d.Script {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(d.Status)
		_, _ = w.Write([]byte(d.Message + "\n"))
		return
	}
	v := statusJSON{ServerTime: d.ServerTime.UnixMilli(), Message: d.Message, SignInURL: d.SignInURL,
		Unavailable: errors.Is(d.Err, ErrUnavailable)}
	if d.Reason.Valid() {
		v.Reason = d.Reason.String()
	}
	writeJSON(w, d.Status, v)
}

// deny answers a refused request: with [Options.Deny] if set, else with
// the built-in answer. A 503 carries its Retry-After either way.
func (m *Manager) deny(w http.ResponseWriter, r *http.Request, d Denial) {
	if d.ServerTime.IsZero() {
		d.ServerTime = m.eng.now()
	}
	if d.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", unavailableRetry)
	}
	if m.opts.Deny != nil {
		m.opts.Deny(w, r, d)
		return
	}
	d.Write(w)
}

// unavailableRetry is the Retry-After of a 503 answer, in seconds.
const unavailableRetry = "5"

// unavailableDenial is the answer to a request that the store's failure
// stopped: 503 with Retry-After, as JSON for scripts. It is the one
// wording of a store outage: the middleware, [Manager.WriteSignedIn] and,
// through [Manager.Unavailable], the backend and logout-proxy use it.
func unavailableDenial(r *http.Request, err error) Denial {
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return Denial{Status: http.StatusServiceUnavailable, Err: err, Script: IsScript(r),
		Message: "The session service is temporarily unavailable. Your session is kept; please try again in a moment."}
}

// Unavailable answers a request that failed because the session store is
// failing (err, which it wraps in [ErrUnavailable] unless it does
// already) as the middleware answers a backend request then: 503 with
// "Retry-After: 5", a JSON body for scripts ([IsScript]) and a plain-text
// message for pages. With [Options.Deny] set, that function answers
// instead, with the Retry-After header already set. Handlers whose own
// store calls fail use it, so that every 503 of a store outage reads the
// same.
func (m *Manager) Unavailable(w http.ResponseWriter, r *http.Request, err error) {
	m.deny(w, r, unavailableDenial(r, err))
}

// writeJSON writes v with the status code, not to be cached.
func writeJSON(w http.ResponseWriter, code int, v statusJSON) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
