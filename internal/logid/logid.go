// Package logid names a session in logs, the same in every package of
// Logout: the Manager, logout-proxy and the admin pages.
package logid

import "log/slog"

// Len is how many hex digits of a session's ID name it: enough to tell
// the sessions of a store apart, too few to be the ID.
const Len = 12

// Key is the log attribute's key of a session.
const Key = "sid"

// Short returns the first Len hex digits of a session ID (itself a
// SHA-256 of the secret token), or the whole ID when it is shorter.
func Short(id string) string { return id[:min(len(id), Len)] }

// Attr returns the log attribute of a session: Key with [Short].
func Attr(id string) slog.Attr { return slog.String(Key, Short(id)) }
