package logout

import (
	"context"
	"encoding/json"
	"net/http"
)

// Sign-in in place: [Manager.SignIn] leaves the new session's credential
// where [Manager.WriteSignedIn] finds it, so that the JSON answer of a
// sign-in carries the new session's CSRF token in both credential modes.
// A signed-in request keeps it in its reqState (which then describes the
// new session); [Manager.Handler] gives a POST without a live session a
// slot for it.

// signInSlot is where SignIn leaves the credential of the session it
// started on a request without a live one.
type signInSlot struct {
	id  string // the new session's ID
	key string // its credential
}

type signInKey struct{}

func (signInKey) String() string { return "logout sign-in" }

func withSignInSlot(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), signInKey{}, new(signInSlot)))
}

// remember leaves the new session s, its handle h and its credential key
// on r.
func remember(r *http.Request, s Session, h handle, key string) {
	if rs := stateOf(r); rs != nil {
		rs.began, rs.key, rs.h, rs.now = &s, key, h, s.Created
		return
	}
	if slot, ok := r.Context().Value(signInKey{}).(*signInSlot); ok {
		slot.id, slot.key = s.ID, key
	}
}

// issuedKey returns the credential of session id that SignIn started on
// r, or "".
func issuedKey(creds credentials, r *http.Request, id string) string {
	if rs := stateOf(r); rs != nil && rs.sessionID() == id {
		return rs.key
	}
	if slot, ok := r.Context().Value(signInKey{}).(*signInSlot); ok && slot.id == id {
		return slot.key
	}
	if c, ok := creds.resolve(creds.presented(r)); ok && c.id == id { // the application's renewed ID
		return creds.presented(r)
	}
	return ""
}

// signedInAnswer is the body of [Manager.WriteSignedIn].
type signedInAnswer struct {
	statusJSON
	User      string `json:"user"`
	CSRFToken string `json:"csrf_token"`
	StartURL  string `json:"start_url"`
}

// WriteSignedIn answers a script's sign-in (the sign-in in place of the
// widget) after [Manager.SignIn] started s on r: 200 with the JSON of
// GET …/status for s, plus "user" (s.UserID), "csrf_token" (the new
// session's CSRF token, which replaces the one the page had) and
// "start_url" (the user's start page: startURL when it is a same-origin
// path, else [Options.BackendPrefix]). The page resumes in place when
// the user is the one it was showing, and goes to start_url otherwise.
//
// It finds the new session's credential where SignIn left it: SignIn
// must have run on the same request, behind [Manager.Handler] (in the
// application-sessions mode, the request's renewed session ID serves as
// well). Otherwise "csrf_token" is empty. When the settings cannot be
// read it answers 503 as a store outage.
func (m *Manager) WriteSignedIn(w http.ResponseWriter, r *http.Request, s Session, startURL string) {
	now := m.eng.now()
	set, err := m.Settings(r.Context())
	if err != nil {
		m.deny(w, r, unavailableDenial(r, err))
		return
	}
	v := signedInAnswer{statusJSON: signedInJSON(statusOf(s, &set, now)), User: s.UserID}
	if c, ok := m.creds.resolve(issuedKey(m.creds, r, s.ID)); ok {
		v.CSRFToken = csrfToken(c.secret)
	}
	v.StartURL = m.opts.BackendPrefix
	if p, ok := SafeReturnPath(startURL); ok {
		v.StartURL = p
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
