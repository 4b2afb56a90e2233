package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// CountSessions implements [logout.Store]. It counts the entries of an
// index (sessions_user for a user, sessions_address for an address)
// without reading the sessions.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	var row *sql.Row
	switch {
	case opts.UserID == "" && opts.Address == "":
		row = s.r.QueryRowContext(ctx, countAllQuery)
	case opts.Address == "":
		row = s.r.QueryRowContext(ctx, countUserQuery, opts.UserID)
	case opts.UserID == "":
		row = s.r.QueryRowContext(ctx, countAddressQuery, opts.Address)
	default:
		row = s.r.QueryRowContext(ctx, countUserAddressQuery, opts.Address, opts.UserID)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count sessions: %w", err)
	}
	return n, nil
}

// orderColumns are the column that each order of ListSessions reads.
var orderColumns = [...]string{
	logout.OldestFirst: "created",
	logout.NewestFirst: "created",
	logout.ActiveFirst: "last_seen",
	logout.EndingFirst: "deadline",
}

// listQuery returns the SELECT of ListSessions for opts, with its
// arguments. Of all sessions, it walks the index of the order's column
// and id (sessions_created, sessions_seen, sessions_deadline), forwards
// or backwards, from the cursor on: (col, id) > (?, ?) is a row value
// that SQLite serves as a range of the index, so the cost grows with the
// page. A user's sessions come from sessions_user, an address's from
// sessions_address: being few, they are sorted when the index is not in
// the order.
func listQuery(opts logout.ListOptions) (string, []any) {
	col := orderColumns[opts.Order]
	t, desc := opts.Order.Key(opts.After.Session())
	var (
		where []string
		args  []any
	)
	if opts.UserID != "" {
		where, args = append(where, `user_id = ?`), append(args, opts.UserID)
	}
	if opts.Address != "" {
		where, args = append(where, `address = ?`), append(args, opts.Address)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		where, args = append(where, `(`+col+`, id) `+cmp+` (?, ?)`), append(args, micros(t), opts.After.ID)
	}
	query := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY ` + col + dir + `, id` + dir + ` LIMIT ?`, append(args, opts.Limit)
}

// ListSessions implements [logout.Store] (see listQuery). IDs compare
// byte by byte, as Go compares strings.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if !opts.Order.Valid() {
		return nil, fmt.Errorf("sqlitestore: list sessions: unknown order %d", opts.Order)
	}
	if opts.Limit <= 0 { // SQLite reads a negative LIMIT as none
		return nil, nil
	}
	query, args := listQuery(opts)
	out, err := querySessions(ctx, s.r, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	return out, nil
}

// ExpiredSessions implements [logout.Store]. It reads the index on the
// deadline, so its cost grows with the sessions it returns.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 { // SQLite reads a negative LIMIT as none
		return nil, nil
	}
	out, err := querySessions(ctx, s.r, expiredQuery, micros(t), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: expired sessions: %w", err)
	}
	return out, nil
}
