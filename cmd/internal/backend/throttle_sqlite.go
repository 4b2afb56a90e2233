package backend

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// sqliteThrottle is a throttleStore in a table of users.db, which every
// instance on the data directory shares. Each reservation is one
// transaction begun IMMEDIATE, which takes SQLite's write lock before it
// reads, so that concurrent reservations, of this process or another,
// take turns; it decides by [reserveAll] on the rows it reads, and
// writes them only when every counter allows the attempt. Within the
// process the reservations take turns on mu, so that a burst of attempts
// waits in line rather than on SQLite's busy handler, whose timeout a
// burst of a hundred on a loaded machine outlasts (503s).
type sqliteThrottle struct {
	db *sql.DB
	mu sync.Mutex
}

const throttleSQLiteSchema = `
CREATE TABLE IF NOT EXISTS signin_throttle (
	key  TEXT PRIMARY KEY,
	tat  INTEGER NOT NULL, -- Unix ms when every counted attempt is forgiven
	last INTEGER NOT NULL  -- Unix ms of the last counted attempt
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS signin_throttle_tat ON signin_throttle (tat);`

// sweepBatch is how many forgiven rows a reservation deletes, more than
// the rows it may add, so that the table holds little more than the
// counters still in force.
const sweepBatch = 16

// newSQLiteThrottle creates the table in db if needed.
func newSQLiteThrottle(ctx context.Context, db *sql.DB) (*sqliteThrottle, error) {
	if _, err := db.ExecContext(ctx, throttleSQLiteSchema); err != nil {
		return nil, fmt.Errorf("backend: sign-in throttle table: %w", err)
	}
	return &sqliteThrottle{db: db}, nil
}

func (s *sqliteThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) (_ time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return 0, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		// A cancelled ctx must not leave the transaction open on a
		// connection that goes back to the pool: roll back without it,
		// or else discard the connection.
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); rbErr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	ms := now.UnixMilli()
	states := make([]throttleState, len(cs))
	for i, c := range cs {
		err := conn.QueryRowContext(ctx, `SELECT tat, last FROM signin_throttle WHERE key = ?`, c.Key).Scan(&states[i].tat, &states[i].last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("sqlite: read: %w", err)
		}
	}
	next, wait := reserveAll(cs, states, ms)
	for i, st := range next { // nil when refused
		if _, err := conn.ExecContext(ctx, `INSERT INTO signin_throttle (key, tat, last) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET tat = excluded.tat, last = excluded.last`, cs[i].Key, st.tat, st.last); err != nil {
			return 0, fmt.Errorf("sqlite: write: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM signin_throttle WHERE key IN
		(SELECT key FROM signin_throttle WHERE tat <= ? LIMIT ?)`, ms, sweepBatch); err != nil {
		return 0, fmt.Errorf("sqlite: sweep: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return 0, fmt.Errorf("sqlite: commit: %w", err)
	}
	return time.Duration(wait) * time.Millisecond, nil
}

func (s *sqliteThrottle) forgive(ctx context.Context, refund, clear []throttleCounter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range refund {
		if _, err := s.db.ExecContext(ctx, `UPDATE signin_throttle SET tat = tat - ? WHERE key = ?`, c.Rule.Decay.Milliseconds(), c.Key); err != nil {
			return fmt.Errorf("sqlite: refund: %w", err)
		}
	}
	for _, c := range clear {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM signin_throttle WHERE key = ?`, c.Key); err != nil {
			return fmt.Errorf("sqlite: clear: %w", err)
		}
	}
	return nil
}
