package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlThrottleTable is the name of the backend's throttle table after
// the store's prefix, beside the session store's logout_* tables.
const mysqlThrottleTable = "logout_backend_signin_throttle"

// mysqlThrottle is a throttleStore on MySQL or MariaDB, shared by the
// instances on one database. A reservation is one READ COMMITTED
// transaction: an INSERT … ON DUPLICATE KEY UPDATE creates the missing
// counters and locks every counter of the attempt, in key order so that
// concurrent reservations never deadlock; then it reads them, runs
// [throttleRule.attempt] on them in Go, as the SQLite store does, and
// writes the counted ones. Running the rule in Go keeps it in one place,
// and away from the order in which MySQL and MariaDB (under its
// SIMULTANEOUS_ASSIGNMENT mode) evaluate the assignments of an UPDATE.
// After the commit, a few forgiven rows are deleted.
type mysqlThrottle struct {
	db    *sql.DB
	table string // quoted
}

// newMySQLThrottle creates the table prefix+mysqlThrottleTable if it is
// missing (CREATE TABLE IF NOT EXISTS: instances that start together wait
// for each other on the table's metadata lock), so that, as with the
// session store's tables, only the first start needs the CREATE
// privilege.
func newMySQLThrottle(ctx context.Context, db *sql.DB, prefix string) (*mysqlThrottle, error) {
	table := "`" + prefix + mysqlThrottleTable + "`"
	rows, err := db.QueryContext(ctx, `SELECT 1 FROM `+table+` LIMIT 0`)
	if err == nil {
		rows.Close()
		return &mysqlThrottle{db: db, table: table}, nil
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1146 { // ER_NO_SUCH_TABLE
		return nil, fmt.Errorf("backend: sign-in throttle table: %w", err)
	}
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
	k    VARBINARY(255) NOT NULL, -- the counter's key
	tat  BIGINT NOT NULL,         -- Unix ms when every counted attempt is forgiven
	last BIGINT NOT NULL,         -- Unix ms of the last counted attempt
	PRIMARY KEY (k),
	KEY tat_idx (tat)
) ENGINE=InnoDB`)
	if err != nil {
		return nil, fmt.Errorf("backend: sign-in throttle table: %w", err)
	}
	return &mysqlThrottle{db: db, table: table}, nil
}

// placeholders returns n groups of "(?, ?, …)" of width w.
func placeholders(n, w int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", w), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")
}

func (s *mysqlThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) ([]time.Duration, error) {
	ms := now.UnixMilli()
	keys := make([]any, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
	}
	slices.SortFunc(keys, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	out := make([]time.Duration, len(cs))
	err := s.retry(ctx, func(tx *sql.Tx) error {
		// A new counter is the state (0, 0), which the rule reads as new.
		news := make([]any, 0, 3*len(keys))
		for _, k := range keys {
			news = append(news, k, 0, 0)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.table+` (k, tat, last) VALUES `+placeholders(len(keys), 3)+
			` ON DUPLICATE KEY UPDATE k = k`, news...); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT k, tat, last FROM `+s.table+` WHERE k IN `+placeholders(1, len(keys)), keys...)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		state := make(map[string]memEntry, len(keys))
		for rows.Next() {
			var k string
			var e memEntry
			if err := rows.Scan(&k, &e.tat, &e.last); err != nil {
				rows.Close()
				return fmt.Errorf("read: %w", err)
			}
			state[k] = e
		}
		if err := errors.Join(rows.Close(), rows.Err()); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		var tats, lasts, counted []any
		for i, c := range cs {
			e := state[c.Key]
			tat, last, wait := c.Rule.attempt(e.tat, e.last, ms)
			out[i] = time.Duration(wait) * time.Millisecond
			if wait == 0 {
				tats, lasts, counted = append(tats, c.Key, tat), append(lasts, c.Key, last), append(counted, c.Key)
			}
		}
		if len(counted) == 0 {
			return nil
		}
		when := strings.Repeat(" WHEN ? THEN ?", len(counted))
		args := append(append(append([]any{}, tats...), lasts...), counted...)
		_, err = tx.ExecContext(ctx, `UPDATE `+s.table+` SET tat = CASE k`+when+` END, last = CASE k`+when+` END
WHERE k IN `+placeholders(1, len(counted)), args...)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.sweep(ctx, ms); err != nil {
		return nil, err
	}
	return out, nil
}

// sweep deletes up to sweepBatch counters forgiven at ms: it reads their
// keys without a lock, then deletes them by key, in key order, if they
// are still forgiven, so that it never waits for a row while holding
// another that a reservation wants before it.
func (s *mysqlThrottle) sweep(ctx context.Context, ms int64) error {
	rows, err := s.db.QueryContext(ctx, `SELECT k FROM `+s.table+` WHERE tat <= ? ORDER BY k LIMIT ?`, ms, sweepBatch)
	if err != nil {
		return fmt.Errorf("mysql: sweep: %w", err)
	}
	var keys []any
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return fmt.Errorf("mysql: sweep: %w", err)
		}
		keys = append(keys, k)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil || len(keys) == 0 {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE k IN `+placeholders(1, len(keys))+` AND tat <= ?`,
		append(keys, ms)...); err != nil {
		return fmt.Errorf("mysql: sweep: %w", err)
	}
	return nil
}

func (s *mysqlThrottle) forgive(ctx context.Context, refund, clear []throttleCounter) error {
	if len(refund) > 0 {
		var args, keys []any
		for _, c := range refund {
			args = append(args, c.Key, c.Rule.Decay.Milliseconds())
			keys = append(keys, c.Key)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE `+s.table+` SET tat = tat - CASE k`+strings.Repeat(" WHEN ? THEN ?", len(refund))+
			` END WHERE k IN `+placeholders(1, len(keys)), append(args, keys...)...); err != nil {
			return fmt.Errorf("mysql: refund: %w", err)
		}
	}
	if len(clear) > 0 {
		keys := make([]any, len(clear))
		for i, c := range clear {
			keys[i] = c.Key
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE k IN `+placeholders(1, len(keys)), keys...); err != nil {
			return fmt.Errorf("mysql: clear: %w", err)
		}
	}
	return nil
}

// retry runs fn in a READ COMMITTED transaction and commits it, and runs
// it again, up to 3 times in all, when the server chose it as the victim
// of a deadlock (1213) or it waited too long for a lock (1205).
func (s *mysqlThrottle) retry(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for range 3 {
		err = func() error {
			tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
			if err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			if err := fn(tx); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			return nil
		}()
		var me *mysql.MySQLError
		if err == nil || !errors.As(err, &me) || me.Number != 1213 && me.Number != 1205 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	return nil
}
