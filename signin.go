package logout

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if err := checkTags(u.Tags); err != nil {
		return Session{}, err
	}
	// Never reuse an identifier across a sign-in: end the sessions the
	// request carried: the one the middleware found (an application has
	// renewed its session ID by now) and the one the request presents.
	var prev []string
	if rs := stateOf(r); rs != nil {
		prev = append(prev, rs.sessionID())
	}
	if old, ok := m.creds.resolve(m.creds.presented(r)); ok && !slices.Contains(prev, old.id) {
		prev = append(prev, old.id)
	}
	c, key, err := m.creds.issue(r)
	if err != nil {
		return Session{}, fmt.Errorf("logout: sign in: %w", err)
	}
	s, h, err := m.eng.begin(r.Context(), c.id, u, prev, userAgent(r), clientAddr(m.opts.ClientAddr(r)))
	if err != nil {
		return Session{}, err
	}
	m.creds.hand(w, r, key)
	remember(r, s, h, key)
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
	_, err := m.eng.endIDs(r.Context(), c.id, ReasonManual, m.eng.now())
	if err == nil {
		// The answer must not describe the ended session as alive.
		w.Header().Del(HeaderDeadline)
	}
	return err
}

// userAgent returns r's User-Agent as a session keeps it.
func userAgent(r *http.Request) string { return keepText(r.UserAgent(), MaxUserAgent) }

// keepText returns s as a session keeps a text it did not choose: valid
// UTF-8 (an invalid byte becomes U+FFFD) of at most n bytes, cut between
// characters.
func keepText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) { // cut inside a character
		s = s[:len(s)-1]
	}
	return s
}

// remoteHost is the default [Options.ClientAddr]: the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// checkTags refuses tags that [User.Tags] does not allow.
func checkTags(tags []string) error {
	if len(tags) > maxTags {
		return fmt.Errorf("logout: sign in: %d tags, at most %d allowed", len(tags), maxTags)
	}
	for i, t := range tags {
		if t == "" || len(t) > maxTagLen {
			return fmt.Errorf("logout: sign in: tag %d has %d bytes, want 1 to %d", i, len(t), maxTagLen)
		}
		if !utf8.ValidString(t) || strings.ContainsFunc(t, unicode.IsControl) {
			return fmt.Errorf("logout: sign in: tag %d is not printable UTF-8", i)
		}
		if slices.Contains(tags[:i], t) {
			return fmt.Errorf("logout: sign in: tag %q given twice", t)
		}
	}
	return nil
}

// The limits of [User.Tags].
const (
	maxTags   = 4
	maxTagLen = 128
)

// clientAddr returns the address that [Options.ClientAddr] gave as a
// session keeps it: at most 64 bytes (an IPv6 address with a zone fits).
func clientAddr(a string) string { return keepText(a, 64) }
