package pgstore

// Test hooks, visible only to this package's tests.

// SchemaVersion is the version New migrates to.
var SchemaVersion = len(migrations)

// EndedPayloads exposes endedPayloads.
var EndedPayloads = endedPayloads

// MaxPayload is the longest NOTIFY payload sent.
const MaxPayload = maxPayload

// ExpiredQuery returns the statement behind ExpiredSessions.
func ExpiredQuery(s *Store) string { return s.q.expired }
