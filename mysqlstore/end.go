package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// idChunk is how many sessions one statement of EndSessions names.
const idChunk = 500

// EndSessions implements [logout.Store]. One transaction deletes the
// selected sessions, locking them by the primary key (DELETE … RETURNING
// on MariaDB, SELECT … FOR UPDATE then DELETE on MySQL), logs their events
// and enters their IDs in the change log that watchers read; concurrent
// calls that select the same session wait for each other's row lock, and
// the later one finds it gone, so exactly one of them ends it. It refuses
// an invalid selector or reason before touching anything.
//
// Every call locks rows in one order, ascending IDs, whatever the
// selector: a user's sessions, or everyone's, are first read without a
// lock to learn their IDs. That keeps concurrent ends, deadline updates
// and touches from deadlocking each other; a deadlock the server reports
// all the same is tried again (see retry).
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("mysqlstore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("mysqlstore: end sessions: invalid reason %v", reason)
	}
	ids, err := s.selected(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: end sessions: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var out []logout.Event
	var logged span
	err = s.inTx(ctx, len(ids) > 1, func(tx *sql.Tx) error {
		out = out[:0]
		for chunk := range slices.Chunk(ids, idChunk) {
			evs, err := s.endChunk(ctx, tx, chunk, sel, reason, at)
			if err != nil {
				return err
			}
			out = append(out, evs...)
		}
		if len(out) == 0 {
			return nil
		}
		var err error
		logged, err = s.logChanges(ctx, tx, endedChanges(out))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: end sessions: %w", err)
	}
	s.pruneChanges(ctx, logged)
	return out, nil
}

// selected returns the IDs that sel may select, sorted byte by byte: its
// IDs, or the IDs of the sessions of its tag (from the primary key of
// session_tags), of its user or of everyone, read without a lock. The
// transaction then locks and checks them. (A session's tags never
// change, so the sessions of a tag read here are those of the tag when
// they are locked, or gone.)
func (s *Store) selected(ctx context.Context, sel logout.Selector) ([]string, error) {
	if len(sel.IDs) > 0 {
		ids := slices.DeleteFunc(slices.Clone(sel.IDs), func(id string) bool { return len(id) > maxID })
		slices.Sort(ids)
		return slices.Compact(ids), nil
	}
	query, args := s.q.tagged, []any{sel.Tag}
	if sel.Tag == "" {
		var where string
		where, args = filter(sel)
		query = s.names.Replace(`SELECT id FROM {sessions} WHERE TRUE` + where)
	}
	ids, err := queryAll(ctx, s.db, func(row scanner) (id string, err error) {
		err = row.Scan(&id)
		return id, err
	}, query, args...)
	slices.Sort(ids)
	return ids, err
}

// filter returns the conditions of sel beyond its IDs, each starting
// with AND, and their arguments.
func filter(sel logout.Selector) (string, []any) {
	var b strings.Builder
	var args []any
	if sel.UserID != "" {
		b.WriteString(" AND user_id = ?")
		args = append(args, sel.UserID)
	}
	if sel.Except != "" {
		b.WriteString(" AND id <> ?")
		args = append(args, sel.Except)
	}
	if !sel.SeenBy.IsZero() {
		b.WriteString(" AND last_seen <= ?")
		args = append(args, micros(sel.SeenBy))
	}
	return b.String(), args
}

// endChunk deletes the sessions of ids that sel selects, and the tags of
// those that have any, and logs their events, in tx.
//
// On MariaDB it is one DELETE … RETURNING, a single pass over the rows
// in ascending IDs. MySQL has no RETURNING: a SELECT … FOR UPDATE locks
// and reads the sessions, then a DELETE removes them. That second pass
// may scan the table where it is small (the optimizer then prefers a scan
// to the primary key's ranges, even when told to use the key), and wait
// for a row that another transaction holds while it holds rows after it:
// a deadlock, rare and tried again.
func (s *Store) endChunk(ctx context.Context, tx *sql.Tx, ids []string, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	where, extra := filter(sel)
	args := make([]any, 0, len(ids)+len(extra))
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, extra...)
	var query string
	if s.returning {
		query = `DELETE FROM {sessions} WHERE id IN (` + in(len(ids)) + `)` + where + ` RETURNING id, user_id, tags`
	} else {
		// The primary key is forced: on a small table the optimizer
		// would rather scan the index on (user_id, created, id), which
		// holds both columns, and lock the rows in the order of users.
		query = `SELECT id, user_id, tags FROM {sessions} FORCE INDEX (PRIMARY) WHERE id IN (` + in(len(ids)) + `)` + where + ` FOR UPDATE`
	}
	evs, tagged, err := queryEnded(ctx, tx, s.names.Replace(query), reason, at, args)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	found := make([]any, len(evs))
	values := make([]any, 0, 4*len(evs))
	for i, e := range evs {
		found[i] = e.SessionID
		values = append(values, e.SessionID, e.UserID, reason.String(), micros(at))
	}
	if !s.returning {
		// The multi-table form, the one whose index hints MySQL reads.
		if _, err := tx.ExecContext(ctx, s.names.Replace(`DELETE s FROM {sessions} AS s FORCE INDEX (PRIMARY) WHERE s.id IN (`+
			in(len(found))+`)`), found...); err != nil {
			return nil, err
		}
	}
	if len(tagged) > 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(s.q.untag, in(len(tagged))), tagged...); err != nil {
			return nil, err
		}
	}
	_, err = tx.ExecContext(ctx, s.names.Replace(`INSERT INTO {events} (session_id, user_id, reason, at) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(evs)), ", ")), values...)
	return evs, err
}

// queryEnded runs query, which returns the ID, user ID and tags of
// sessions, in tx and returns their events and the IDs of those with
// tags.
func queryEnded(ctx context.Context, tx *sql.Tx, query string, reason logout.Reason, at time.Time, args []any) (evs []logout.Event, tagged []any, err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		e := logout.Event{Reason: reason, At: at}
		var tags []byte
		if err := rows.Scan(&e.SessionID, &e.UserID, &tags); err != nil {
			rows.Close()
			return nil, nil, err
		}
		evs = append(evs, e)
		if len(tags) > 0 && string(tags) != "[]" {
			tagged = append(tagged, e.SessionID)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	return evs, tagged, rows.Err()
}
