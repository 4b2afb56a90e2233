package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
)

// Event implements [logout.Store]: the event logged last for the session.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	rows, _ := s.pool.Query(ctx, s.q.event, sessionID)
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Event{}, fmt.Errorf("pgstore: event: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Event{}, fmt.Errorf("pgstore: event: %w", err)
	}
	return e, nil
}

// Events implements [logout.EventLog]: newest first, ties newest
// logged (highest id) first. It reads the index on (user_id, at, id)
// when q names a user, else the one on (at, id), backwards from Until, so
// its cost grows with the events returned; a filter by reason also reads
// the events of the range that it skips.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	query, args := s.eventsQuery(q)
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("pgstore: events: %w", err)
	}
	return out, nil
}

// eventsQuery returns the statement and arguments of Events for q.
func (s *Store) eventsQuery(q logout.EventQuery) (string, []any) {
	c := &clauses{}
	c.b.WriteString(s.q.events)
	cond := c.add
	if q.UserID != "" {
		cond(` AND user_id = $%d`, q.UserID)
	}
	if !q.Since.IsZero() {
		cond(` AND at >= $%d`, q.Since)
	}
	if !q.Until.IsZero() {
		cond(` AND at < $%d`, q.Until)
	}
	if q.Reason != 0 {
		cond(` AND reason = $%d`, q.Reason.String())
	}
	cond(` ORDER BY at DESC, id DESC LIMIT $%d`, q.Limit)
	return c.b.String(), c.args
}

func scanEvent(row pgx.CollectableRow) (logout.Event, error) {
	var e logout.Event
	var reason string
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &e.At); err != nil {
		return e, err
	}
	e.At = e.At.UTC()
	var err error
	e.Reason, err = logout.ParseReason(reason)
	return e, err
}

// DeleteEvents implements [logout.Store]. It deletes [Options.PruneBatch]
// events per statement, each in its own transaction, until none is left:
// when ctx ends midway, the events already deleted stay deleted and their
// count comes back with the error.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int
		if err := s.pool.QueryRow(ctx, s.q.deleteEvents, before, s.batch).Scan(&n); err != nil {
			return total, fmt.Errorf("pgstore: delete events: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}
