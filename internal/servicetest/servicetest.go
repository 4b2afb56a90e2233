// Package servicetest connects tests and benchmarks to the local Redis and
// PostgreSQL servers that the store tests share, and gives each test a key
// prefix or schema of its own, deleted when the test ends.
//
//	c := servicetest.Redis(t) // skips without a server, fails under CI=true
//	s, err := redisstore.New(c, redisstore.Options{Prefix: servicetest.RedisPrefix(t, c)})
//
//	pool := servicetest.Postgres(t)
//	s, err := pgstore.New(ctx, pool, pgstore.Options{Schema: servicetest.PostgresSchema(t, pool)})
//
// # Environment
//
// Redis is read from $LOGOUT_TEST_REDIS_URL, by default
// redis://127.0.0.1:6379/0. PostgreSQL is read from
// $LOGOUT_TEST_POSTGRES_URL, by default a local server with trust
// authentication as user postgres or root, database test. When the server
// does not answer the test is skipped with a how-to; with CI=true in the
// environment it fails instead, as CI always runs these tests.
package servicetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Environment variables and defaults that name the test servers.
const (
	// RedisURLEnv names the environment variable with the Redis URL.
	RedisURLEnv = "LOGOUT_TEST_REDIS_URL"
	// DefaultRedisURL is the Redis URL used when RedisURLEnv is unset.
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
	// PostgresURLEnv names the environment variable with the PostgreSQL URL.
	PostgresURLEnv = "LOGOUT_TEST_POSTGRES_URL"
)

// DefaultPostgresURLs returns the PostgreSQL URLs tried, in order, when
// PostgresURLEnv is unset: a local server with trust authentication as
// user postgres or root, database test.
func DefaultPostgresURLs() []string {
	return []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	}
}

// Unavailable skips the test with msg, or fails it when the environment
// has CI=true: CI always runs these tests.
func Unavailable(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// RedisOptions parses $LOGOUT_TEST_REDIS_URL, by default
// [DefaultRedisURL]. It fails the test when the URL does not parse.
func RedisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv(RedisURLEnv)
	if url == "" {
		url = DefaultRedisURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", RedisURLEnv, err)
	}
	return opt
}

// Redis connects to the test server of [RedisOptions] with
// [RedisClient].
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	return RedisClient(tb, RedisOptions(tb))
}

// RedisClient connects to the Redis server of opt, closing the client when
// the test ends. It first pings the server once, without the client's
// retries so that skipping is quick, and calls [Unavailable] with a how-to
// when it does not answer. Like redis.NewClient, it fills in opt's
// defaults.
func RedisClient(tb testing.TB, opt *redis.Options) *redis.Client {
	tb.Helper()
	probeOpt := *opt
	probeOpt.MaxRetries, probeOpt.DialerRetries = -1, 1
	probe := redis.NewClient(&probeOpt)
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probe.Ping(ctx).Err(); err != nil {
		Unavailable(tb, fmt.Sprintf("no Redis at %s: %v\n"+
			"start one with: docker run --rm -p 6379:6379 redis:7\n"+
			"or point %s at one, e.g. %s", opt.Addr, err, RedisURLEnv, DefaultRedisURL))
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// RedisPrefix returns a key prefix of the test's own and, when the test
// ends, deletes the keys under it on c with SCAN and UNLINK. c must still
// be open then: a client from [Redis] or [RedisClient] made before the
// call is.
func RedisPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	prefix := "logouttest:" + rand.Text() + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("clean up %s*: scan: %v", prefix, err)
		}
		for page := range slices.Chunk(keys, 500) {
			if err := c.Unlink(ctx, page...).Err(); err != nil {
				tb.Errorf("clean up %s*: unlink: %v", prefix, err)
			}
		}
	})
	return prefix
}

// Postgres connects to $LOGOUT_TEST_POSTGRES_URL, or else to the first of
// [DefaultPostgresURLs] that answers, and closes the pool when the test
// ends. It fails the test when the URL does not parse, and calls
// [Unavailable] with a how-to when no server answers. The pool's Config
// method gives its configuration, for pools of the same server.
func Postgres(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	urls := []string{os.Getenv(PostgresURLEnv)}
	if urls[0] == "" {
		urls = DefaultPostgresURLs()
	}
	var errs []error
	for _, u := range urls {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			tb.Fatalf("%s: %v", PostgresURLEnv, err)
		}
		pool, err := connect(cfg)
		if err == nil {
			tb.Cleanup(pool.Close)
			return pool
		}
		errs = append(errs, err)
	}
	Unavailable(tb, fmt.Sprintf("PostgreSQL is not reachable: %v\n"+
		"start one with: docker run --rm -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:17\n"+
		"or point %s at one, e.g. %s", errors.Join(errs...), PostgresURLEnv, DefaultPostgresURLs()[0]))
	return nil
}

// connect opens a pool with cfg and pings the server.
func connect(cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		// err names the URL's user and host, never its password.
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping: %w", err)
	}
	return pool, nil
}

// PostgresSchema returns the name of a schema of the test's own, which it
// does not create, and drops it with [DropSchemaAtEnd].
func PostgresSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	name := "logout_test_" + strings.ToLower(rand.Text()[:12])
	DropSchemaAtEnd(tb, pool, name)
	return name
}

// DropSchemaAtEnd drops schema name, if it exists, with all it holds
// (CASCADE) through pool when the test ends. pool must still be open then:
// one from [Postgres] made before the call is.
func DropSchemaAtEnd(tb testing.TB, pool *pgxpool.Pool, name string) {
	tb.Helper()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
}

// Within polls cond every few milliseconds until it holds, and fails the
// test if it does not within d: for changes that travel between processes
// through a store, where a test must wait but never sleep blindly.
func Within(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			tb.Fatalf("%s: not within %v", what, d)
		}
	}
}
