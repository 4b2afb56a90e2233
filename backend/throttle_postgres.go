package backend

import (
	"context"
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
// one database. A reservation is one INSERT ... ON CONFLICT DO UPDATE ...
// RETURNING: PostgreSQL locks each counter's row and computes its update
// from the row's latest version, so each counter decides atomically. The
// same round trip then deletes a few forgiven rows.
type pgThrottle struct {
	pool                             *pgxpool.Pool
	reserveSQL, sweepSQL, forgiveSQL string
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
	retry bigint NOT NULL,  -- 0 if the latest attempt was counted, else its wait in ms
	free  integer NOT NULL, -- the counter's rule
	decay bigint NOT NULL   -- ms
);
CREATE INDEX IF NOT EXISTS signin_throttle_tat ON `+table+` (tat);`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backend: sign-in throttle table: %w", err)
	}
	return &pgThrottle{
		pool:       pool,
		reserveSQL: pgReserve(table),
		// After the reservation, in its transaction, and never waiting
		// for a lock: a sweep that ran first could lock a forgiven row
		// that a concurrent reservation holding one of ours wants, and
		// deadlock.
		sweepSQL: `DELETE FROM ` + table + ` WHERE key IN (
			SELECT key FROM ` + table + ` WHERE tat <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		forgiveSQL: pgForgive(table),
	}, nil
}

// pgReserve returns the reservation statement on table: [throttleRule.attempt]
// in SQL. Every SET expression reads the row as it was. $1 now ms, $2 keys
// (inserted in order, so that concurrent statements lock rows in one
// order), $3 free, $4 decay ms, $5 throttleBase ms, $6 throttleMax ms, $7
// throttleSteps.
func pgReserve(table string) string {
	debt := `greatest(t.tat - $1, 0)`
	n := `((` + debt + ` + excluded.decay - 1) / excluded.decay)`
	wait := `(CASE WHEN ` + n + ` < excluded.free THEN 0
		ELSE least($5::bigint << least(` + n + ` - excluded.free, $7)::integer, $6::bigint) END)`
	ok := `($1 >= t.last + ` + wait + `)`
	return strings.NewReplacer("{table}", table, "{ok}", ok, "{wait}", wait, "{debt}", debt).Replace(`
INSERT INTO {table} AS t (key, tat, last, retry, free, decay)
SELECT k, $1::bigint + d, $1, 0, f, d FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS i(k, f, d) ORDER BY k
ON CONFLICT (key) DO UPDATE SET
	tat   = CASE WHEN {ok} THEN $1 + least({debt} + excluded.decay, (excluded.free + $7) * excluded.decay) ELSE t.tat END,
	last  = CASE WHEN {ok} THEN $1 ELSE t.last END,
	retry = CASE WHEN {ok} THEN 0 ELSE t.last + {wait} - $1 END,
	free  = excluded.free,
	decay = excluded.decay
RETURNING key, retry`)
}

// pgForgive returns the statement that refunds the keys $1 and deletes
// the keys $2.
func pgForgive(table string) string {
	return strings.ReplaceAll(`
WITH refunded AS (UPDATE {table} SET tat = tat - decay WHERE key = ANY($1::text[]))
DELETE FROM {table} WHERE key = ANY($2::text[])`, "{table}", table)
}

func (s *pgThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) ([]time.Duration, error) {
	keys := make([]string, len(cs))
	free := make([]int32, len(cs))
	decay := make([]int64, len(cs))
	for i, c := range cs {
		keys[i], free[i], decay[i] = c.Key, int32(c.Rule.Free), c.Rule.Decay.Milliseconds()
	}
	waits := make(map[string]int64, len(cs))
	b := &pgx.Batch{}
	b.Queue(s.reserveSQL, now.UnixMilli(), keys, free, decay,
		throttleBase.Milliseconds(), throttleMax.Milliseconds(), throttleSteps).Query(func(rows pgx.Rows) error {
		var key string
		var ms int64
		_, err := pgx.ForEachRow(rows, []any{&key, &ms}, func() error { waits[key] = ms; return nil })
		return err
	})
	b.Queue(s.sweepSQL, now.UnixMilli(), sweepBatch)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	out := make([]time.Duration, len(cs))
	for i, c := range cs {
		ms, ok := waits[c.Key]
		if !ok {
			return nil, fmt.Errorf("postgres: no result for a counter")
		}
		out[i] = time.Duration(ms) * time.Millisecond
	}
	return out, nil
}

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
