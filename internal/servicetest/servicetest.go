// Package servicetest holds what the tests that use Redis, PostgreSQL and
// MySQL share and that needs only the standard library: skipping (or,
// under CI, failing) when a server is absent, and waiting for a change to
// travel between processes. It is in the logout module, which requires
// nothing. The connections come from each store's own helper package:
// redisstore/redistest (go-redis), pgstore/pgtest (pgx) and
// mysqlstore/mysqltest (go-sql-driver/mysql), so that redisstore's go.mod
// never names pgx, nor pgstore's go-redis.
//
// # Environment
//
// With CI=true in the environment a test that finds no server fails
// instead of skipping, as CI always runs these tests.
package servicetest

import (
	"os"
	"testing"
	"time"
)

// Unavailable skips the test with msg, or fails it when the environment
// has CI=true: CI always runs these tests.
func Unavailable(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
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
