package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

func scanEvent(row scanner) (logout.Event, error) {
	var (
		e      logout.Event
		reason string
		at     int64
	)
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &at); err != nil {
		return logout.Event{}, err
	}
	r, err := logout.ParseReason(reason)
	if err != nil {
		return logout.Event{}, err
	}
	e.Reason, e.At = r, fromMicros(at)
	return e, nil
}

// Event implements [logout.Store]. The newest event is the last one
// logged.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	e, err := scanEvent(s.r.QueryRowContext(ctx, eventQuery, sessionID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return logout.Event{}, logout.ErrNotFound
	case err != nil:
		return logout.Event{}, fmt.Errorf("sqlitestore: event: %w", err)
	}
	return e, nil
}

// eventsQuery returns the SELECT of Events for q: served by events_user
// (user_id, at) when q names a user, else by events_at (at); both hold
// the rowid id, so ties in at come newest logged first without a sort. A
// filter by reason reads the events of the range that it skips.
func eventsQuery(q logout.EventQuery) (string, []any) {
	var (
		where []string
		args  []any
	)
	if q.UserID != "" {
		where, args = append(where, `user_id = ?`), append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, `at >= ?`), append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, `at < ?`), append(args, micros(q.Until))
	}
	if q.Reason != 0 {
		where, args = append(where, `reason = ?`), append(args, q.Reason.String())
	}
	query := `SELECT session_id, user_id, reason, at FROM events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY at DESC, id DESC LIMIT ?`, append(args, q.Limit)
}

// Events implements [logout.EventLog]: newest first, ties newest logged
// (highest id) first, read from an index in that order (see eventsQuery).
func (s *Store) Events(ctx context.Context, q logout.EventQuery) (_ []logout.Event, err error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: events: %w", err)
		}
	}()
	query, args := eventsQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []logout.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// DeleteEvents implements [logout.Store].
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, deleteEventsQuery, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete events: %w", err)
	}
	return int(n), nil
}
