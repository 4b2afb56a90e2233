package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
)

// EndSessions implements [logout.Store]. One transaction deletes the
// selected sessions, logs their events and announces their IDs to
// watchers; concurrent calls that select the same session wait for each
// other's row lock, so exactly one of them ends it. It refuses an invalid
// selector or reason before touching anything.
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("pgstore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("pgstore: end sessions: invalid reason %v", reason)
	}
	sql, args := s.endQuery(sel, reason, at)
	var out []logout.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, sql, args...)
		var err error
		out, err = pgx.CollectRows(rows, scanEvent)
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.SessionID
		}
		_, err = tx.Exec(ctx, s.q.notify, s.channel, endedPayloads(ids))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: end sessions: %w", err)
	}
	return out, nil
}

// endQuery returns the statement that ends the sessions sel selects, with
// its arguments.
func (s *Store) endQuery(sel logout.Selector, reason logout.Reason, at time.Time) (string, []any) {
	args := []any{reason.String(), at}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var b strings.Builder
	b.WriteString(s.q.endPrefix)
	switch {
	case len(sel.IDs) > 0:
		b.WriteString("id = ANY(" + arg(sel.IDs) + ")")
	case sel.UserID != "":
		b.WriteString("user_id = " + arg(sel.UserID))
	case sel.Tag != "":
		// The GIN index on tags finds them.
		b.WriteString("tags @> ARRAY[" + arg(sel.Tag) + "::text]")
	default: // sel.All
		b.WriteString("true")
	}
	if sel.Except != "" {
		b.WriteString(" AND id <> " + arg(sel.Except))
	}
	if !sel.SeenBy.IsZero() {
		b.WriteString(" AND last_seen <= " + arg(sel.SeenBy))
	}
	b.WriteString(s.q.endSuffix)
	return b.String(), args
}
