package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
)

// CountSessions implements [logout.Store] with count(*) over an index:
// the one on (user_id, created, id) for a user, on (address, created, id)
// for an address (index-only scans once vacuumed); for both, PostgreSQL
// reads the rows of one of them and checks the other.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	query, args := s.countQuery(opts)
	var n int
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count sessions: %w", err)
	}
	return n, nil
}

// ListSessions implements [logout.Store] with keyset pages: the order's
// columns and the row comparison (col, id) > (cursor) (< for a
// descending order) make each page a range of an index read in its order,
// from the cursor on, so its cost grows with the page: (created, id) for
// OldestFirst and, read backwards, NewestFirst; (last_seen, id) backwards
// for ActiveFirst; (deadline, id) for EndingFirst; (user_id, created, id)
// and (address, created, id) for a user's or an address's sessions by
// creation. A user's or an address's sessions in the other orders, and a
// user's at an address, are read and sorted, being few (see listQuery). IDs compare byte by byte, as in Go,
// whatever the database's collation. A limit of 0 or less returns none.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if opts.Limit <= 0 {
		return nil, nil
	}
	query, args := s.listQuery(opts)
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list sessions: %w", err)
	}
	return out, nil
}

// filter adds the conditions on user and address of opts.
func (c *clauses) filter(opts logout.ListOptions) {
	if opts.UserID != "" {
		c.add(` AND user_id = $%d`, opts.UserID)
	}
	if opts.Address != "" {
		c.add(` AND address = $%d`, opts.Address)
	}
}

// countQuery returns the statement and arguments of CountSessions.
func (s *Store) countQuery(opts logout.ListOptions) (string, []any) {
	c := &clauses{}
	c.b.WriteString(s.q.count)
	c.filter(opts)
	return c.b.String(), c.args
}

// orderColumn returns the column that o sorts by, and whether it sorts
// descending. An undefined order sorts as OldestFirst.
func orderColumn(o logout.SessionOrder) (col string, desc bool) {
	switch o {
	case logout.NewestFirst:
		return "created", true
	case logout.ActiveFirst:
		return "last_seen", true
	case logout.EndingFirst:
		return "deadline", false
	}
	return "created", false
}

// listQuery returns the statement and arguments of ListSessions: one of
// a few dozen texts (by order, filters and cursor), so that pgx prepares
// each once.
//
// The sessions of a user or an address in an order by activity or
// deadline, or of a user at an address, are first read whole through the
// user's or the address's index (a MATERIALIZED CTE), then sorted: a
// plan that walked the order's index and filtered its rows, as a generic
// plan may choose, would read every session for a user with few.
func (s *Store) listQuery(opts logout.ListOptions) (string, []any) {
	c := &clauses{}
	col, desc := orderColumn(opts.Order)
	if (opts.UserID != "" || opts.Address != "") && (col != "created" || (opts.UserID != "" && opts.Address != "")) {
		c.b.WriteString("WITH m AS MATERIALIZED (" + s.q.list)
		c.filter(opts)
		c.b.WriteString(") SELECT * FROM m WHERE true")
	} else {
		c.b.WriteString(s.q.list)
		c.filter(opts)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		t, _ := opts.Order.Key(opts.After.Session())
		c.args = append(c.args, t, opts.After.ID)
		fmt.Fprintf(&c.b, ` AND (%s, id) %s ($%d, $%d)`, col, cmp, len(c.args)-1, len(c.args))
	}
	fmt.Fprintf(&c.b, ` ORDER BY %s%s, id%s`, col, dir, dir)
	c.add(` LIMIT $%d`, opts.Limit)
	return c.b.String(), c.args
}

// ExpiredSessions implements [logout.Store]. It reads the index on
// (deadline, id), so its cost grows with limit, not with the table; ties
// on Deadline come in ID order. A limit of 0 or less returns none.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, s.q.expired, t, limit)
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("pgstore: expired sessions: %w", err)
	}
	return out, nil
}
