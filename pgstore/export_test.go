package pgstore

import (
	"time"

	"github.com/gologout/logout"
)

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

// ListQuery returns the statement and arguments behind ListSessions.
func ListQuery(s *Store, opts logout.ListOptions) (string, []any) { return s.listQuery(opts) }

// CountQuery returns the statement and arguments behind CountSessions.
func CountQuery(s *Store, opts logout.ListOptions) (string, []any) { return s.countQuery(opts) }

// EndQuery returns the statement and arguments behind EndSessions.
func EndQuery(s *Store, sel logout.Selector) (string, []any) {
	return s.endQuery(sel, logout.ReasonForced, time.Time{})
}

// EventsQuery returns the statement and arguments behind Events.
func EventsQuery(s *Store, q logout.EventQuery) (string, []any) { return s.eventsQuery(q) }

// Migration returns the step that takes a schema from version v to v+1,
// with {s} standing for the quoted schema.
func Migration(v int) string { return migrations[v] }
