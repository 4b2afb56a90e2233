package mysqlstore

import (
	"context"
	"time"

	"github.com/gologout/logout"
)

// Test hooks, visible only to this package's tests.

// SchemaVersion is the version New migrates to.
var SchemaVersion = len(migrations)

// Migration returns the statements that take the tables from version v
// to v+1, with their names in place for prefix.
func Migration(v int, prefix string) []string {
	out := make([]string, len(migrations[v]))
	for i, st := range migrations[v] {
		out[i] = namer(prefix).Replace(st)
	}
	return out
}

// SetClock makes Watch wait with after instead of time.After: for the
// poll interval and for each read's timeout.
func SetClock(s *Store, after func(time.Duration) <-chan time.Time) { s.after = after }

// Queries returns the fixed statements by name.
func Queries(s *Store) map[string]string {
	q := s.q
	return map[string]string{
		"session": q.session, "touch": q.touch, "expired": q.expired,
		"countAll": q.countAll, "countUser": q.countUser, "countAddress": q.countAddress, "countUserAddress": q.countUserAddress,
		"tagged": q.tagged, "untag": q.untag, "event": q.event, "deleteEvents": q.deleteEvents,
		"changesAfter": q.changesAfter, "lockDeadlines": q.lockDeadlines,
	}
}

// ListQuery returns the statement and arguments behind ListSessions.
func ListQuery(s *Store, opts logout.ListOptions) (string, []any) { return s.listQuery(opts) }

// EventsQuery returns the statement and arguments behind Events.
func EventsQuery(s *Store, q logout.EventQuery) (string, []any) { return s.eventsQuery(q) }

// KeepChanges is how many rows of the change log are kept.
const KeepChanges = keepChanges

// Transient exposes transient.
var Transient = transient

// Retry exposes retry.
var Retry = retry

// MaxTries is how many times retry tries.
const MaxTries = maxTries

// CommitError wraps err as the error of a COMMIT.
func CommitError(err error) error { return &commitError{err} }

// Poll reads the change log after last, as one poll of Watch does, and
// says how many rows it read.
func Poll(ctx context.Context, s *Store, last int64) (int, error) {
	rows, err := s.changesAfter(ctx, last)
	return len(rows), err
}

// Returning says whether EndSessions uses DELETE … RETURNING (MariaDB),
// and SetReturning chooses, so that tests run the other way too.
func Returning(s *Store) bool { return s.returning }

func SetReturning(s *Store, on bool) { s.returning = on }
