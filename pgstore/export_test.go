package pgstore

import "time"

// Test hooks, visible only to this package's tests.

// SchemaVersion is the version New migrates to.
var SchemaVersion = len(migrations)

// EndedPayloads exposes endedPayloads.
var EndedPayloads = endedPayloads

// MaxPayload is the longest NOTIFY payload sent.
const MaxPayload = maxPayload

// ExpiredQuery returns the statement behind ExpiredSessions.
func ExpiredQuery(s *Store) string { return s.q.expired }

// SetPingEvery sets how long Watch waits for a notification before it
// pings, and returns a function that restores it.
func SetPingEvery(d time.Duration) (restore func()) {
	old := pingEvery
	pingEvery = d
	return func() { pingEvery = old }
}
