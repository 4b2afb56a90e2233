package mysqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// Event implements [logout.Store]: the event logged last for the session.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	return queryOne(ctx, s.db, scanEvent, "event", s.q.event, sessionID)
}

// Events implements [logout.EventLog]: newest first, ties newest logged
// (highest id) first. It reads the index on (user_id, at, id) when q
// names a user, else the one on (at, id), backwards from Until, so its
// cost grows with the events returned; a filter by reason also reads the
// events of the range that it skips.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	query, args := s.eventsQuery(q)
	out, err := queryAll(ctx, s.db, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: events: %w", err)
	}
	return out, nil
}

// eventsQuery returns the statement and arguments of Events for q.
func (s *Store) eventsQuery(q logout.EventQuery) (string, []any) {
	var b strings.Builder
	var args []any
	// The index whose order is the answer's, read backwards.
	index := "at_idx"
	if q.UserID != "" {
		index = "user_at_idx"
	}
	b.WriteString(s.names.Replace(`SELECT session_id, user_id, reason, at FROM {events} FORCE INDEX (` + index + `) WHERE TRUE`))
	if q.UserID != "" {
		b.WriteString(` AND user_id = ?`)
		args = append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND at >= ?`)
		args = append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND at < ?`)
		args = append(args, micros(q.Until))
	}
	if q.Reason != 0 {
		b.WriteString(` AND reason = ?`)
		args = append(args, q.Reason.String())
	}
	b.WriteString(` ORDER BY at DESC, id DESC LIMIT ?`)
	return b.String(), append(args, q.Limit)
}

func scanEvent(row scanner) (logout.Event, error) {
	var e logout.Event
	var reason string
	var at int64
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &at); err != nil {
		return e, err
	}
	e.At = fromMicros(at)
	var err error
	e.Reason, err = logout.ParseReason(reason)
	return e, err
}

// DeleteEvents implements [logout.Store]. It deletes [Options.PruneBatch]
// events per statement, oldest first, each statement its own transaction,
// until none is left: when ctx ends midway, the events already deleted
// stay deleted and their count comes back with the error.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := retry(ctx, func() error {
			res, err := s.db.ExecContext(ctx, s.q.deleteEvents, micros(before), s.batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("mysqlstore: delete events: %w", err)
		}
		total += int(n)
		if n < int64(s.batch) {
			return total, nil
		}
	}
}
