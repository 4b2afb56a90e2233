package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/redisstore/redistest"
	"github.com/gologout/logout/sqlitestore"
)

var settingsSessions = flag.Int("settings.sessions", 100_000, "sessions in the store for BenchmarkSettingsChange and BenchmarkSweepExpired")

// BenchmarkSettingsChange: an administrator changes the idle lifetime, and
// a sweeper rewrites the stored deadline of every session (all of them
// differ), on each store holding -settings.sessions sessions (100 000).
//
//   - touch-each: the sweeper's refresh before SessionStore.SetDeadlines,
//     kept here as the baseline (touchEach): a page of 500 sessions read
//     at a time, then one TouchSession per session.
//   - set-deadlines: Manager.Sweep as it is, which reads the same pages
//     and writes each with one SetDeadlines. It also runs the rest of a
//     sweep (one ExpiredSessions that finds nothing, one DeleteEvents).
//
// Between two refreshes, untimed, the settings change and PostgreSQL's
// table is vacuumed (see opened.settle).
//
// Each operation is one whole refresh. Besides ns/op it reports the
// store's method calls per operation (calls/op) and, for Redis and
// PostgreSQL, the commands or statements sent to the server (trips/op,
// counted by a go-redis hook and a pgx tracer). It ends with a table.
func BenchmarkSettingsChange(b *testing.B) {
	n := *settingsSessions
	var results []settingsResult
	for _, k := range settingsKinds {
		b.Run(k.name, func(b *testing.B) {
			o := k.open(b)
			store, trips := o.store, o.trips
			load(b, k.name, o, n)
			counted := &tally{Store: store}
			now := sessionsEpoch.Add(10 * time.Minute)
			m, err := logout.New(counted, logout.Options{
				Clock:  fakeclock.At(now),
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			set, err := m.UpdateSettings(b.Context(), lifetime(logout.Settings{}, time.Hour), "bench")
			if err != nil {
				b.Fatal(err)
			}
			// change saves the other lifetime (1 h or 2 h), untimed, so
			// that every stored deadline differs from the new one.
			change := func(b *testing.B) logout.Settings {
				b.Helper()
				next := time.Hour
				if set.Lifetime == time.Hour {
					next = 2 * time.Hour
				}
				if set, err = m.UpdateSettings(b.Context(), lifetime(set, next), "bench"); err != nil {
					b.Fatal(err)
				}
				return set
			}
			for _, v := range []struct {
				name    string
				refresh func(ctx context.Context, set logout.Settings) error
			}{
				{"touch-each", func(ctx context.Context, set logout.Settings) error { return touchEach(ctx, counted, set) }},
				{"set-deadlines", func(ctx context.Context, _ logout.Settings) error { return m.Sweep(ctx) }},
			} {
				b.Run(v.name, func(b *testing.B) {
					var elapsed time.Duration
					var calls, sent int64
					for range b.N {
						b.StopTimer()
						set := change(b)
						if o.settle != nil {
							o.settle(b)
						}
						c0, t0 := counted.calls.Load(), loadTrips(trips)
						start := time.Now()
						b.StartTimer()
						if err := v.refresh(b.Context(), set); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						elapsed += time.Since(start)
						calls += counted.calls.Load() - c0
						sent += loadTrips(trips) - t0
						checkDeadlines(b, store, set)
						b.StartTimer()
					}
					b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
					if trips != nil {
						b.ReportMetric(float64(sent)/float64(b.N), "trips/op")
					}
					r := settingsResult{kind: k.name, variant: v.name, sessions: n,
						perOp: elapsed / time.Duration(b.N), calls: calls / int64(b.N), trips: -1}
					if trips != nil {
						r.trips = sent / int64(b.N)
					}
					results = keep(results, r)
				})
			}
		})
	}
	printSettingsTable(results)
}

// touchEach is the sweeper's refresh of deadlines before SetDeadlines,
// copied as it was: pages of 500 sessions, one TouchSession for each
// session whose deadline differs under set.
func touchEach(ctx context.Context, store logout.Store, set logout.Settings) error {
	opts := logout.ListOptions{Limit: 500}
	for {
		list, err := store.ListSessions(ctx, opts)
		if err != nil {
			return err
		}
		for _, s := range list {
			if d, _ := set.Deadline(s); !d.Equal(s.Deadline) {
				if err := store.TouchSession(ctx, s.ID, s.LastSeen, d); err != nil && !errors.Is(err, logout.ErrNotFound) {
					return err
				}
			}
		}
		if len(list) < 500 {
			return nil
		}
		opts.After = logout.CursorOf(list[len(list)-1])
	}
}

func lifetime(s logout.Settings, d time.Duration) logout.Settings {
	v := s.Version
	s = logout.DefaultSettings()
	s.Version, s.Lifetime = v, d
	return s
}

// sessionsEpoch is when the benchmark's sessions signed in, within ten
// minutes; the Manager's clock stands ten minutes later.
var sessionsEpoch = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// sessionAt returns the i-th session: an ID as real ones are (hex
// SHA-256), one of 1000 users, created and last seen within ten minutes.
func sessionAt(i int) logout.Session {
	h := sha256.Sum256([]byte(strconv.Itoa(i)))
	t := sessionsEpoch.Add(time.Duration(i%600_000_000) * time.Microsecond * 997 % (10 * time.Minute))
	return logout.Session{ID: hex.EncodeToString(h[:]), UserID: "u" + strconv.Itoa(i%1000),
		Created: t, LastSeen: t, Deadline: t.Add(logout.DefaultLifetime)}
}

// checkDeadlines checks, untimed, a few sessions' stored deadlines
// against set.
func checkDeadlines(b *testing.B, store logout.Store, set logout.Settings) {
	b.Helper()
	for _, i := range []int{0, *settingsSessions / 2, *settingsSessions - 1} {
		s, err := store.Session(b.Context(), sessionAt(i).ID)
		if err != nil {
			b.Fatal(err)
		}
		if want, _ := set.Deadline(s); !s.Deadline.Equal(want) {
			b.Fatalf("session %d: stored deadline %v, want %v", i, s.Deadline, want)
		}
	}
}

// A settingsKind opens a store for BenchmarkSettingsChange.
type settingsKind struct {
	name string
	open func(b *testing.B) opened
}

// opened is a store for BenchmarkSettingsChange.
type opened struct {
	store logout.Store
	// trips counts the commands or statements that the store's client
	// sends; nil in process.
	trips *atomic.Int64
	// bulk, if not nil, writes sessions under the store in one go.
	bulk func(b *testing.B, sessions []logout.Session)
	// settle, if not nil, runs untimed before each refresh: on
	// PostgreSQL a VACUUM of the sessions, as autovacuum would run
	// between two settings changes, so that neither refresh pays for
	// the dead rows of the one before.
	settle func(b *testing.B)
}

var settingsKinds = []settingsKind{
	{"memory", func(*testing.B) opened { return opened{store: logout.NewMemoryStore()} }},
	{"sqlite", func(b *testing.B) opened {
		path := filepath.Join(b.TempDir(), "sessions.db")
		s, err := sqlitestore.New(context.Background(), path, sqlitestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return opened{store: s, bulk: func(b *testing.B, sessions []logout.Session) { sqliteBulk(b, path, sessions) }}
	}},
	{"redis", func(b *testing.B) opened {
		opt := redistest.RedisOptions(b)
		opt.ContextTimeoutEnabled = true
		c := redistest.RedisClient(b, opt)
		trips := new(atomic.Int64)
		c.AddHook(redisTrips{trips})
		s, err := redisstore.New(c, redisstore.Options{Prefix: redistest.RedisPrefix(b, c)})
		if err != nil {
			b.Fatal(err)
		}
		return opened{store: s, trips: trips}
	}},
	{"postgres", func(b *testing.B) opened {
		admin := pgtest.Postgres(b)
		schema := pgtest.PostgresSchema(b, admin)
		trips := new(atomic.Int64)
		cfg := admin.Config()
		cfg.ConnConfig.Tracer = pgTrips{trips}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close) // before the schema is dropped
		s, err := pgstore.New(context.Background(), pool, pgstore.Options{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		return opened{store: s, trips: trips,
			bulk: func(b *testing.B, sessions []logout.Session) { postgresBulk(b, admin, schema, sessions) },
			settle: func(b *testing.B) {
				if _, err := admin.Exec(context.Background(), "VACUUM ANALYZE "+pgx.Identifier{schema, "sessions"}.Sanitize()); err != nil {
					b.Fatal(err)
				}
			},
		}
	}},
	{"mysql", mysqlKind},
}

// mysqlKind opens a MySQL store as backend.OpenStore does (interpolated
// parameters), under a table prefix of its own, counting the packets its
// connections send: with interpolated parameters, one per statement.
func mysqlKind(b *testing.B) opened {
	cfg := mysqlConfig(b)
	trips := new(atomic.Int64)
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, trips}, err
	}
	db := mysqltest.Open(b, cfg)
	prefix := mysqltest.Prefix(b, db)
	s, err := mysqlstore.New(context.Background(), db, mysqlstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	return opened{store: s, trips: trips, bulk: func(b *testing.B, sessions []logout.Session) { mysqlBulk(b, db, prefix, sessions) }}
}

// countingConn counts the writes on a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// mysqlBulk inserts sessions 1000 to a statement, then runs ANALYZE
// TABLE.
func mysqlBulk(b *testing.B, db *sql.DB, prefix string, sessions []logout.Session) {
	table := "`" + prefix + "logout_sessions`"
	for chunk := range slices.Chunk(sessions, 1000) {
		var args []any
		for _, s := range chunk {
			args = append(args, s.ID, s.UserID, s.Created.UnixMicro(), s.LastSeen.UnixMicro(), s.Deadline.UnixMicro())
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, '[]', ?, ?, ?), ", len(chunk)), ", ")
		if _, err := db.ExecContext(context.Background(), "INSERT INTO "+table+" (id, user_id, roles, created, last_seen, deadline) VALUES "+values, args...); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := db.QueryContext(context.Background(), "ANALYZE TABLE "+table)
	if err != nil {
		b.Fatal(err)
	}
	rows.Close()
}

// postgresBulk copies sessions into the table with COPY, then runs
// ANALYZE, as a live table would have statistics.
func postgresBulk(b *testing.B, pool *pgxpool.Pool, schema string, sessions []logout.Session) {
	rows := make([][]any, len(sessions))
	for i, s := range sessions {
		rows[i] = []any{s.ID, s.UserID, []string{}, s.Created, s.LastSeen, s.Deadline}
	}
	table := pgx.Identifier{schema, "sessions"}
	cols := []string{"id", "user_id", "roles", "created", "last_seen", "deadline"}
	if _, err := pool.CopyFrom(context.Background(), table, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), "VACUUM ANALYZE "+table.Sanitize()); err != nil {
		b.Fatal(err)
	}
}

// sqliteBulk inserts sessions into the file at path in one transaction,
// through a connection of its own.
func sqliteBulk(b *testing.B, path string, sessions []logout.Session) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.Prepare(`INSERT INTO sessions (id, user_id, roles, created, last_seen, deadline) VALUES (?, ?, '[]', ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range sessions {
		if _, err := st.Exec(s.ID, s.UserID, s.Created.UnixMicro(), s.LastSeen.UnixMicro(), s.Deadline.UnixMicro()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// load creates n sessions, untimed: in one go where the store has bulk,
// else through the store from 8 goroutines.
func load(b *testing.B, kind string, o opened, n int) {
	b.Helper()
	start := time.Now()
	defer func() { b.Logf("%s: loaded %d sessions in %v", kind, n, time.Since(start).Round(time.Millisecond)) }()
	if o.bulk != nil {
		sessions := make([]logout.Session, n)
		for i := range sessions {
			sessions[i] = sessionAt(i)
		}
		o.bulk(b, sessions)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := o.store.CreateSession(context.Background(), sessionAt(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// tally is a logout.Store that counts every call of every method.
type tally struct {
	logout.Store
	calls atomic.Int64
}

func (t *tally) CreateSession(ctx context.Context, s logout.Session) error {
	t.calls.Add(1)
	return t.Store.CreateSession(ctx, s)
}

func (t *tally) Session(ctx context.Context, id string) (logout.Session, error) {
	t.calls.Add(1)
	return t.Store.Session(ctx, id)
}

func (t *tally) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	t.calls.Add(1)
	return t.Store.TouchSession(ctx, id, seen, deadline)
}

func (t *tally) SetDeadlines(ctx context.Context, ups []logout.DeadlineUpdate) (int, error) {
	t.calls.Add(1)
	return t.Store.SetDeadlines(ctx, ups)
}

func (t *tally) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	t.calls.Add(1)
	return t.Store.CountSessions(ctx, opts)
}

func (t *tally) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	t.calls.Add(1)
	return t.Store.ListSessions(ctx, opts)
}

func (t *tally) ExpiredSessions(ctx context.Context, at time.Time, limit int) ([]logout.Session, error) {
	t.calls.Add(1)
	return t.Store.ExpiredSessions(ctx, at, limit)
}

func (t *tally) EndSessions(ctx context.Context, sel logout.Selector, r logout.Reason, at time.Time) ([]logout.Event, error) {
	t.calls.Add(1)
	return t.Store.EndSessions(ctx, sel, r, at)
}

func (t *tally) Event(ctx context.Context, id string) (logout.Event, error) {
	t.calls.Add(1)
	return t.Store.Event(ctx, id)
}

func (t *tally) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	t.calls.Add(1)
	return t.Store.Events(ctx, q)
}

func (t *tally) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	t.calls.Add(1)
	return t.Store.DeleteEvents(ctx, before)
}

func (t *tally) Settings(ctx context.Context) (logout.Settings, error) {
	t.calls.Add(1)
	return t.Store.Settings(ctx)
}

func (t *tally) SaveSettings(ctx context.Context, s logout.Settings) (logout.Settings, error) {
	t.calls.Add(1)
	return t.Store.SaveSettings(ctx, s)
}

func (t *tally) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	t.calls.Add(1)
	return t.Store.SettingsHistory(ctx, q)
}

func (t *tally) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	t.calls.Add(1)
	return t.Store.DeleteSettingsHistory(ctx, before)
}

// redisTrips counts the commands a go-redis client sends, a pipeline as
// one.
type redisTrips struct{ n *atomic.Int64 }

func (h redisTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h redisTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// pgTrips counts the statements a pgx pool sends.
type pgTrips struct{ n *atomic.Int64 }

func (t pgTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	t.n.Add(1)
	return ctx
}

func (pgTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func loadTrips(n *atomic.Int64) int64 {
	if n == nil {
		return 0
	}
	return n.Load()
}

// A settingsResult is one row of the table: the last run of a
// sub-benchmark, which the benchmark framework runs with growing b.N.
type settingsResult struct {
	kind, variant string
	sessions      int
	perOp         time.Duration
	calls, trips  int64 // trips -1: in process
}

func keep(rs []settingsResult, r settingsResult) []settingsResult {
	for i := range rs {
		if rs[i].kind == r.kind && rs[i].variant == r.variant {
			rs[i] = r
			return rs
		}
	}
	return append(rs, r)
}

// printSettingsTable prints, per store, both refreshes and the ratio of
// their times and of their store calls.
func printSettingsTable(rs []settingsResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "store\tsessions\ttouch-each\tcalls\ttrips\tset-deadlines\tcalls\ttrips\ttime ÷\tcalls ÷\t")
	trips := func(n int64) string {
		if n < 0 {
			return "–"
		}
		return strconv.FormatInt(n, 10)
	}
	for i := 0; i+1 < len(rs); i++ {
		before, after := rs[i], rs[i+1]
		if before.kind != after.kind || before.variant != "touch-each" {
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%v\t%d\t%s\t%v\t%d\t%s\t%.1f\t%.0f\t\n", before.kind, before.sessions,
			before.perOp.Round(time.Millisecond), before.calls, trips(before.trips),
			after.perOp.Round(time.Millisecond), after.calls, trips(after.trips),
			float64(before.perOp)/float64(after.perOp), float64(before.calls)/float64(after.calls))
	}
	w.Flush()
}
