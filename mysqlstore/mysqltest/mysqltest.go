// Package mysqltest connects tests and benchmarks to the local MySQL or
// MariaDB server that the store tests share, and gives each test a table
// prefix of its own, whose tables it drops when the test ends.
//
//	db := mysqltest.MySQL(t) // skips without a server, fails under CI=true
//	s, err := mysqlstore.New(ctx, db, mysqlstore.Options{Prefix: mysqltest.Prefix(t, db)})
//
// It is a package of mysqlstore's module and needs nothing mysqlstore does not:
// the store's own tests use it, and so may the tests of a program that
// runs on mysqlstore.
//
// # Environment
//
// The server is read from $LOGOUT_TEST_MYSQL_DSN, a DSN of
// github.com/go-sql-driver/mysql, by default root without a password on
// 127.0.0.1:3306, database test. When the server does not answer the
// test is skipped with a how-to; with CI=true in the environment it fails
// instead (see servicetest.Unavailable).
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gologout/logout/internal/servicetest"
)

// DSNEnv names the environment variable with the server's DSN.
const DSNEnv = "LOGOUT_TEST_MYSQL_DSN"

// DefaultDSN is the DSN used when DSNEnv is unset: a local server, root
// without a password, database test.
const DefaultDSN = "root@tcp(127.0.0.1:3306)/test"

// Config returns the configuration of $LOGOUT_TEST_MYSQL_DSN, or of
// [DefaultDSN], after checking that the server answers: it fails the test
// when the DSN does not parse, and calls servicetest.Unavailable with a
// how-to when the server does not answer. Change a copy of it to connect
// elsewhere (through a proxy) and open it with [Open].
func Config(tb testing.TB) *mysql.Config {
	tb.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		dsn = DefaultDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", DSNEnv, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	db := Open(tb, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		// err names the user and address, never the password.
		servicetest.Unavailable(tb, fmt.Sprintf("MySQL is not reachable: %v\n"+
			"start one with: docker run --rm -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 -e MARIADB_DATABASE=test mariadb:10.11\n"+
			"or point %s at one, e.g. %s", err, DSNEnv, DefaultDSN))
	}
	return cfg
}

// Open opens a handle on cfg, closed when the test ends.
func Open(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatalf("%s: %v", DSNEnv, err)
	}
	db := sql.OpenDB(c)
	db.SetMaxIdleConns(8)
	tb.Cleanup(func() { db.Close() })
	return db
}

// MySQL connects to the test server (see [Config]) and closes the handle
// when the test ends.
func MySQL(tb testing.TB) *sql.DB {
	tb.Helper()
	return Open(tb, Config(tb))
}

// Prefix returns a table prefix of the test's own, such as
// "t_x3k9q2mz7a_", and drops the tables whose names start with it with
// [DropAtEnd].
func Prefix(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	p := "t_" + strings.ToLower(rand.Text()[:10]) + "_"
	DropAtEnd(tb, db, p)
	return p
}

// DropAtEnd drops, when the test ends, every table of the connection's
// database whose name starts with prefix, through db. db must still be
// open then: one from [MySQL] made before the call is.
func DropAtEnd(tb testing.TB, db *sql.DB, prefix string) {
	tb.Helper()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND BINARY LEFT(TABLE_NAME, CHAR_LENGTH(?)) = ?`, prefix, prefix)
		if err != nil {
			tb.Errorf("list tables %s*: %v", prefix, err)
			return
		}
		var names []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				tb.Errorf("list tables %s*: %v", prefix, err)
			}
			names = append(names, "`"+strings.ReplaceAll(name, "`", "``")+"`")
		}
		rows.Close()
		if len(names) == 0 {
			return
		}
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+strings.Join(names, ", ")); err != nil {
			tb.Errorf("drop tables %s*: %v", prefix, err)
		}
	})
}
