package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gologout/logout/mysqlstore"
)

// mysqlConfig reads a store URL mysql://user:password@host:port/database
// (port 3306 when absent): the driver's configuration, and the table
// prefix of the query's prefix=…. The query's other parameters are the
// driver's (tls, timeout, readTimeout, …, see
// github.com/go-sql-driver/mysql). interpolateParams is on unless the
// URL says otherwise, which saves a round trip per statement, and the
// dial timeout is 2 s, so that a refused or unreachable server fails a
// start fast. Errors never repeat the URL, which may hold a password.
func mysqlConfig(raw string) (*mysql.Config, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", errors.New("backend: mysql store URL does not parse")
	}
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	_, interpolate := q["interpolateParams"]
	cfg, err := mysql.ParseDSN("/?" + q.Encode())
	if err != nil {
		return nil, "", fmt.Errorf("backend: mysql store URL: parameters: %w", err)
	}
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if u.Hostname() == "" || cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return nil, "", errors.New("backend: mysql store URL: want mysql://user:password@host:port/database")
	}
	if !interpolate {
		cfg.InterpolateParams = true
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return cfg, prefix, nil
}

// openMySQL opens the store and the sign-in counts that a mysql:// URL
// names, on one handle, into o.
func openMySQL(ctx context.Context, u string, o *opened) error {
	cfg, prefix, err := mysqlConfig(u)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("backend: mysql store: %w", err)
	}
	db := sql.OpenDB(connector)
	// Keep connections for the requests in flight, not database/sql's
	// default of 2, and let idle ones go before a server's wait_timeout.
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	o.closers = append(o.closers, db.Close)
	s, err := mysqlstore.New(ctx, db, mysqlstore.Options{Prefix: prefix})
	if err != nil {
		return fmt.Errorf("backend: mysql store: %w", err)
	}
	counts, err := newMySQLThrottle(ctx, db, prefix)
	if err != nil {
		return err
	}
	o.store, o.counts = s, counts
	return nil
}
