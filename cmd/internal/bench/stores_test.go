package bench

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	scsmysql "github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/redisstore/redistest"
	"github.com/gologout/logout/sqlitestore"
)

// A kind is one store, in Logout's version and in scs's. Its open
// functions return a new, empty store, or skip the benchmark with a
// how-to when the server is absent (fail it under CI=true; see
// servicetest.Unavailable).
type kind struct {
	name      string
	newLogout func(b *testing.B) logout.Store
	newSCS    func(b *testing.B) scs.Store
}

var kinds = []kind{
	{"memory", func(*testing.B) logout.Store { return logout.NewMemoryStore() },
		func(*testing.B) scs.Store { return memstore.NewWithCleanupInterval(0) }},
	{"sqlite", sqliteFile, scsSQLite},
	{"redis", redisLogout, redisSCS},
	{"postgres", postgresLogout, postgresSCS},
	{"mysql", mysqlLogout, mysqlSCS},
}

func sqliteFile(b *testing.B) logout.Store {
	s, err := sqlitestore.New(context.Background(), filepath.Join(b.TempDir(), "sessions.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// redisClient connects to the Redis test server (see redistest.Redis)
// with ContextTimeoutEnabled, as redisstore recommends, and returns a key
// prefix of the benchmark's own, deleted at the end.
func redisClient(b *testing.B) (*redis.Client, string) {
	opt := redistest.RedisOptions(b)
	opt.ContextTimeoutEnabled = true
	c := redistest.RedisClient(b, opt)
	return c, redistest.RedisPrefix(b, c)
}

func redisLogout(b *testing.B) logout.Store {
	c, prefix := redisClient(b)
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func redisSCS(b *testing.B) scs.Store {
	c, prefix := redisClient(b)
	return goredisstore.NewWithPrefix(c, prefix)
}

// postgresPool connects to the PostgreSQL test server (see
// pgtest.Postgres) with a schema of the benchmark's own first on the
// search path, dropped at the end.
func postgresPool(b *testing.B) (*pgxpool.Pool, string) {
	admin := pgtest.Postgres(b)
	schema := pgtest.PostgresSchema(b, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatalf("create schema %s: %v", schema, err)
	}
	cfg := admin.Config()
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatalf("connect with search_path %s: %v", schema, err)
	}
	b.Cleanup(pool.Close) // before the schema is dropped
	return pool, schema
}

func postgresLogout(b *testing.B) logout.Store {
	pool, schema := postgresPool(b)
	s, err := pgstore.New(context.Background(), pool, pgstore.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// postgresSCS is scs's pgxstore with the table its README gives.
func postgresSCS(b *testing.B) scs.Store {
	pool, _ := postgresPool(b)
	_, err := pool.Exec(context.Background(), `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions (expiry);`)
	if err != nil {
		b.Fatal(err)
	}
	return pgxstore.NewWithCleanupInterval(pool, 0)
}

// mysqlConfig is the MySQL test server's configuration (see
// mysqltest.Config) with interpolated parameters, as backend.OpenStore
// opens a mysql:// URL.
func mysqlConfig(b *testing.B) *mysql.Config {
	cfg := mysqltest.Config(b).Clone()
	cfg.InterpolateParams = true
	return cfg
}

func mysqlLogout(b *testing.B) logout.Store {
	db := mysqltest.Open(b, mysqlConfig(b))
	s, err := mysqlstore.New(context.Background(), db, mysqlstore.Options{Prefix: mysqltest.Prefix(b, db)})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// mysqlSCS is scs's mysqlstore, with the table its README gives, in a
// database of the benchmark's own (the table's name is fixed), dropped
// at the end; scs needs parseTime.
func mysqlSCS(b *testing.B) scs.Store {
	cfg := mysqlConfig(b)
	admin := mysqltest.Open(b, cfg)
	name := "bench_scs_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.ExecContext(context.Background(), "DROP DATABASE "+name) })
	cfg = cfg.Clone()
	cfg.DBName, cfg.ParseTime = name, true
	db := mysqltest.Open(b, cfg)
	for _, st := range []string{
		`CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	} {
		if _, err := db.ExecContext(context.Background(), st); err != nil {
			b.Fatal(err)
		}
	}
	return scsmysql.NewWithCleanupInterval(db, 0)
}

// counting is a logout.Store that counts the calls that write sessions
// (CreateSession, TouchSession) and those that read (every other but
// EndSessions).
type counting struct {
	logout.Store
	writes, reads atomic.Int64
}

// countingWatcher keeps the Watcher of a counted store.
type countingWatcher struct {
	*counting
	logout.Watcher
}

func count(s logout.Store) (logout.Store, *counting) {
	c := &counting{Store: s}
	if w, ok := s.(logout.Watcher); ok {
		return countingWatcher{c, w}, c
	}
	return c, c
}

func (c *counting) CreateSession(ctx context.Context, s logout.Session) error {
	c.writes.Add(1)
	return c.Store.CreateSession(ctx, s)
}

func (c *counting) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	c.writes.Add(1)
	return c.Store.TouchSession(ctx, id, seen, deadline)
}

func (c *counting) Session(ctx context.Context, id string) (logout.Session, error) {
	c.reads.Add(1)
	return c.Store.Session(ctx, id)
}

func (c *counting) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	c.reads.Add(1)
	return c.Store.ListSessions(ctx, opts)
}

func (c *counting) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	c.reads.Add(1)
	return c.Store.CountSessions(ctx, opts)
}

func (c *counting) Settings(ctx context.Context) (logout.Settings, error) {
	c.reads.Add(1)
	return c.Store.Settings(ctx)
}

func (c *counting) Event(ctx context.Context, id string) (logout.Event, error) {
	c.reads.Add(1)
	return c.Store.Event(ctx, id)
}

// countingSCS is an scs.Store that counts Commit calls, the writes.
type countingSCS struct {
	scs.Store
	writes, reads atomic.Int64
}

func (c *countingSCS) Commit(token string, b []byte, expiry time.Time) error {
	c.writes.Add(1)
	return c.Store.Commit(token, b, expiry)
}

func (c *countingSCS) Find(token string) ([]byte, bool, error) {
	c.reads.Add(1)
	return c.Store.Find(token)
}

// The context variants, used by scs when the store has them.
func (c *countingSCS) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	c.writes.Add(1)
	if s, ok := c.Store.(scs.CtxStore); ok {
		return s.CommitCtx(ctx, token, b, expiry)
	}
	return c.Store.Commit(token, b, expiry)
}

func (c *countingSCS) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	c.reads.Add(1)
	if s, ok := c.Store.(scs.CtxStore); ok {
		return s.FindCtx(ctx, token)
	}
	return c.Store.Find(token)
}

func (c *countingSCS) DeleteCtx(ctx context.Context, token string) error {
	if s, ok := c.Store.(scs.CtxStore); ok {
		return s.DeleteCtx(ctx, token)
	}
	return c.Store.Delete(token)
}

var _ scs.CtxStore = (*countingSCS)(nil)
