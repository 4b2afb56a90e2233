package logout

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// SignIn starts a new session for u and returns it. In the Manager's own
// cookie mode it issues a new random 256-bit token in the cookie, and ends
// the session the request carried before, if any, so that an identifier
// is never reused across a sign-in. With [Options.App], the application
// must have renewed its own session identifier before calling SignIn.
//
// Behind [Manager.Handler], the request then describes the new session:
// [Manager.CSRFToken] returns its token and [Manager.WriteSignedIn] can
// answer a script's sign-in; so does the answer: when the middleware gave
// it the [HeaderDeadline] of the session that the sign-in ended, it now
// carries the new session's.
func (m *Manager) SignIn(w http.ResponseWriter, r *http.Request, u User) (Session, error) {
	if u.ID == "" {
		return Session{}, errors.New("logout: sign in: empty user ID")
	}
	// Never reuse an identifier across a sign-in: end the sessions the
	// request carried: the one the middleware found (an application has
	// renewed its session ID by now) and the one the request presents.
	var prev []string
	if rs := stateOf(r); rs != nil {
		prev = append(prev, rs.sess.ID)
	}
	if old, ok := m.creds.resolve(m.creds.presented(r)); ok && !slices.Contains(prev, old.id) {
		prev = append(prev, old.id)
	}
	c, key, err := m.creds.issue(r)
	if err != nil {
		return Session{}, fmt.Errorf("logout: sign in: %w", err)
	}
	s, err := m.begin(r.Context(), c.id, u, prev)
	if err != nil {
		return Session{}, err
	}
	m.creds.hand(w, r, key)
	m.remember(r, s, key)
	if h := w.Header(); h[HeaderDeadline] != nil {
		// The answer describes the new session, not the one it ended.
		h.Set(HeaderDeadline, strconv.FormatInt(s.Deadline.UnixMilli(), 10))
		h.Set(HeaderServerTime, strconv.FormatInt(s.Created.UnixMilli(), 10))
	}
	return s, nil
}

// SignOut ends the request's session by the user's own choice
// ([ReasonManual]) and removes its cookie (or ends the application's
// session), and the [HeaderDeadline] that the middleware gave the answer:
// it described the session as alive. A request with no session is not an
// error.
func (m *Manager) SignOut(w http.ResponseWriter, r *http.Request) error {
	c, ok := m.creds.resolve(m.creds.presented(r))
	m.creds.drop(w, r)
	if !ok {
		return nil
	}
	_, err := m.endIDs(r.Context(), c.id, ReasonManual, m.now())
	if err == nil {
		// The answer must not describe the ended session as alive.
		w.Header().Del(HeaderDeadline)
	}
	return err
}
