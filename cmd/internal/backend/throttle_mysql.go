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
// counters and locks every counter of the attempt, in key order (the
// primary key's), so that concurrent reservations take turns on a row
// and never deadlock; a locking read returns their latest states;
// [reserveAll] decides in Go, as on SQLite and PostgreSQL; then one
// UPDATE writes every new state before COMMIT, or a ROLLBACK leaves
// every row as it was when the attempt is refused. Deciding in Go keeps
// the rule in one place, and away from the order in which MySQL and
// MariaDB (under its SIMULTANEOUS_ASSIGNMENT mode) evaluate the
// assignments of an UPDATE. After the commit of a counted attempt, a few
// forgiven rows are deleted.
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

func (s *mysqlThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) (time.Duration, error) {
	ms := now.UnixMilli()
	sorted := slices.SortedFunc(slices.Values(cs), func(a, b throttleCounter) int { return strings.Compare(a.Key, b.Key) })
	keys := make([]any, len(sorted))
	news := make([]any, 0, 3*len(sorted))
	index := make(map[string]int, len(sorted))
	for i, c := range sorted {
		keys[i] = c.Key
		// A new row's state (0, 0) is a new counter's, as [throttleState]'s zero value.
		news = append(news, c.Key, 0, 0)
		index[c.Key] = i
	}
	var wait int64
	err := s.retry(ctx, func(tx *sql.Tx) error {
		// InnoDB inserts or locks the rows in the order of VALUES.
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.table+` (k, tat, last) VALUES `+placeholders(len(sorted), 3)+
			` ON DUPLICATE KEY UPDATE k = k`, news...); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT k, tat, last FROM `+s.table+` WHERE k IN `+placeholders(1, len(keys))+
			` ORDER BY k FOR UPDATE`, keys...)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		states, seen := make([]throttleState, len(sorted)), 0
		for rows.Next() {
			var k string
			var st throttleState
			if err := rows.Scan(&k, &st.tat, &st.last); err != nil {
				rows.Close()
				return fmt.Errorf("read: %w", err)
			}
			states[index[k]] = st
			seen++
		}
		if err := errors.Join(rows.Close(), rows.Err()); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if seen != len(sorted) {
			return fmt.Errorf("read: %d rows for %d counters", seen, len(sorted))
		}
		var next []throttleState
		if next, wait = reserveAll(sorted, states, ms); next == nil {
			return errRefused // roll back the rows the lock inserted
		}
		tats, lasts := make([]any, 0, 2*len(next)), make([]any, 0, 2*len(next))
		for i, st := range next {
			tats, lasts = append(tats, sorted[i].Key, st.tat), append(lasts, sorted[i].Key, st.last)
		}
		when := strings.Repeat(" WHEN ? THEN ?", len(next))
		if _, err := tx.ExecContext(ctx, `UPDATE `+s.table+` SET tat = CASE k`+when+` END, last = CASE k`+when+` END
WHERE k IN `+placeholders(1, len(keys)), slices.Concat(tats, lasts, keys)...); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return time.Duration(wait) * time.Millisecond, nil
	}
	if err != nil {
		return 0, err
	}
	// The attempt is counted: a failed sweep must not answer as if the
	// counts could not be kept, and the next reservation sweeps again.
	_ = s.sweep(ctx, ms)
	return 0, nil
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

// forgive locks the rows of refund and clear in key order first, as a
// reservation does, so that the two never deadlock, then refunds and
// deletes them in one transaction.
func (s *mysqlThrottle) forgive(ctx context.Context, refund, clear []throttleCounter) error {
	if len(refund)+len(clear) == 0 {
		return nil
	}
	var refunds, refunded, cleared []any
	for _, c := range refund {
		refunds = append(refunds, c.Key, c.Rule.Decay.Milliseconds())
		refunded = append(refunded, c.Key)
	}
	for _, c := range clear {
		cleared = append(cleared, c.Key)
	}
	all := slices.Concat(refunded, cleared)
	return s.retry(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT k FROM `+s.table+` WHERE k IN `+placeholders(1, len(all))+
			` ORDER BY k FOR UPDATE`, all...)
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if len(refund) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE `+s.table+` SET tat = tat - CASE k`+strings.Repeat(" WHEN ? THEN ?", len(refund))+
				` END WHERE k IN `+placeholders(1, len(refunded)), slices.Concat(refunds, refunded)...); err != nil {
				return fmt.Errorf("refund: %w", err)
			}
		}
		if len(clear) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE k IN `+placeholders(1, len(cleared)), cleared...); err != nil {
				return fmt.Errorf("clear: %w", err)
			}
		}
		return nil
	})
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
