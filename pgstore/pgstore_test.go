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
	"github.com/gologout/logout/pgstore/internal/pgtest"
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
// among 100 000 sessions finds each session by the primary key (no scan
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
			if !strings.Contains(plan, "Index Scan using sessions_pkey") || strings.Contains(plan, "Seq Scan") {
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

// TestListSessionsUsesIndex checks that a page of sessions, after a
// cursor or not, of everyone or of one user, is an index range read in
// index order (no sort, no scan of the table), and that a count reads an
// index, for the values given and for a generic plan.
func TestListSessionsUsesIndex(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	s := newStore(t, pool, schema)
	table := pgx.Identifier{schema}.Sanitize() + ".sessions"
	// 20000 sessions created in 10 s (many share a microsecond): the
	// even ones of u0, the others 20 each of u1, u3, ... u999.
	conn := planConn(t, pool, `INSERT INTO `+table+` (id, user_id, created, last_seen, deadline)
SELECT 's' || g, 'u' || CASE WHEN g % 2 = 0 THEN 0 ELSE g % 1000 END, t + (g % 10) * interval '1 second', t, t
FROM generate_series(1, 20000) AS g, (VALUES (timestamptz '2026-01-01 00:00:00Z')) AS v(t)`, "VACUUM ANALYZE "+table)
	q := pgstore.ListQueries(s)
	for _, tt := range []struct {
		name, query, args, index string
	}{
		{"first page of all", q["listAll"], "(50)", "sessions_created_idx"},
		{"later page of all", q["listAllAfter"], "('2026-01-01 00:00:05Z', 's5000', 50)", "sessions_created_idx"},
		{"first page of a user", q["listUser"], "('u0', 50)", "sessions_user_created_idx"},
		{"later page of a user", q["listUserAfter"], "('u0', '2026-01-01 00:00:05Z', 's5000', 50)", "sessions_user_created_idx"},
		{"count of a user", q["countUser"], "('u7')", "sessions_user_created_idx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "_")
			if _, err := conn.Exec(t.Context(), "PREPARE "+name+" AS "+tt.query); err != nil {
				t.Fatal(err)
			}
			for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
				if _, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
					t.Fatal(err)
				}
				rows, _ := conn.Query(t.Context(), "EXPLAIN EXECUTE "+name+tt.args)
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				plan := strings.Join(lines, "\n")
				if !strings.Contains(plan, "using "+tt.index) || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
					t.Fatalf("%s: plan does not read %s in order:\n%s", mode, tt.index, plan)
				}
				// The cursor must bound the index range, not filter rows.
				if strings.Contains(tt.query, "(created, id) >") && !strings.Contains(plan, "ROW(created, id) > ROW(") {
					t.Fatalf("%s: the cursor is not an index condition:\n%s", mode, plan)
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
	for user, want := range map[string]int{"u0": 10000, "u7": 20, "u2": 0, "": 20000} {
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: user}); err != nil || n != want {
			t.Fatalf("CountSessions(%q) = %d, %v; want %d", user, n, err, want)
		}
	}
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
	if want := []string{"sessions_created_idx", "sessions_deadline_idx", "sessions_pkey", "sessions_user_created_idx"}; !slices.Equal(indexes, want) {
		t.Fatalf("indexes %v, want %v", indexes, want)
	}
	page, err := s.ListSessions(t.Context(), logout.ListOptions{UserID: "alice", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != "b" || page[1].ID != "c" || page[0].UserName != "" {
		t.Fatalf("first page after the upgrade: %v, want b and c, with no user name", page)
	}
	if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: "alice"}); err != nil || n != 3 {
		t.Fatalf("CountSessions(alice) after the upgrade = %d, %v; want 3", n, err)
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
			name := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' {
					return r
				}
				return '_'
			}, tt.name)
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
					lits[i] = "'" + v + "'"
				default:
					lits[i] = fmt.Sprint(v)
				}
			}
			for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
				if _, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode); err != nil {
					t.Fatal(err)
				}
				rows, _ := conn.Query(t.Context(), "EXPLAIN EXECUTE "+name+"("+strings.Join(lits, ", ")+")")
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				plan := strings.Join(lines, "\n")
				reads := slices.ContainsFunc(tt.indexes, func(ix string) bool {
					return strings.Contains(plan, "using "+ix) || strings.Contains(plan, "on "+ix)
				})
				if !reads || strings.Contains(plan, "Seq Scan") || (!tt.sorted && strings.Contains(plan, "Sort")) {
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
