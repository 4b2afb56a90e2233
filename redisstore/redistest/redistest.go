// Package redistest connects tests and benchmarks to the local Redis
// server that the store tests share, and gives each test a key prefix of
// its own, deleted when the test ends.
//
//	c := redistest.Redis(t) // skips without a server, fails under CI=true
//	s, err := redisstore.New(c, redisstore.Options{Prefix: redistest.RedisPrefix(t, c)})
//
// It is a package of redisstore's module and needs nothing redisstore does not:
// the store's own tests use it, and so may the tests of a program that
// runs on redisstore.
//
// # Environment
//
// Redis is read from $LOGOUT_TEST_REDIS_URL, by default
// redis://127.0.0.1:6379/0. When the server does not answer the test is
// skipped with a how-to; with CI=true in the environment it fails instead
// (see servicetest.Unavailable).
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout/internal/servicetest"
)

const (
	// RedisURLEnv names the environment variable with the Redis URL.
	RedisURLEnv = "LOGOUT_TEST_REDIS_URL"
	// DefaultRedisURL is the Redis URL used when RedisURLEnv is unset.
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
)

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
// retries so that skipping is quick, and calls servicetest.Unavailable
// with a how-to when it does not answer. Like redis.NewClient, it fills in
// opt's defaults.
func RedisClient(tb testing.TB, opt *redis.Options) *redis.Client {
	tb.Helper()
	probeOpt := *opt
	probeOpt.MaxRetries, probeOpt.DialerRetries = -1, 1
	probe := redis.NewClient(&probeOpt)
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probe.Ping(ctx).Err(); err != nil {
		servicetest.Unavailable(tb, fmt.Sprintf("no Redis at %s: %v\n"+
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
