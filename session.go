package logout

import (
	"context"
	"time"
)

// A Session is one sign-in of one user on one device. Sessions are kept
// per sign-in, never per user, so two devices never share a clock.
type Session struct {
	// ID is the store key: the hex SHA-256 of the session token that the
	// browser holds. The token itself is never stored or logged.
	ID string
	// UserID identifies the signed-in user.
	UserID string
	// Roles are the user's roles at sign-in; they choose the idle
	// lifetime (see [Settings.IdleLifetime]).
	Roles []string
	// Created is the sign-in time.
	Created time.Time
	// LastSeen is the time of the last activity written to the store.
	LastSeen time.Time
	// Deadline is when the session ends under the settings in force when
	// it was last written. Stores index it for [SessionStore.ExpiredSessions];
	// the [Manager] recomputes it from the current settings.
	Deadline time.Time
}

// An Event records one sign-out, for the sign-out log.
type Event struct {
	SessionID string
	UserID    string
	Reason    Reason
	At        time.Time
}

// A User is who signs in: an ID and the roles that pick the idle lifetime.
type User struct {
	ID    string
	Roles []string
}

type sessionKey struct{}

func (sessionKey) String() string { return "logout session" }

// FromContext returns the signed-in session that [Manager.Handler] put in
// ctx. It reports false for an anonymous request and for a request whose
// session ended.
func FromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	if !ok || s == nil {
		return Session{}, false
	}
	return *s, true
}
