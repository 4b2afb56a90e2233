package pgstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/gologout/logout/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func newStore(tb testing.TB, pool *pgxpool.Pool, schema string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.New(context.Background(), pool, pgstore.Options{Schema: schema})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	pool, other := pgtest.Postgres(t), pgtest.Postgres(t)
	var schema string
	storetest.Run(t, func(t *testing.T) logout.Store {
		schema = pgtest.PostgresSchema(t, pool)
		return newStore(t, pool, schema)
	}, func(t *testing.T) logout.Store {
		return newStore(t, other, schema) // another process's pool
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	// New checks its options before it connects: this pool never does.
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	tests := []struct {
		name string
		pool *pgxpool.Pool
		opts pgstore.Options
		want string
	}{
		{"nil pool", nil, pgstore.Options{}, "needs a pool"},
		{"schema too long", pool, pgstore.Options{Schema: strings.Repeat("s", 64)}, "Schema"},
		{"default channel too long", pool, pgstore.Options{Schema: strings.Repeat("s", 60)}, "Channel"},
		{"channel too long", pool, pgstore.Options{Channel: strings.Repeat("c", 64)}, "Channel"},
		{"NUL in schema", pool, pgstore.Options{Schema: "a\x00b"}, "NUL"},
		{"negative sweep batch", pool, pgstore.Options{PruneBatch: -1}, "PruneBatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pgstore.New(t.Context(), tt.pool, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "pgstore: ") {
				t.Fatalf("New = %v, %v; want an error about %s", s, err, tt.want)
			}
		})
	}
}

func schemaVersion(t *testing.T, pool *pgxpool.Pool, schema string) (version, rows int) {
	t.Helper()
	err := pool.QueryRow(t.Context(), "SELECT max(version), count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_version").
		Scan(&version, &rows)
	if err != nil {
		t.Fatal(err)
	}
	return version, rows
}

func TestMigrate(t *testing.T) {
	pool := pgtest.Postgres(t)

	t.Run("concurrent starts on a fresh schema all succeed", func(t *testing.T) {
		schema := pgtest.PostgresSchema(t, pool)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = pgstore.New(t.Context(), pool, pgstore.Options{Schema: schema})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("New #%d: %v", i, err)
			}
		}
		if v, n := schemaVersion(t, pool, schema); v != pgstore.SchemaVersion || n != 1 {
			t.Fatalf("schema_version holds version %d in %d rows, want %d in 1", v, n, pgstore.SchemaVersion)
		}
	})

	t.Run("a restart keeps the data", func(t *testing.T) {
		schema := pgtest.PostgresSchema(t, pool)
		s := newStore(t, pool, schema)
		now := time.Now().UTC().Truncate(time.Microsecond)
		want := logout.Session{ID: "a", UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(time.Hour)}
		if err := s.CreateSession(t.Context(), want); err != nil {
			t.Fatal(err)
		}
		got, err := newStore(t, pool, schema).Session(t.Context(), "a")
		if err != nil || got.UserID != "alice" || !got.Deadline.Equal(want.Deadline) {
			t.Fatalf("after a restart Session = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("a schema of a newer version is refused", func(t *testing.T) {
		schema := pgtest.PostgresSchema(t, pool)
		newStore(t, pool, schema)
		if _, err := pool.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema}.Sanitize()+".schema_version SET version = version + 1"); err != nil {
			t.Fatal(err)
		}
		_, err := pgstore.New(t.Context(), pool, pgstore.Options{Schema: schema})
		if !errors.Is(err, pgstore.ErrNewerSchema) {
			t.Fatalf("New on a newer schema = %v, want ErrNewerSchema", err)
		}
		if want := fmt.Sprintf("version %d", pgstore.SchemaVersion+1); !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
		if v, _ := schemaVersion(t, pool, schema); v != pgstore.SchemaVersion+1 {
			t.Fatalf("refused New changed the version to %d", v)
		}
	})

	t.Run("schema names are quoted", func(t *testing.T) {
		schema := `logout_test_"; DROP TABLE x; --Mixed Case ` + rand.Text()[:8]
		pgtest.DropSchemaAtEnd(t, pool, schema)
		s := newStore(t, pool, schema)
		if _, err := s.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Settings(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExpiredSessionsUsesIndex checks that ExpiredSessions reads the
// deadline index, whether PostgreSQL plans it for the given values or
// once for all (as it may after a few runs of a prepared statement).
func TestExpiredSessionsUsesIndex(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s := newStore(t, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".sessions"
	conn := planConn(t, pool, `INSERT INTO `+table+` (id, user_id, created, last_seen, deadline)
SELECT 's' || g, 'u' || g % 100, t, t, t + g * interval '1 second'
FROM generate_series(1, 20000) AS g, (VALUES (timestamptz '2026-01-01 00:00:00Z')) AS v(t)`, "ANALYZE "+table)
	if _, err := conn.Exec(t.Context(), "PREPARE expired AS "+pgstore.ExpiredQuery(s)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			if _, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
				t.Fatal(err)
			}
			rows, _ := conn.Query(t.Context(), "EXPLAIN EXECUTE expired('2026-01-01 00:01:00Z', 500)")
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if !strings.Contains(plan, "Index Scan using sessions_deadline_idx") || strings.Contains(plan, "Seq Scan") {
				t.Fatalf("ExpiredSessions does not use the deadline index:\n%s", plan)
			}
		})
	}
	got, err := s.ExpiredSessions(t.Context(), time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC), 500)
	if err != nil || len(got) != 60 || got[0].ID != "s1" || got[59].ID != "s60" {
		t.Fatalf("ExpiredSessions = %d sessions, %v; want s1 to s60", len(got), err)
	}
}

