package mysqlstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/internal/mysqltest"
	"github.com/gologout/logout/storetest"
)

func newStore(tb testing.TB, db *sql.DB, prefix string) *mysqlstore.Store {
	tb.Helper()
	s, err := mysqlstore.New(context.Background(), db, mysqlstore.Options{Prefix: prefix})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	db, other := mysqltest.MySQL(t), mysqltest.MySQL(t)
	var prefix string
	storetest.Run(t, func(t *testing.T) logout.Store {
		prefix = mysqltest.Prefix(t, db)
		return newStore(t, db, prefix)
	}, func(t *testing.T) logout.Store {
		return newStore(t, other, prefix) // another process's handle
	})
}
