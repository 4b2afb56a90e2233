package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CreateSession implements [logout.Store].
func (s *Store) CreateSession(ctx context.Context, x logout.Session) error {
	_, err := s.pool.Exec(ctx, s.q.createSession, x.ID, x.UserID, x.UserName, notNil(x.Roles), x.Created, x.LastSeen, x.Deadline,
		x.UserAgent, x.Address, notNil(x.Tags))
	if isUniqueViolation(err) {
		return fmt.Errorf("pgstore: create session: %w", logout.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create session: %w", err)
	}
	return nil
}

// notNil returns a, or an empty slice for nil: a NOT NULL array column
// would receive nil as NULL.
func notNil(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

// Session implements [logout.Store].
func (s *Store) Session(ctx context.Context, id string) (logout.Session, error) {
	rows, _ := s.pool.Query(ctx, s.q.session, id)
	x, err := pgx.CollectExactlyOneRow(rows, scanSession)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Session{}, fmt.Errorf("pgstore: session: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Session{}, fmt.Errorf("pgstore: session: %w", err)
	}
	return x, nil
}

// TouchSession implements [logout.Store] in one statement: it updates the
// row only if seen is not before the stored LastSeen, and reports
// [logout.ErrNotFound] only when the row is gone.
func (s *Store) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, s.q.touch, id, seen, deadline).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: touch session: %w", err)
	}
	if !exists {
		return fmt.Errorf("pgstore: touch session: %w", logout.ErrNotFound)
	}
	return nil
}

// SetDeadlines implements [logout.SessionStore] in one statement, an
// UPDATE joined to the updates sent as three arrays, so a batch costs
// one round trip and one commit, and is all or nothing. A session whose
// row another transaction is updating is checked against that row's
// newest version once it commits (READ COMMITTED), so newer activity is
// never overwritten.
func (s *Store) SetDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (int, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	ids := make([]string, len(updates))
	seen := make([]time.Time, len(updates))
	deadlines := make([]time.Time, len(updates))
	for i, u := range updates {
		ids[i], seen[i], deadlines[i] = u.ID, u.Seen, u.Deadline
	}
	tag, err := s.pool.Exec(ctx, s.q.setDeadlines, ids, seen, deadlines)
	if err != nil {
		return 0, fmt.Errorf("pgstore: set deadlines: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func scanSession(row pgx.CollectableRow) (logout.Session, error) {
	var x logout.Session
	err := row.Scan(&x.ID, &x.UserID, &x.UserName, &x.Roles, &x.Created, &x.LastSeen, &x.Deadline,
		&x.UserAgent, &x.Address, &x.Tags)
	if len(x.Roles) == 0 {
		x.Roles = nil
	}
	if len(x.Tags) == 0 {
		x.Tags = nil
	}
	x.Created, x.LastSeen, x.Deadline = x.Created.UTC(), x.LastSeen.UTC(), x.Deadline.UTC()
	return x, err
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
