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
	// UserName is the user's name as the application gave it at sign-in
	// ([User.Name]), for the widget; empty when it gave none. It is never
	// a key, and never in a log, an event or a metric.
	UserName string
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
	// UserAgent is the browser's User-Agent header at sign-in, cut to
	// [MaxUserAgent] bytes of valid UTF-8, so that a person can tell their
	// sessions apart. It is never a key, and never in a log or a metric.
	UserAgent string
	// Address is the client's address at sign-in as [Options.ClientAddr]
	// gave it (which may shorten it, or give "" to keep none). Like
	// UserAgent it only describes the session.
	Address string
	// Tags are the labels of this sign-in ([User.Tags]), by which
	// [Selector.Tag] finds the session later.
	Tags []string
}

// MaxUserAgent is the most bytes of the User-Agent header a session keeps.
const MaxUserAgent = 256

// An Event records one sign-out, for the sign-out log.
type Event struct {
	SessionID string
	UserID    string
	Reason    Reason
	At        time.Time
}

// A User is who signs in: an ID, a name to show, and the roles that pick
// the idle lifetime.
type User struct {
	// ID identifies the user: the key of their sessions, events and
	// per-user lifetimes. Required.
	ID string
	// Name is how the user is named to them, such as "admin" for the user
	// whose ID is "1": the name they sign in with. The session keeps it
	// ([Session.UserName]) and the widget shows it wherever it names the
	// user: it fills the user name field of the dialog that locks the
	// page when the session ends. It is never a key and is never logged,
	// nor put in an event or a metric. Empty means none: the widget then
	// shows the ID.
	Name string
	// Roles are the user's roles; they choose the idle lifetime (see
	// [Settings.IdleLifetime]).
	Roles []string
	// Tags label this sign-in, so that an integration can end its session
	// later by label ([Selector.Tag]) without keeping the session's ID:
	// single sign-on tags a session with the identity provider's session
	// and subject, and ends it when the provider says they signed out.
	// At most 4 distinct tags of 1 to 128 bytes each, of printable UTF-8
	// (no control characters). Optional.
	Tags []string
}

// sessionKey is the key of a signed-in request's identity in its
// context: a *handle into its state, which the engine holds its cancel
// func by (inflight.cuts).
type sessionKey struct{}

func (sessionKey) String() string { return "logout session" }

// FromContext returns the signed-in session that [Manager.Handler] put in
// ctx. It reports false for an anonymous request and for a request whose
// session ended.
func FromContext(ctx context.Context) (Session, bool) {
	rs, ok := ctx.Value(stateKey{}).(*reqState)
	if !ok || rs == nil {
		return Session{}, false
	}
	return rs.session(), true
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

// statusOf returns the status of s under set, checked at now.
func statusOf(s Session, set *Settings, now time.Time) Status {
	return Status{Session: s, ServerTime: now, Lifetime: set.IdleLifetime(s.UserID, s.Roles),
		WarningLead: set.WarningLead, ShowCounter: set.ShowCounter}
}
