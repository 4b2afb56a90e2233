package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/sqlitestore"
)

// A kind is one store, in Logout's version and in scs's. Its open
// functions return a new, empty store, or skip the benchmark with a
// how-to when the server is absent.
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
}

func sqliteFile(b *testing.B) logout.Store {
	s, err := sqlitestore.New(context.Background(), filepath.Join(b.TempDir(), "sessions.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// redisClient connects to LOGOUT_TEST_REDIS_URL (default the local
// server's database 0) and returns a key prefix of the benchmark's own,
// deleted at the end; it skips the benchmark when no server answers.
func redisClient(b *testing.B) (*redis.Client, string) {
	url := os.Getenv("LOGOUT_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatalf("LOGOUT_TEST_REDIS_URL: %v", err)
	}
	opt.ContextTimeoutEnabled = true // as redisstore recommends
	// Probe once, without the client's retries, so that skipping is quick.
	probeOpt := *opt
	probeOpt.MaxRetries, probeOpt.DialerRetries = -1, 1
	probe := redis.NewClient(&probeOpt)
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probe.Ping(ctx).Err(); err != nil {
		b.Skipf("no Redis at %s (%v): start one (docker run --rm -p 6379:6379 redis:7) or set LOGOUT_TEST_REDIS_URL", opt.Addr, err)
	}
	c := redis.NewClient(opt)
	prefix := "logoutbench:" + rand.Text() + ":"
	b.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Unlink(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
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

// postgresPool connects to LOGOUT_TEST_POSTGRES_URL, or to a local server
// with trust authentication as postgres or root, database test, with a
// schema of the benchmark's own first on the search path, dropped at the
// end; it skips the benchmark when no server answers.
func postgresPool(b *testing.B) (*pgxpool.Pool, string) {
	urls := []string{os.Getenv("LOGOUT_TEST_POSTGRES_URL")}
	if urls[0] == "" {
		urls = []string{
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			"postgres://root@127.0.0.1:5432/test?sslmode=disable",
		}
	}
	schema := "logout_bench_" + strings.ToLower(rand.Text()[:12])
	var errs []error
	for _, u := range urls {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			b.Fatalf("LOGOUT_TEST_POSTGRES_URL: %v", err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			if _, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
				pool.Close()
			}
		}
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Cleanup(func() {
			pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			pool.Close()
		})
		return pool, schema
	}
	b.Skipf("no PostgreSQL (%v): start one and set LOGOUT_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", errors.Join(errs...))
	return nil, ""
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

func (c *counting) ListSessions(ctx context.Context, userID string) ([]logout.Session, error) {
	c.reads.Add(1)
	return c.Store.ListSessions(ctx, userID)
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
