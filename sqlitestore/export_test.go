package sqlitestore

import "github.com/gologout/logout"

// The queries whose plans store_test.go checks with EXPLAIN QUERY PLAN.
const (
	SessionQuery          = sessionQuery
	TouchQuery            = touchQuery
	SetDeadlineQuery      = setDeadlineQuery
	CountAllQuery         = countAllQuery
	CountUserQuery        = countUserQuery
	CountAddressQuery     = countAddressQuery
	CountUserAddressQuery = countUserAddressQuery
	ChangesAfterQuery     = changesAfterQuery
	LastChangeQuery       = lastChangeQuery
	PruneChangesQuery     = pruneChangesQuery
	KeepChanges           = keepChanges
	UntagQuery            = untagQuery
	ExpiredQuery          = expiredQuery
	EventQuery            = eventQuery
	DeleteEventsQuery     = deleteEventsQuery
	MaxIDs                = maxIDs
)

// ListQuery returns the SELECT of ListSessions for opts, with its
// arguments.
func ListQuery(opts logout.ListOptions) (string, []any) { return listQuery(opts) }

// EventsQuery returns the SELECT of Events for q, with its arguments.
func EventsQuery(q logout.EventQuery) (string, []any) { return eventsQuery(q) }

// Migration returns the step that takes a file from version v to v+1.
func Migration(v int) string { return migrations[v] }

// EndQueries returns the first statements of EndSessions for sel: the one
// that logs, with its arguments, and the one that deletes, with its.
func EndQueries(sel logout.Selector) (logSQL string, logArgs []any, deleteSQL string, deleteArgs []any) {
	b := endBatches(sel)[0]
	return b.logSQL, append([]any{"forced", int64(0)}, b.args...), b.deleteSQL, b.args
}