// TestSetDeadlinesUsesPrimaryKey checks that a batch of 500 deadlines
// among 100 000 sessions finds each session by its ID (no scan
// of the table), for the values given and for a generic plan, and that it
// leaves alone the sessions whose last_seen differs. (On a table of a few
// thousand sessions PostgreSQL rightly prefers one scan of it.)
func TestSetDeadlinesUsesPrimaryKey(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s := newStore(t, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".sessions"
	_, err := pool.Exec(t.Context(), `INSERT INTO `+table+` (id, user_id, created, last_seen, deadline)
SELECT 's' || g, 'u' || g % 100, t, t, t + interval '1 hour'
FROM generate_series(1, 100000) AS g, (VALUES (timestamptz '2026-01-01 00:00:00Z')) AS v(t)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), "VACUUM ANALYZE "+table); err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	var seens, deadlines []time.Time
	for i := range 500 {
		ids = append(ids, fmt.Sprintf("s%d", 1+i*197))
		seens = append(seens, seen)
		deadlines = append(deadlines, seen.Add(2*time.Hour))
	}
	conn, err := pgx.ConnectConfig(t.Context(), pool.Config().ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "PREPARE set_deadlines AS "+pgstore.SetDeadlinesQuery(s)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			if _, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
				t.Fatal(err)
			}
			// EXPLAIN takes no parameters: pgx puts the arrays in the text.
			rows, _ := conn.Query(t.Context(), "EXPLAIN EXECUTE set_deadlines($1, $2, $3)",
				pgx.QueryExecModeSimpleProtocol, ids, seens, deadlines)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			// The index on (last_seen, id) finds a row by the same key
			// as well, with the condition on last_seen besides.
			byKey := strings.Contains(plan, "Index Scan using sessions_pkey") ||
				strings.Contains(plan, "Index Scan using sessions_last_seen_idx") && strings.Contains(plan, "(last_seen = u.seen) AND (id = (u.id)::text)")
			if !byKey || strings.Contains(plan, "Seq Scan") {
				t.Fatalf("SetDeadlines does not find sessions by the primary key:\n%s", plan)
			}
		})
	}
	ups := make([]logout.DeadlineUpdate, len(ids))
	for i := range ids {
		ups[i] = logout.DeadlineUpdate{ID: ids[i], Seen: seens[i], Deadline: deadlines[i]}
	}
	ups[0].Seen = seen.Add(time.Microsecond) // activity it never had
	n, err := s.SetDeadlines(t.Context(), ups)
	if err != nil || n != 499 {
		t.Fatalf("SetDeadlines = %d, %v; want 499", n, err)
	}
	var moved int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+table+" WHERE deadline = $1", seen.Add(2*time.Hour)).Scan(&moved); err != nil || moved != 499 {
		t.Fatalf("%d sessions have the new deadline, %v; want 499", moved, err)
	}
}

// TestListSessionsUsesIndex checks that a page of sessions in each order,
// after a cursor or not, of everyone, of one user or of one address, is an
// index range read in index order (no sort, no scan of the table; a
// user's or an address's sessions in an order by activity or deadline may
// be sorted, being few), that a count reads an index, and that ending
// the sessions of a tag finds them through the tags index, for the values
// given and for a generic plan.
func TestListSessionsUsesIndex(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s := newStore(t, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".sessions"
	// 20000 sessions created in 10 s (many share a microsecond): the
	// even ones of u0, the others 20 each of u1, u3, ... u999; 40 at each
	// of 500 addresses; one in a thousand tagged.
	conn := planConn(t, pool, `INSERT INTO `+table+` (id, user_id, created, last_seen, deadline, address, tags)
SELECT 's' || g, 'u' || CASE WHEN g % 2 = 0 THEN 0 ELSE g % 1000 END, t + (g % 10) * interval '1 second',
	t + (g % 97) * interval '1 second', t + (g % 89) * interval '1 second', '10.0.' || (g % 500),
	CASE WHEN g % 1000 = 0 THEN ARRAY['sso:' || g] ELSE '{}' END
FROM generate_series(1, 20000) AS g, (VALUES (timestamptz '2026-01-01 00:00:00Z')) AS v(t)`, "VACUUM ANALYZE "+table)
	at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	after := logout.Cursor{Created: at, LastSeen: at, Deadline: at, ID: "s5000"}
	list := func(o logout.SessionOrder, user, addr string, after logout.Cursor) func() (string, []any) {
		return func() (string, []any) {
			return pgstore.ListQuery(s, logout.ListOptions{UserID: user, Address: addr, Order: o, After: after, Limit: 50})
		}
	}
	count := func(user, addr string) func() (string, []any) {
		return func() (string, []any) { return pgstore.CountQuery(s, logout.ListOptions{UserID: user, Address: addr}) }
	}
	for _, tt := range []struct {
		name    string
		query   func() (string, []any)
		indexes []string // the plan reads one of these
		sorted  bool     // it may sort (the few rows it read)
	}{
		{"oldest of all", list(logout.OldestFirst, "", "", logout.Cursor{}), []string{"sessions_created_idx"}, false},
		{"oldest of all later", list(logout.OldestFirst, "", "", after), []string{"sessions_created_idx"}, false},
		{"newest of all", list(logout.NewestFirst, "", "", logout.Cursor{}), []string{"sessions_created_idx"}, false},
		{"newest of all later", list(logout.NewestFirst, "", "", after), []string{"sessions_created_idx"}, false},
		{"active of all", list(logout.ActiveFirst, "", "", logout.Cursor{}), []string{"sessions_last_seen_idx"}, false},
		{"active of all later", list(logout.ActiveFirst, "", "", after), []string{"sessions_last_seen_idx"}, false},
		{"ending of all", list(logout.EndingFirst, "", "", logout.Cursor{}), []string{"sessions_deadline_idx"}, false},
		{"ending of all later", list(logout.EndingFirst, "", "", after), []string{"sessions_deadline_idx"}, false},
		{"oldest of a user", list(logout.OldestFirst, "u0", "", logout.Cursor{}), []string{"sessions_user_created_idx"}, false},
		{"oldest of a user later", list(logout.OldestFirst, "u0", "", after), []string{"sessions_user_created_idx"}, false},
		{"newest of a user later", list(logout.NewestFirst, "u0", "", after), []string{"sessions_user_created_idx"}, false},
		{"active of a user later", list(logout.ActiveFirst, "u7", "", after), []string{"sessions_user_created_idx"}, true},
		{"oldest of an address later", list(logout.OldestFirst, "", "10.0.7", after), []string{"sessions_address_created_idx"}, true},
		{"newest of an address later", list(logout.NewestFirst, "", "10.0.7", after), []string{"sessions_address_created_idx"}, true},
		{"ending of an address later", list(logout.EndingFirst, "", "10.0.7", after), []string{"sessions_address_created_idx"}, true},
		{"a user at an address", list(logout.ActiveFirst, "u7", "10.0.7", after),
			[]string{"sessions_user_created_idx", "sessions_address_created_idx"}, true},
		{"count of a user", count("u7", ""), []string{"sessions_user_created_idx"}, false},
		{"count of an address", count("", "10.0.7"), []string{"sessions_address_created_idx"}, false},
		{"count of a user at an address", count("u7", "10.0.7"), []string{"sessions_user_created_idx", "sessions_address_created_idx"}, false},
		{"end by tag", func() (string, []any) { return pgstore.EndQuery(s, logout.Selector{Tag: "sso:7000"}) },
			[]string{"sessions_tags_idx"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query, args := tt.query()
			for mode, plan := range explain(t, conn, query, args) {
				if !readsIndex(plan, tt.indexes) || strings.Contains(plan, "Seq Scan") || (!tt.sorted && strings.Contains(plan, "Sort")) {
					t.Fatalf("%s: plan does not read %v as it should:\n%s", mode, tt.indexes, plan)
				}
				// The cursor must bound the index range, not filter rows
				// (but for the few rows read whole and sorted).
				if i := strings.Index(query, ", id) "); i >= 0 && !strings.Contains(query, "MATERIALIZED") {
					cond := "ROW(" + query[strings.LastIndex(query[:i], "(")+1:i] + ", id) " + query[i+6:i+7] + " ROW("
					if !slices.ContainsFunc(strings.Split(plan, "\n"), func(l string) bool {
						return strings.Contains(l, "Index Cond: ") && strings.Contains(l, cond)
					}) {
						t.Fatalf("%s: the cursor is not an index condition (%s):\n%s", mode, cond, plan)
					}
				}
			}
		})
	}
	page, err := s.ListSessions(t.Context(), logout.ListOptions{UserID: "u0",
		After: logout.Cursor{Created: time.Date(2026, 1, 1, 0, 0, 4, 0, time.UTC), ID: "s9994"}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	// u0's sessions at 4 s are s4, s14, ... s19994, and s9994 is the
	// last of them byte by byte; those at 6 s begin s10006, s10016.
	if got := sessionIDs(page); !slices.Equal(got, []string{"s10006", "s10016", "s10026"}) {
		t.Fatalf("page after (4 s, s9994) = %v, want s10006 s10016 s10026", got)
	}
	for _, tt := range []struct {
		user, addr string
		want       int
	}{{"u0", "", 10000}, {"u7", "", 20}, {"u2", "", 0}, {"", "", 20000}, {"", "10.0.7", 40}, {"u7", "10.0.7", 20}, {"u0", "10.0.7", 0}} {
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: tt.user, Address: tt.addr}); err != nil || n != tt.want {
			t.Fatalf("CountSessions(%q, %q) = %d, %v; want %d", tt.user, tt.addr, n, err, tt.want)
		}
	}
}

// explain prepares query on conn and returns its plans for the given
// arguments: a custom plan and a generic one, by plan_cache_mode.
func explain(t *testing.T, conn *pgx.Conn, query string, args []any) map[string]string {
	t.Helper()
	name := "q" + strings.ReplaceAll(rand.Text()[:10], "-", "")
	if _, err := conn.Exec(t.Context(), "PREPARE "+name+" AS "+query); err != nil {
		t.Fatal(err)
	}
	// EXECUTE takes literals: the arguments as SQL text.
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			lits[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			lits[i] = fmt.Sprint(v)
		}
	}
	execute := "EXPLAIN EXECUTE " + name
	if len(lits) > 0 {
		execute += "(" + strings.Join(lits, ", ") + ")"
	}
	plans := make(map[string]string)
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		if _, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		rows, _ := conn.Query(t.Context(), execute)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plans[mode] = strings.Join(lines, "\n")
	}
	return plans
}

// readsIndex reports whether plan reads one of indexes.
func readsIndex(plan string, indexes []string) bool {
	return slices.ContainsFunc(indexes, func(ix string) bool {
		return strings.Contains(plan, "using "+ix) || strings.Contains(plan, "on "+ix)
	})
}

// TestMigrateFromVersion1 upgrades a schema made by the first version and
// checks that its sessions page and count as new ones do.
func TestMigrateFromVersion1(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	quoted := pgx.Identifier{schema}.Sanitize()
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA `+quoted+`;
CREATE TABLE `+quoted+`.schema_version (id boolean PRIMARY KEY DEFAULT true CHECK (id), version integer NOT NULL);
INSERT INTO `+quoted+`.schema_version (version) VALUES (1);
`+strings.ReplaceAll(pgstore.Migration(0), "{s}", quoted)+`
INSERT INTO `+quoted+`.sessions (id, user_id, created, last_seen, deadline) VALUES
	('c', 'alice', '2026-01-01Z', '2026-01-01Z', '2026-01-02Z'),
	('a', 'alice', '2026-01-02Z', '2026-01-02Z', '2026-01-02Z'),
	('b', 'alice', '2026-01-01Z', '2026-01-01Z', '2026-01-02Z')`)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, pool, schema)
	if v, _ := schemaVersion(t, pool, schema); v != pgstore.SchemaVersion {
		t.Fatalf("schema version %d after the upgrade, want %d", v, pgstore.SchemaVersion)
	}
	var indexes []string
	rows, _ := pool.Query(t.Context(), `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'sessions' ORDER BY 1`, schema)
	indexes, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sessions_address_created_idx", "sessions_created_idx", "sessions_deadline_idx", "sessions_last_seen_idx",
		"sessions_pkey", "sessions_tags_idx", "sessions_user_created_idx"}; !slices.Equal(indexes, want) {
		t.Fatalf("indexes %v, want %v", indexes, want)
	}
	page, err := s.ListSessions(t.Context(), logout.ListOptions{UserID: "alice", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != "b" || page[1].ID != "c" || page[0].UserName != "" {
		t.Fatalf("first page after the upgrade: %v, want b and c, with no user name", page)
	}
	for _, x := range page {
		if x.UserAgent != "" || x.Address != "" || x.Tags != nil {
			t.Fatalf("session %s after the upgrade has device %q, address %q, tags %q; want none", x.ID, x.UserAgent, x.Address, x.Tags)
		}
	}
	if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: "alice"}); err != nil || n != 3 {
		t.Fatalf("CountSessions(alice) after the upgrade = %d, %v; want 3", n, err)
	}
	page, err = s.ListSessions(t.Context(), logout.ListOptions{Order: logout.ActiveFirst, Limit: 10})
	if err != nil || !slices.Equal(sessionIDs(page), []string{"a", "c", "b"}) {
		t.Fatalf("active first after the upgrade = %v, %v; want a c b", sessionIDs(page), err)
	}
	if evs, err := s.EndSessions(t.Context(), logout.Selector{Tag: "x"}, logout.ReasonForced, time.Now()); err != nil || len(evs) != 0 {
		t.Fatalf("EndSessions(Tag x) after the upgrade = %v, %v; want none", evs, err)
	}
}

