package scaletest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
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

// unavailable skips the test with msg, or fails it under CI=true: CI
// always runs these tests.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// redisBacking connects to LOGOUT_TEST_REDIS_URL, by default the local
// server's database 0, and picks a key prefix that it deletes at the end.
func redisBacking(t *testing.T) *backing {
	t.Helper()
	url := os.Getenv("LOGOUT_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("LOGOUT_TEST_REDIS_URL: %v", err)
	}
	admin := redis.NewClient(opt)
	t.Cleanup(func() { admin.Close() })
	probeOpt := *opt
	probeOpt.MaxRetries, probeOpt.DialerRetries = -1, 1
	probe := redis.NewClient(&probeOpt)
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probe.Ping(ctx).Err(); err != nil {
		unavailable(t, fmt.Sprintf("no Redis at %s: %v\n"+
			"start one with: docker run --rm -p 6379:6379 redis:7\n"+
			"or point LOGOUT_TEST_REDIS_URL at one, e.g. redis://127.0.0.1:6379/0", opt.Addr, err))
	}
	prefix := "logouttest:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s*: %v", prefix, err)
		}
		for page := range slices.Chunk(keys, 500) {
			if err := admin.Unlink(ctx, page...).Err(); err != nil {
				t.Errorf("clean up %s*: %v", prefix, err)
			}
		}
	})
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

// postgresBacking connects to LOGOUT_TEST_POSTGRES_URL, or to a local
// server with trust authentication as user postgres or root, database
// test, and picks a schema that it drops at the end.
func postgresBacking(t *testing.T) *backing {
	t.Helper()
	urls := []string{os.Getenv("LOGOUT_TEST_POSTGRES_URL")}
	if urls[0] == "" {
		urls = []string{
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			"postgres://root@127.0.0.1:5432/test?sslmode=disable",
		}
	}
	var cfg *pgxpool.Config
	var admin *pgxpool.Pool
	var errs []error
	for _, u := range urls {
		c, err := pgxpool.ParseConfig(u)
		if err != nil {
			t.Fatalf("LOGOUT_TEST_POSTGRES_URL: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pool, err := pgxpool.NewWithConfig(ctx, c)
		if err == nil {
			if err = pool.Ping(ctx); err != nil {
				pool.Close()
			}
		}
		cancel()
		if err == nil {
			cfg, admin = c, pool
			break
		}
		errs = append(errs, err)
	}
	if admin == nil {
		unavailable(t, fmt.Sprintf("PostgreSQL is not reachable; start one and set LOGOUT_TEST_POSTGRES_URL "+
			"(for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable): %v", errors.Join(errs...)))
	}
	t.Cleanup(admin.Close)
	schema := "logout_test_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
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
