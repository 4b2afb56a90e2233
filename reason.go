package logout

import "fmt"

// Reason says why a session ended.
type Reason uint8

// The reasons a session ends. The zero Reason is not valid. Stores keep
// a Reason as its number, so new reasons are only ever added at the end.
const (
	// ReasonIdle: no activity for the idle lifetime.
	ReasonIdle Reason = iota + 1
	// ReasonAbsolute: the session reached its absolute lifetime.
	ReasonAbsolute
	// ReasonForced: an administrator signed the session out.
	ReasonForced
	// ReasonManual: the user signed out.
	ReasonManual
	// ReasonReplaced: the same browser signed in again, and the new
	// session replaced this one.
	ReasonReplaced
	// ReasonLimit: the user signed in on more devices than the session
	// limit allows, and this, their oldest session, made room.
	ReasonLimit
	// ReasonClosed: every tab of the backend stayed closed for the grace
	// period, with sign-out on close turned on.
	ReasonClosed
	// ReasonProvider: the user's session at their identity provider
	// ended (OpenID Connect back-channel or front-channel logout; see
	// package github.com/gologout/logout/oidc), and with it this one.
	ReasonProvider
)

var reasonNames = [...]string{"", "idle", "absolute", "forced", "manual", "replaced", "limit", "closed", "provider"}

// String returns the reason's name: "idle", "absolute", "forced",
// "manual", "replaced", "limit", "closed" or "provider".
func (r Reason) String() string {
	if r.Valid() {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Valid reports whether r is one of the defined reasons.
func (r Reason) Valid() bool { return r >= ReasonIdle && r <= ReasonProvider }

// Message returns the English sign-out notice for r, as shown on the
// sign-in page after an automatic or forced sign-out.
func (r Reason) Message() string {
	switch r {
	case ReasonAbsolute:
		return "You have been logged out: your session reached its maximum length."
	case ReasonForced:
		return "You have been logged out by an administrator."
	case ReasonManual:
		return "You have signed out."
	case ReasonReplaced:
		return "You have signed in again; this session was replaced."
	case ReasonLimit:
		return "You have been logged out: you signed in on more devices than allowed, and this was the oldest session."
	case ReasonClosed:
		return "You have been logged out because every window of the backend was closed."
	case ReasonProvider:
		return "You have been logged out: you signed out at your identity provider."
	default:
		return "You have been logged out!"
	}
}

// ParseReason returns the Reason named s, as written by [Reason.String].
func ParseReason(s string) (Reason, error) {
	for i := ReasonIdle; i <= ReasonProvider; i++ {
		if reasonNames[i] == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("logout: unknown reason %q", s)
}
