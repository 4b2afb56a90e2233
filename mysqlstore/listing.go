package mysqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// CountSessions implements [logout.Store] with COUNT(*): over the index
// on (user_id, created, id) for a user, on (address, user_id) for an
// address with or without a user, over the smallest index of the table
// (InnoDB keeps no row count) for all.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	query, args := s.q.countAll, []any(nil)
	switch {
	case opts.Address != "" && opts.UserID != "":
		query, args = s.q.countUserAddress, []any{opts.Address, opts.UserID}
	case opts.Address != "":
		query, args = s.q.countAddress, []any{opts.Address}
	case opts.UserID != "":
		query, args = s.q.countUser, []any{opts.UserID}
	}
	var n int
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: count sessions: %w", err)
	}
	return n, nil
}

// orderIndexes are the column that each order of ListSessions reads, and
// the index on it and id.
var orderIndexes = [...]struct{ col, index string }{
	logout.OldestFirst: {"created", "created_idx"},
	logout.NewestFirst: {"created", "created_idx"},
	logout.ActiveFirst: {"last_seen", "seen_idx"},
	logout.EndingFirst: {"deadline", "deadline_idx"},
}

// listQuery returns the statement and arguments of ListSessions for
// opts. Of all sessions, it walks the index of the order's column and id,
// forwards or backwards, from the cursor on: the OR of two ranges of the
// index, which MySQL and MariaDB read as index ranges (the row comparison
// (col, id) > (?, ?) they would not). A user's sessions are read from
// the index on (user_id, created, id), an address's from the one on
// (address, user_id); being few, they are sorted for the orders that the
// index does not give. The index is forced: for a user with many sessions
// MariaDB would rather look the user up (ref) and filter by the cursor,
// reading every session of the user before it.
func (s *Store) listQuery(opts logout.ListOptions) (string, []any) {
	o := orderIndexes[opts.Order]
	index := o.index
	switch {
	case opts.Address != "":
		index = "address_idx"
	case opts.UserID != "":
		index = "user_created_idx"
	}
	t, desc := opts.Order.Key(opts.After.Session())
	var b strings.Builder
	var args []any
	b.WriteString(s.names.Replace(`SELECT ` + sessionCols + ` FROM {sessions} FORCE INDEX (` + index + `) WHERE TRUE`))
	if opts.UserID != "" {
		b.WriteString(` AND user_id = ?`)
		args = append(args, opts.UserID)
	}
	if opts.Address != "" {
		b.WriteString(` AND address = ?`)
		args = append(args, opts.Address)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		b.WriteString(` AND (` + o.col + ` ` + cmp + ` ? OR (` + o.col + ` = ? AND id ` + cmp + ` ?))`)
		args = append(args, micros(t), micros(t), opts.After.ID)
	}
	b.WriteString(` ORDER BY ` + o.col + dir + `, id` + dir + ` LIMIT ?`)
	return b.String(), append(args, opts.Limit)
}

// ListSessions implements [logout.Store] (see listQuery): its cost grows
// with the page. IDs compare byte by byte, as in Go (the columns are
// binary strings). A limit of 0 or less returns none.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if !opts.Order.Valid() {
		return nil, fmt.Errorf("mysqlstore: list sessions: unknown order %d", opts.Order)
	}
	if opts.Limit <= 0 {
		return nil, nil
	}
	query, args := s.listQuery(opts)
	out, err := s.sessions(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: list sessions: %w", err)
	}
	return out, nil
}

// ExpiredSessions implements [logout.Store]. It reads the index on
// (deadline, id), so its cost grows with limit, not with the table; ties
// on Deadline come in ID order. A limit of 0 or less returns none.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := s.sessions(ctx, s.q.expired, micros(t), limit)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: expired sessions: %w", err)
	}
	return out, nil
}

// sessions runs a query of sessions.
func (s *Store) sessions(ctx context.Context, query string, args ...any) ([]logout.Session, error) {
	return queryAll(ctx, s.db, scanSession, query, args...)
}
