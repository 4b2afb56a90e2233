package scaletest_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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
)

// A backing is a store server that instances share: Redis, PostgreSQL
// or MySQL (MariaDB), under a key prefix, schema or table prefix of the
// test's own.
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
	}{{"redis", redisBacking}, {"postgres", postgresBacking}, {"mysql", mysqlBacking}} {
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

// mysqlBacking connects to the MySQL or MariaDB test server (see
// mysqltest.MySQL) and picks a table prefix whose tables it drops at the
// end. Its Watchers poll a table: the server has no listeners to count,
// so the stores it makes count their own Watches that listen, those that
// have announced All.
func mysqlBacking(t *testing.T) *backing {
	t.Helper()
	cfg := mysqltest.Config(t)
	prefix := mysqltest.Prefix(t, mysqltest.Open(t, cfg))
	var listening atomic.Int64
	return &backing{
		addr: cfg.Addr,
		newStore: func(t *testing.T, addr string) logout.Store {
			c := cfg.Clone()
			c.Addr = addr
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := mysqlstore.New(ctx, mysqltest.Open(t, c), mysqlstore.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return countedWatch{s, &listening}
		},
		listeners: func(*testing.T) int { return int(listening.Load()) },
	}
}

// countedWatch counts in n the Watches of a Store that listen.
type countedWatch struct {
	*mysqlstore.Store
	n *atomic.Int64
}

func (c countedWatch) Watch(ctx context.Context, fn func(logout.Change)) error {
	listening := false
	defer func() {
		if listening {
			c.n.Add(-1)
		}
	}()
	return c.Store.Watch(ctx, func(ch logout.Change) {
		if ch.All && !listening {
			listening = true
			c.n.Add(1)
		}
		fn(ch)
	})
}
