package scaletest_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/pgtest"
	"github.com/gologout/logout/internal/redistest"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/redisstore"
)

// A backing is a store server that instances share: Redis or
// PostgreSQL, under a key prefix or schema of the test's own.
type backing struct {
	// addr is the server's host:port.
	addr string
	// newStore returns a Store on a client or pool of its own, as another
	// process would have, that connects to addr (the server, or a proxy
	// in front of it).
	newStore func(t *testing.T, addr string) logout.Store
	// listeners returns how many Watchers listen for the store's changes.
	listeners func(t *testing.T) int
}

// backings runs f in a subtest per store server. A subtest skips with a
// how-to when its server does not answer, or fails when CI=true.
func backings(t *testing.T, f func(t *testing.T, b *backing)) {
	for _, tt := range []struct {
		name string
		open func(*testing.T) *backing
	}{{"redis", redisBacking}, {"postgres", postgresBacking}} {
		t.Run(tt.name, func(t *testing.T) { f(t, tt.open(t)) })
	}
}

// redisBacking connects to the Redis test server (see redistest.Redis)
// and picks a key prefix that it deletes at the end.
func redisBacking(t *testing.T) *backing {
	t.Helper()
	opt := redistest.RedisOptions(t)
	admin := redistest.RedisClient(t, opt)
	prefix := redistest.RedisPrefix(t, admin)
	channel := prefix + "changes"
	return &backing{
		addr: opt.Addr,
		newStore: func(t *testing.T, addr string) logout.Store {
			o := *opt
			o.Addr = addr
			// The Manager bounds every store call with a context deadline
			// (Options.StoreTimeout); go-redis puts context deadlines on
			// its socket reads and writes only with ContextTimeoutEnabled.
			// Without it a call to an unreachable server waits for the
			// client's ReadTimeout instead.
			o.ContextTimeoutEnabled = true
			c := redis.NewClient(&o)
			t.Cleanup(func() { c.Close() })
			s, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		listeners: func(t *testing.T) int {
			n, err := admin.PubSubNumSub(t.Context(), channel).Result()
			if err != nil {
				t.Fatalf("PUBSUB NUMSUB: %v", err)
			}
			return int(n[channel])
		},
	}
}

// postgresBacking connects to the PostgreSQL test server (see
// pgtest.Postgres) and picks a schema that it drops at the end.
func postgresBacking(t *testing.T) *backing {
	t.Helper()
	admin := pgtest.Postgres(t)
	cfg := admin.Config()
	schema := pgtest.PostgresSchema(t, admin)
	listen := "LISTEN " + pgx.Identifier{schema + "_changes"}.Sanitize()
	return &backing{
		addr: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))),
		newStore: func(t *testing.T, addr string) logout.Store {
			c := cfg.Copy()
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			p, err := strconv.ParseUint(port, 10, 16)
			if err != nil {
				t.Fatal(err)
			}
			c.ConnConfig.Host, c.ConnConfig.Port, c.ConnConfig.Fallbacks = host, uint16(p), nil
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pool, err := pgxpool.NewWithConfig(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			s, err := pgstore.New(ctx, pool, pgstore.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		listeners: func(t *testing.T) int {
			var n int
			err := admin.QueryRow(t.Context(),
				"SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'idle'", listen).Scan(&n)
			if err != nil {
				t.Fatalf("count listeners: %v", err)
			}
			return n
		},
	}
}
