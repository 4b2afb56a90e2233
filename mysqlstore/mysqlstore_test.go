package mysqlstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
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

// ways runs f once for each way EndSessions may end sessions on the test
// server: MariaDB's DELETE … RETURNING, where the server has it, and the
// locking read then DELETE that MySQL needs, on every server. way turns
// a new Store to the one of the run.
func ways(t *testing.T, f func(t *testing.T, way func(*mysqlstore.Store) *mysqlstore.Store)) {
	db := mysqltest.MySQL(t)
	mariadb := mysqlstore.Returning(newStore(t, db, mysqltest.Prefix(t, db)))
	for _, returning := range []bool{true, false} {
		name := "MySQL's locking read then DELETE"
		if returning {
			name = "MariaDB's DELETE RETURNING"
		}
		t.Run(name, func(t *testing.T) {
			if returning && !mariadb {
				t.Skip("the server is not MariaDB: it has no DELETE … RETURNING")
			}
			f(t, func(s *mysqlstore.Store) *mysqlstore.Store {
				mysqlstore.SetReturning(s, returning)
				return s
			})
		})
	}
}

func TestStore(t *testing.T) {
	ways(t, func(t *testing.T, way func(*mysqlstore.Store) *mysqlstore.Store) {
		db, other := mysqltest.MySQL(t), mysqltest.MySQL(t)
		var prefix string
		storetest.Run(t, func(t *testing.T) logout.Store {
			prefix = mysqltest.Prefix(t, db)
			return way(newStore(t, db, prefix))
		}, func(t *testing.T) logout.Store {
			return way(newStore(t, other, prefix)) // another process's handle
		})
	})
}
