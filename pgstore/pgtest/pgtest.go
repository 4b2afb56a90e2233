// Package pgtest connects tests and benchmarks to the local PostgreSQL
// server that the store tests share, and gives each test a schema of its
// own, dropped when the test ends.
//
//	pool := pgtest.Postgres(t) // skips without a server, fails under CI=true
//	s, err := pgstore.New(ctx, pool, pgstore.Options{Schema: pgtest.PostgresSchema(t, pool)})
//
// It is a package of pgstore's module and needs nothing pgstore does not:
// the store's own tests use it, and so may the tests of a program that
// runs on pgstore.
//
// # Environment
//
// PostgreSQL is read from $LOGOUT_TEST_POSTGRES_URL, by default a local
// server with trust authentication as user postgres or root, database
// test. When the server does not answer the test is skipped with a how-to;
// with CI=true in the environment it fails instead (see
// servicetest.Unavailable).
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gologout/logout/internal/servicetest"
)

// PostgresURLEnv names the environment variable with the PostgreSQL URL.
const PostgresURLEnv = "LOGOUT_TEST_POSTGRES_URL"

// DefaultPostgresURLs returns the PostgreSQL URLs tried, in order, when
// PostgresURLEnv is unset: a local server with trust authentication as
// user postgres or root, database test.
func DefaultPostgresURLs() []string {
	return []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	}
}

// Postgres connects to $LOGOUT_TEST_POSTGRES_URL, or else to the first of
// [DefaultPostgresURLs] that answers, and closes the pool when the test
// ends. It fails the test when the URL does not parse, and calls
// servicetest.Unavailable with a how-to when no server answers. The pool's
// Config method gives its configuration, for pools of the same server.
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
	servicetest.Unavailable(tb, fmt.Sprintf("PostgreSQL is not reachable: %v\n"+
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
