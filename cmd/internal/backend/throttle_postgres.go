package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgThrottleSchema is the schema of the backend's throttle table, apart
// from the session store's "logout".
const pgThrottleSchema = "logout_backend"

// pgThrottle is a throttleStore on PostgreSQL, shared by the instances on
// one database. A reservation is one transaction: an INSERT ... ON
// CONFLICT DO UPDATE ... RETURNING locks every counter's row, inserting
// the missing ones, in key order, so that concurrent reservations take
// turns on a row and never deadlock, and returns their latest states;
// [reserveAll] decides in Go; then an UPDATE writes the new states and a
// few forgiven rows are deleted before COMMIT, or a ROLLBACK leaves
// every row as it was when the attempt is refused.
type pgThrottle struct {
	pool                                    *pgxpool.Pool
	lockSQL, writeSQL, sweepSQL, forgiveSQL string
}

// newPGThrottle creates the schema and its table signin_throttle if
// needed, under an advisory lock so that instances starting together do
// not collide.
func newPGThrottle(ctx context.Context, pool *pgxpool.Pool, schema string) (*pgThrottle, error) {
	table := pgx.Identifier{schema, "signin_throttle"}.Sanitize()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "logout_backend_throttle:"+schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()+`;
CREATE TABLE IF NOT EXISTS `+table+` (
	key   text PRIMARY KEY,
	tat   bigint NOT NULL,  -- Unix ms when every counted attempt is forgiven
	last  bigint NOT NULL,  -- Unix ms of the last counted attempt
	free  integer NOT NULL, -- the counter's rule
	decay bigint NOT NULL   -- ms
);
-- retry was the wait of a refused attempt, computed in SQL before
-- the decision moved to Go.
ALTER TABLE `+table+` DROP COLUMN IF EXISTS retry;
CREATE INDEX IF NOT EXISTS signin_throttle_tat ON `+table+` (tat);`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backend: sign-in throttle table: %w", err)
	}
	return &pgThrottle{
		pool: pool,
		// A new row's state (0, 0) is a new counter's, as [throttleState]'s zero value.
		lockSQL: `INSERT INTO ` + table + ` AS t (key, tat, last, free, decay)
SELECT k, 0, 0, f, d FROM unnest($1::text[], $2::integer[], $3::bigint[]) AS i(k, f, d) ORDER BY k
ON CONFLICT (key) DO UPDATE SET free = excluded.free, decay = excluded.decay
RETURNING key, tat, last`,
		writeSQL: `UPDATE ` + table + ` AS t SET tat = i.tat, last = i.last
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS i(k, tat, last) WHERE t.key = i.k`,
		// After the reservation, in its transaction, and never waiting
		// for a lock: a sweep that ran first could lock a forgiven row
		// that a concurrent reservation holding one of ours wants, and
		// deadlock.
		sweepSQL: `DELETE FROM ` + table + ` WHERE key IN (
			SELECT key FROM ` + table + ` WHERE tat <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		forgiveSQL: pgForgive(table),
	}, nil
}

// pgForgive returns the statement that refunds the keys $1 and deletes
// the keys $2. It locks their rows in key order first, as a reservation
// does, so that the two never deadlock.
func pgForgive(table string) string {
	return strings.ReplaceAll(`
WITH locked AS (SELECT key FROM {table} WHERE key = ANY($1::text[]) OR key = ANY($2::text[]) ORDER BY key FOR UPDATE),
refunded AS (UPDATE {table} AS t SET tat = t.tat - t.decay FROM locked WHERE t.key = locked.key AND t.key = ANY($1::text[]))
DELETE FROM {table} AS t USING locked WHERE t.key = locked.key AND t.key = ANY($2::text[])`, "{table}", table)
}

func (s *pgThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) (time.Duration, error) {
	keys := make([]string, len(cs))
	free := make([]int32, len(cs))
	decay := make([]int64, len(cs))
	index := make(map[string]int, len(cs))
	for i, c := range cs {
		keys[i], free[i], decay[i] = c.Key, int32(c.Rule.Free), c.Rule.Decay.Milliseconds()
		index[c.Key] = i
	}
	ms := now.UnixMilli()
	var wait int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, s.lockSQL, keys, free, decay)
		if err != nil {
			return err
		}
		states, seen := make([]throttleState, len(cs)), 0
		var key string
		var st throttleState
		if _, err := pgx.ForEachRow(rows, []any{&key, &st.tat, &st.last}, func() error {
			states[index[key]] = st
			seen++
			return nil
		}); err != nil {
			return err
		}
		if seen != len(cs) {
			return fmt.Errorf("%d rows for %d counters", seen, len(cs))
		}
		var next []throttleState
		if next, wait = reserveAll(cs, states, ms); next == nil {
			return errRefused // roll back the rows the lock inserted
		}
		tats, lasts := make([]int64, len(next)), make([]int64, len(next))
		for i, st := range next {
			tats[i], lasts[i] = st.tat, st.last
		}
		b := &pgx.Batch{}
		b.Queue(s.writeSQL, keys, tats, lasts)
		b.Queue(s.sweepSQL, ms, sweepBatch)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil && !errors.Is(err, errRefused) {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// errRefused rolls back a reservation that a counter refused.
var errRefused = errors.New("refused")

func (s *pgThrottle) forgive(ctx context.Context, refund, clear []throttleCounter) error {
	keys := func(cs []throttleCounter) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Key
		}
		return out
	}
	if _, err := s.pool.Exec(ctx, s.forgiveSQL, keys(refund), keys(clear)); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