// TestIDOrderIsBytewise checks that ties are broken by ID byte by byte, as
// in Go, and not by the database's collation (which, say in en_US, puts
// "a" before "B").
func TestIDOrderIsBytewise(t *testing.T) {
	pool := pgtest.Postgres(t)
	s := newStore(t, pool, pgtest.PostgresSchema(t, pool))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "_x", "B", "b", "A"} {
		x := logout.Session{ID: id, UserID: "u", Created: base, LastSeen: base, Deadline: base}
		if err := s.CreateSession(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"A", "B", "_x", "a", "b"}
	list, err := s.ListSessions(t.Context(), logout.ListOptions{UserID: "u", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := s.ExpiredSessions(t.Context(), base, 10)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]logout.Session{"ListSessions": list, "ExpiredSessions": expired} {
		ids := make([]string, len(got))
		for i, x := range got {
			ids[i] = x.ID
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s = %q, want %q", name, ids, want)
		}
	}
}

func sessionIDs(ss []logout.Session) []string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = x.ID
	}
	return out
}

func TestDeleteEventsInBatches(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s, err := pgstore.New(t.Context(), pool, pgstore.Options{Schema: schema, PruneBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		x := logout.Session{ID: strconv.Itoa(i), UserID: "u", Created: base, LastSeen: base, Deadline: base}
		if err := s.CreateSession(t.Context(), x); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndSessions(t.Context(), logout.Selector{IDs: []string{x.ID}}, logout.ReasonIdle, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteEvents(t.Context(), base.Add(25*time.Second))
	if err != nil || n != 25 {
		t.Fatalf("DeleteEvents = %d, %v; want 25", n, err)
	}
	evs, err := s.Events(t.Context(), logout.EventQuery{Limit: 100})
	if err != nil || len(evs) != 5 {
		t.Fatalf("Events = %d, %v; want 5 left", len(evs), err)
	}
}

func TestEndedPayloads(t *testing.T) {
	hexID := func(i int) string {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		return hex.EncodeToString(h[:])
	}
	many := make([]string, 1000)
	for i := range many {
		many[i] = hexID(i)
	}
	tests := []struct {
		name     string
		ids      []string
		want     []string // announced IDs, in order
		payloads int
	}{
		{"none", nil, nil, 0},
		{"one", []string{"a"}, []string{"a"}, 1},
		{"escaped characters", []string{`q"uote`, "<tag>", "naïve\n"}, []string{`q"uote`, "<tag>", "naïve\n"}, 1},
		{"a thousand hashes in chunks", many, many, 9},
		{"an ID too long to announce is left out", []string{"a", strings.Repeat("x", pgstore.MaxPayload), "b"}, []string{"a", "b"}, 1},
		{"an ID that just fits", []string{strings.Repeat("x", pgstore.MaxPayload-len(`{"ended":[""]}`))}, []string{strings.Repeat("x", pgstore.MaxPayload-len(`{"ended":[""]}`))}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payloads := pgstore.EndedPayloads(tt.ids)
			var got []string
			for _, p := range payloads {
				if len(p) > pgstore.MaxPayload {
					t.Errorf("payload of %d bytes, want at most %d", len(p), pgstore.MaxPayload)
				}
				var c struct{ Ended []string }
				if err := json.Unmarshal([]byte(p), &c); err != nil {
					t.Fatalf("payload %.40q: %v", p, err)
				}
				got = append(got, c.Ended...)
			}
			if !slices.Equal(got, tt.want) || len(payloads) != tt.payloads {
				t.Fatalf("announced %d IDs in %d payloads, want %d in %d", len(got), len(payloads), len(tt.want), tt.payloads)
			}
		})
	}
}

func BenchmarkSession(b *testing.B) {
	pool := pgtest.Postgres(b)
	s := newStore(b, pool, pgtest.PostgresSchema(b, pool))
	ids := benchSessions(b, s, 1000)
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.Session(b.Context(), ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.Session(context.Background(), ids[i%len(ids)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkTouchSession(b *testing.B) {
	pool := pgtest.Postgres(b)
	s := newStore(b, pool, pgtest.PostgresSchema(b, pool))
	ids := benchSessions(b, s, 1000)
	base := time.Now().UTC().Truncate(time.Microsecond)
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			seen := base.Add(time.Duration(i) * time.Microsecond)
			if err := s.TouchSession(b.Context(), ids[i%len(ids)], seen, seen.Add(15*time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				seen := time.Now().UTC().Truncate(time.Microsecond)
				id := ids[seen.UnixMicro()%int64(len(ids))]
				if err := s.TouchSession(context.Background(), id, seen, seen.Add(15*time.Minute)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func benchSessions(b *testing.B, s *pgstore.Store, n int) []string {
	b.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ids := make([]string, n)
	for i := range ids {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		ids[i] = hex.EncodeToString(h[:])
		x := logout.Session{ID: ids[i], UserID: "u" + strconv.Itoa(i%50), Roles: []string{"editor"},
			Created: now, LastSeen: now, Deadline: now.Add(15 * time.Minute)}
		if err := s.CreateSession(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// TestEventsUseIndex checks that the sign-out log's queries read an
// index, never the whole table, for a custom and a generic plan: all
// events (in a time range or not) the time index in order, newest first,
// with no sort; one user's events the user index (the planner may sort
// those few rows), or the time index for a user with half the log.
func TestEventsUseIndex(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s := newStore(t, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".events"
	// 20000 events over 20000 s: the even ones of u0, the others 20 each
	// of u1, u3, ... u999.
	conn := planConn(t, pool, `INSERT INTO `+table+` (session_id, user_id, reason, at)
SELECT 's' || g, 'u' || CASE WHEN g % 2 = 0 THEN 0 ELSE g % 1000 END, 'idle', timestamptz '2026-01-01 00:00:00Z' + g * interval '1 second'
FROM generate_series(1, 20000) AS g`, "VACUUM ANALYZE "+table)
	since, until := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		q       logout.EventQuery
		indexes []string // the plan reads one of these
		sorted  bool     // it may sort (the few rows it read)
	}{
		{"newest of all", logout.EventQuery{Limit: 50}, []string{"events_at_id_idx"}, false},
		{"a time range", logout.EventQuery{Since: since, Until: until, Limit: 50}, []string{"events_at_id_idx"}, false},
		{"a user with few events", logout.EventQuery{UserID: "u7", Limit: 50}, []string{"events_user_at_idx"}, true},
		{"a user with half the log, in a time range", logout.EventQuery{UserID: "u0", Since: since, Until: until, Limit: 50},
			[]string{"events_user_at_idx", "events_at_id_idx"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query, args := pgstore.EventsQuery(s, tt.q)
			for mode, plan := range explain(t, conn, query, args) {
				if !readsIndex(plan, tt.indexes) || strings.Contains(plan, "Seq Scan") || (!tt.sorted && strings.Contains(plan, "Sort")) {
					t.Fatalf("%s: plan does not read %v as it should:\n%s", mode, tt.indexes, plan)
				}
			}
		})
	}
}

// planConn runs the statements (filling and analysing a table) and
// returns a connection of its own, so that PREPARE and SET stay out of
// the pool; it closes when the test ends.
func planConn(t *testing.T, pool *pgxpool.Pool, statements ...string) *pgx.Conn {
	t.Helper()
	for _, st := range statements {
		if _, err := pool.Exec(t.Context(), st); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.ConnectConfig(t.Context(), pool.Config().ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// BenchmarkListActiveFirst reads pages of 50 among 100 000 sessions in
// ActiveFirst order: the first page, the page at half and the page at 90 %
// of the walk (each op one page, so ns/op is ns/page, and blocks/page is
// the buffer pages its plan reads), and a whole walk, page after page
// (ns/page reported). A page walks (last_seen, id) backwards from its
// cursor, so its cost does not grow with its position.
func BenchmarkListActiveFirst(b *testing.B) {
	const n = 100000
	pool := pgtest.Postgres(b)
	schema := pgtest.PostgresSchema(b, pool)
	s := newStore(b, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".sessions"
	// Activity over a day, 20 sessions per second, so that ties occur.
	for _, st := range []string{`INSERT INTO ` + table + ` (id, user_id, roles, created, last_seen, deadline, user_agent, address)
SELECT encode(sha256(g::text::bytea), 'hex'), 'u' || g % 5000, '{editor}', t + (g / 40) * interval '1 second',
	t + (g / 20) * interval '1 second', t + (g / 20) * interval '1 second' + interval '15 minutes',
	'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36', '192.0.2.' || g % 250
FROM generate_series(1, ` + strconv.Itoa(n) + `) AS g, (VALUES (timestamptz '2026-01-01 00:00:00Z')) AS v(t)`,
		"VACUUM ANALYZE " + table} {
		if _, err := pool.Exec(b.Context(), st); err != nil {
			b.Fatal(err)
		}
	}
	storetest.BenchmarkPages(b, s, n, logout.ActiveFirst, func(b *testing.B, opts logout.ListOptions) {
		// The pages of the buffer cache the page reads: unlike the
		// time, this does not vary with the machine's load.
		query, args := pgstore.ListQuery(s, opts)
		var plan []struct {
			Plan struct {
				Hit  float64 `json:"Shared Hit Blocks"`
				Read float64 `json:"Shared Read Blocks"`
			}
		}
		if err := pool.QueryRow(b.Context(), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+query, args...).Scan(&plan); err != nil || len(plan) != 1 {
			b.Fatalf("EXPLAIN: %v", err)
		}
		b.ReportMetric(plan[0].Plan.Hit+plan[0].Plan.Read, "blocks/page")
	})
}
