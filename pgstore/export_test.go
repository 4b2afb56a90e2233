package pgstore

import "github.com/gologout/logout"

// Test hooks, visible only to this package's tests.

// SchemaVersion is the version New migrates to.
var SchemaVersion = len(migrations)

// EndedPayloads exposes endedPayloads.
var EndedPayloads = endedPayloads

// MaxPayload is the longest NOTIFY payload sent.
const MaxPayload = maxPayload

// ExpiredQuery returns the statement behind ExpiredSessions.
func ExpiredQuery(s *Store) string { return s.q.expired }

// SetDeadlinesQuery returns the statement behind SetDeadlines.
func SetDeadlinesQuery(s *Store) string { return s.q.setDeadlines }

// ListQueries returns the statements behind ListSessions and
// CountSessions, by name.
func ListQueries(s *Store) map[string]string {
	return map[string]string{
		"listAll": s.q.listAll, "listAllAfter": s.q.listAllAfter,
		"listUser": s.q.listUser, "listUserAfter": s.q.listUserAfter,
		"countAll": s.q.countAll, "countUser": s.q.countUser,
	}
}

// EventsQuery returns the statement and arguments behind Events.
func EventsQuery(s *Store, q logout.EventQuery) (string, []any) { return s.eventsQuery(q) }

// Migration returns the step that takes a schema from version v to v+1,
// with {s} standing for the quoted schema.
func Migration(v int) string { return migrations[v] }
