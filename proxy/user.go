package proxy

import "strings"

// PanelUserPrefix begins the user ID of every session the proxy starts:
// the panel's users are a namespace of their own, apart from the users
// of the proxy's admin pages, which share the store. A panel user who
// signs in as "1" is "panel:1", never the admin pages' user 1, and a
// forced sign-out of one never ends the other's sessions.
const PanelUserPrefix = "panel:"

// PanelUser returns the user ID of the panel's user of the name typed at
// the panel's sign-in: PanelUserPrefix and the name, or "panel:unknown"
// when the name is empty (the form had no user field).
func PanelUser(name string) string {
	if name == "" {
		name = "unknown"
	}
	return PanelUserPrefix + name
}

// PanelUserName returns the name of a panel user's ID and true, or "" and
// false for an ID that is not a panel user's.
func PanelUserName(userID string) (string, bool) {
	return strings.CutPrefix(userID, PanelUserPrefix)
}
