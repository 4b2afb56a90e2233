package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
)

func TestNewRefusesBadOptions(t *testing.T) {
	// New checks its options before it connects: this handle never does.
	cfg := mysql.NewConfig()
	cfg.Addr = "127.0.0.1:1"
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	tests := []struct {
		name string
		db   *sql.DB
		opts mysqlstore.Options
		want string
	}{
		{"nil handle", nil, mysqlstore.Options{}, "needs a database handle"},
		{"prefix too long", db, mysqlstore.Options{Prefix: strings.Repeat("p", 42)}, "Prefix"},
		{"prefix with a quote", db, mysqlstore.Options{Prefix: "wp`_"}, "Prefix"},
		{"prefix with a dot", db, mysqlstore.Options{Prefix: "other.wp_"}, "Prefix"},
		{"negative poll interval", db, mysqlstore.Options{PollInterval: -time.Second}, "PollInterval"},
		{"negative poll timeout", db, mysqlstore.Options{PollTimeout: -time.Second}, "PollTimeout"},
		{"negative prune batch", db, mysqlstore.Options{PruneBatch: -1}, "PruneBatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mysqlstore.New(t.Context(), tt.db, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "mysqlstore: ") {
				t.Fatalf("New = %v, %v; want an error about %s", s, err, tt.want)
			}
		})
	}
	if _, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: strings.Repeat("p", 41)}); err == nil || strings.Contains(err.Error(), "Prefix") {
		t.Fatalf("New with a prefix of 41 bytes = %v, want only a connection error", err)
	}
}

// schemaVersion returns the version and row count of the version table.
func schemaVersion(t *testing.T, db *sql.DB, prefix string) (version, rows int) {
	t.Helper()
	err := db.QueryRowContext(t.Context(), "SELECT MAX(version), COUNT(*) FROM `"+prefix+"logout_schema_version`").Scan(&version, &rows)
	if err != nil {
		t.Fatal(err)
	}
	return version, rows
}

// tablesOf returns the tables whose names start with prefix, with their
// engine and collation.
func tablesOf(t *testing.T, db *sql.DB, prefix string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND BINARY LEFT(TABLE_NAME, CHAR_LENGTH(?)) = ?`, prefix, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, engine, collation string
		if err := rows.Scan(&name, &engine, &collation); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s", strings.TrimPrefix(name, prefix), engine, collation))
	}
	slices.Sort(out)
	return out
}

var allTables = []string{
	"logout_change_seq InnoDB utf8mb4_bin",
	"logout_changes InnoDB utf8mb4_bin",
	"logout_events InnoDB utf8mb4_bin",
	"logout_schema_version InnoDB utf8mb4_bin",
	"logout_session_tags InnoDB utf8mb4_bin",
	"logout_sessions InnoDB utf8mb4_bin",
	"logout_settings InnoDB utf8mb4_bin",
	"logout_settings_history InnoDB utf8mb4_bin",
}

func TestMigrate(t *testing.T) {
	db := mysqltest.MySQL(t)

	t.Run("concurrent starts on a fresh prefix all succeed", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		const starts = 4
		done := make(chan error, starts)
		for range starts {
			go func() {
				_, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: prefix})
				done <- err
			}()
		}
		var errs []error
		for range starts {
			errs = append(errs, <-done)
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("New: %v", err)
		}
		if v, n := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion || n != 1 {
			t.Fatalf("the version table holds version %d in %d rows, want %d in 1", v, n, mysqlstore.SchemaVersion)
		}
		if got := tablesOf(t, db, prefix); !slices.Equal(got, allTables) {
			t.Fatalf("tables %q, want %q", got, allTables)
		}
	})

	t.Run("tables of different prefixes are apart", func(t *testing.T) {
		a, b := newStore(t, db, mysqltest.Prefix(t, db)), newStore(t, db, mysqltest.Prefix(t, db))
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := a.CreateSession(t.Context(), logout.Session{ID: "x", UserID: "u", Created: now, LastSeen: now, Deadline: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Session(t.Context(), "x"); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("another prefix's Session = %v, want ErrNotFound", err)
		}
	})

	t.Run("a restart keeps the data", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		create(t, newStore(t, db, prefix), "a", "b")
		end(t, newStore(t, db, prefix), logout.Selector{IDs: []string{"b"}})
		s := newStore(t, db, prefix)
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: "u"}); n != 1 || err != nil {
			t.Fatalf("after restarts CountSessions = %d, %v; want 1", n, err)
		}
		if e, err := s.Event(t.Context(), "b"); err != nil || e.Reason != logout.ReasonForced {
			t.Fatalf("after restarts Event(b) = %+v, %v; want forced", e, err)
		}
	})

	t.Run("a step cut short is finished by the next start", func(t *testing.T) {
		// MySQL commits each DDL statement: a start that died within
		// step 1 left some tables and version 0.
		prefix := mysqltest.Prefix(t, db)
		for _, st := range append([]string{
			"CREATE TABLE `" + prefix + "logout_schema_version` (id TINYINT NOT NULL, version INT NOT NULL, PRIMARY KEY (id))",
			"INSERT INTO `" + prefix + "logout_schema_version` VALUES (1, 0)",
		}, mysqlstore.Migration(0, prefix)[:2]...) {
			if _, err := db.ExecContext(t.Context(), st); err != nil {
				t.Fatal(err)
			}
		}
		s := newStore(t, db, prefix)
		if v, _ := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion {
			t.Fatalf("version %d after the start, want %d", v, mysqlstore.SchemaVersion)
		}
		if _, err := s.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
	})

	// version1 makes the tables of version 1 under prefix, as a start of
	// the code before version 2 left them, with one session of alice's.
	version1 := func(t *testing.T, prefix string) {
		t.Helper()
		for _, st := range append(append([]string{
			"CREATE TABLE `" + prefix + "logout_schema_version` (id TINYINT NOT NULL, version INT NOT NULL, PRIMARY KEY (id))",
			"INSERT INTO `" + prefix + "logout_schema_version` VALUES (1, 1)",
		}, mysqlstore.Migration(0, prefix)...),
			"INSERT INTO `"+prefix+"logout_sessions` (id, user_id, roles, created, last_seen, deadline) VALUES ('a', 'alice', '[\"admin\"]', 0, 0, 900000000)",
		) {
			if _, err := db.ExecContext(t.Context(), st); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("version 1 tables get the user names, their sessions none", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		version1(t, prefix)
		s := newStore(t, db, prefix)
		if v, _ := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion {
			t.Fatalf("version %d after the start, want %d", v, mysqlstore.SchemaVersion)
		}
		// The code before version 2, still running beside the new one,
		// creates sessions without a name.
		if _, err := db.ExecContext(t.Context(), "INSERT INTO `"+prefix+"logout_sessions` (id, user_id, roles, created, last_seen, deadline) VALUES ('c', 'carol', '[]', 2, 2, 900000002)"); err != nil {
			t.Fatalf("a session created as version 1 did, after the upgrade: %v", err)
		}
		base := time.Unix(0, 0).UTC()
		b := logout.Session{ID: "b", UserID: "7", UserName: "bob", Created: base.Add(time.Microsecond), Deadline: base.Add(900 * time.Second)}
		b.LastSeen = b.Created
		if err := s.CreateSession(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		got, err := s.Session(t.Context(), "a")
		if err != nil || got.UserID != "alice" || got.UserName != "" || len(got.Roles) != 1 {
			t.Fatalf("Session(a) after the upgrade = %+v, %v; want alice's, with no name", got, err)
		}
		list, lerr := s.ListSessions(t.Context(), logout.ListOptions{Limit: 10})
		expired, eerr := s.ExpiredSessions(t.Context(), base.Add(time.Hour), 10)
		for _, ss := range [][]logout.Session{list, expired} {
			var names []string
			for _, x := range ss {
				names = append(names, x.ID+"="+x.UserName)
			}
			if want := []string{"a=", "b=bob", "c="}; !slices.Equal(names, want) || lerr != nil || eerr != nil {
				t.Fatalf("ListSessions and ExpiredSessions after the upgrade: got %q (%v, %v), want %q", names, lerr, eerr, want)
			}
		}
	})

	t.Run("an added column cut short of its version is finished by the next start", func(t *testing.T) {
		// The ALTER TABLE committed, the new version was not recorded.
		prefix := mysqltest.Prefix(t, db)
		version1(t, prefix)
		for _, st := range mysqlstore.Migration(1, prefix) {
			if _, err := db.ExecContext(t.Context(), st); err != nil {
				t.Fatal(err)
			}
		}
		s := newStore(t, db, prefix)
		if v, _ := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion {
			t.Fatalf("version %d after the start, want %d", v, mysqlstore.SchemaVersion)
		}
		if got, err := s.Session(t.Context(), "a"); err != nil || got.UserName != "" {
			t.Fatalf("Session(a) = %+v, %v; want alice's, with no name", got, err)
		}
	})

	t.Run("version 2 tables get devices, addresses and tags, their sessions none", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		version1(t, prefix)
		for _, st := range append(mysqlstore.Migration(1, prefix), "UPDATE `"+prefix+"logout_schema_version` SET version = 2") {
			if _, err := db.ExecContext(t.Context(), st); err != nil {
				t.Fatal(err)
			}
		}
		s := newStore(t, db, prefix)
		if v, _ := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion || v != 3 {
			t.Fatalf("version %d after the start, want %d (3)", v, mysqlstore.SchemaVersion)
		}
		got, err := s.Session(t.Context(), "a")
		if err != nil || got.UserID != "alice" || got.UserAgent != "" || got.Address != "" || got.Tags != nil || len(got.Roles) != 1 {
			t.Fatalf("Session(a) after the upgrade = %+v, %v; want alice's, with no device, address or tags", got, err)
		}
		// The code of version 2, still running beside the new one,
		// creates sessions without them.
		if _, err := db.ExecContext(t.Context(), "INSERT INTO `"+prefix+"logout_sessions` (id, user_id, user_name, roles, created, last_seen, deadline) VALUES ('c', 'carol', '', '[]', 2, 2, 900000002)"); err != nil {
			t.Fatalf("a session created as version 2 did, after the upgrade: %v", err)
		}
		base := time.Unix(0, 0).UTC()
		b := logout.Session{ID: "b", UserID: "bob", Created: base.Add(time.Microsecond), LastSeen: base.Add(5 * time.Microsecond),
			Deadline: base.Add(900 * time.Second), UserAgent: "curl/8", Address: "192.0.2.1", Tags: []string{"sso"}}
		if err := s.CreateSession(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListSessions(t.Context(), logout.ListOptions{Order: logout.ActiveFirst, Limit: 10})
		if ids := sessionIDs(list); err != nil || !slices.Equal(ids, []string{"b", "c", "a"}) || list[0].Address != "192.0.2.1" || list[1].Tags != nil {
			t.Fatalf("ActiveFirst after the upgrade = %+v, %v; want b, c, a", list, err)
		}
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{Address: "192.0.2.1"}); err != nil || n != 1 {
			t.Fatalf("CountSessions(address) = %d, %v; want 1", n, err)
		}
		if evs, err := s.EndSessions(t.Context(), logout.Selector{Tag: "sso"}, logout.ReasonForced, base); err != nil || len(evs) != 1 || evs[0].SessionID != "b" {
			t.Fatalf("EndSessions(Tag sso) = %+v, %v; want the end of b", evs, err)
		}
		var left int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM `"+prefix+"logout_session_tags`").Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d tag rows left after the end, %v; want none", left, err)
		}
	})

	t.Run("tables of a newer version are refused", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		newStore(t, db, prefix)
		if _, err := db.ExecContext(t.Context(), "UPDATE `"+prefix+"logout_schema_version` SET version = version + 1"); err != nil {
			t.Fatal(err)
		}
		s, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: prefix})
		newer := fmt.Sprintf("version %d", mysqlstore.SchemaVersion+1)
		if !errors.Is(err, mysqlstore.ErrNewerSchema) || !strings.Contains(err.Error(), newer) {
			t.Fatalf("New on newer tables = %v, %v; want ErrNewerSchema naming %s", s, err, newer)
		}
		if v, _ := schemaVersion(t, db, prefix); v != mysqlstore.SchemaVersion+1 {
			t.Fatalf("the refused start changed the version to %d", v)
		}
	})

	t.Run("later starts need no CREATE privilege", func(t *testing.T) {
		prefix := mysqltest.Prefix(t, db)
		newStore(t, db, prefix)
		user := strings.TrimSuffix(prefix, "_")
		if _, err := db.ExecContext(t.Context(), "CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw'"); err != nil {
			t.Fatalf("CREATE USER (the test needs a user that may create users): %v", err)
		}
		t.Cleanup(func() { db.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'") })
		var database string
		if err := db.QueryRowContext(t.Context(), "SELECT DATABASE()").Scan(&database); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), "GRANT SELECT, INSERT, UPDATE, DELETE ON `"+database+"`.* TO '"+user+"'@'%'"); err != nil {
			t.Fatal(err)
		}
		cfg := mysqltest.Config(t).Clone()
		cfg.User, cfg.Passwd = user, "pw"
		s := newStore(t, mysqltest.Open(t, cfg), prefix)
		if _, err := s.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIDsAreBinary checks that IDs compare byte by byte, as in Go: not
// by the collation of a database (where "a" = "A", or, with PAD SPACE,
// "a" = "a "), in uniqueness, lookups and order.
func TestIDsAreBinary(t *testing.T) {
	db := mysqltest.MySQL(t)
	s := newStore(t, db, mysqltest.Prefix(t, db))
	create(t, s, "a", "_x", "B", "b", "A", "a ", "é", "e") // one microsecond, one deadline
	want := []string{"A", "B", "_x", "a", "a ", "b", "e", "é"}
	list, lerr := s.ListSessions(t.Context(), logout.ListOptions{UserID: "u", Limit: 10})
	expired, eerr := s.ExpiredSessions(t.Context(), time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), 10)
	if ids, eids := sessionIDs(list), sessionIDs(expired); !slices.Equal(ids, want) || !slices.Equal(eids, want) || lerr != nil || eerr != nil {
		t.Fatalf("ListSessions = %q, %v; ExpiredSessions = %q, %v; want %q", ids, lerr, eids, eerr, want)
	}
	if evs := end(t, s, logout.Selector{IDs: []string{"a"}}); len(evs) != 1 || evs[0].SessionID != "a" {
		t.Fatalf("EndSessions(a) = %v; want the end of a alone", evs)
	}
	for _, id := range []string{"A", "a "} {
		if _, err := s.Session(t.Context(), id); err != nil {
			t.Errorf("Session(%q) after the end of a: %v", id, err)
		}
	}
	if _, err := s.Event(t.Context(), "A"); !errors.Is(err, logout.ErrNotFound) {
		t.Errorf("Event(A) = %v, want ErrNotFound", err)
	}
}

// TestLongIDsAreRefused checks that IDs and names that do not fit their
// columns are refused, and that those that just fit are kept whole.
func TestLongIDsAreRefused(t *testing.T) {
	db := mysqltest.MySQL(t)
	s := newStore(t, db, mysqltest.Prefix(t, db))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, x := range []logout.Session{
		{ID: strings.Repeat("i", 256), UserID: "u"},
		{ID: "i", UserID: strings.Repeat("u", 256)},
	} {
		x.Created, x.LastSeen, x.Deadline = base, base, base
		if err := s.CreateSession(t.Context(), x); err == nil || !strings.Contains(err.Error(), "255 bytes") {
			t.Errorf("CreateSession of %d and %d bytes = %v, want an error", len(x.ID), len(x.UserID), err)
		}
	}
	long := logout.Session{ID: "n", UserID: "u", UserName: strings.Repeat("n", 1<<16), Created: base, LastSeen: base, Deadline: base}
	if err := s.CreateSession(t.Context(), long); err == nil || !strings.Contains(err.Error(), "65535 bytes") {
		t.Errorf("CreateSession with a name of %d bytes = %v, want an error", len(long.UserName), err)
	}
	x := logout.Session{ID: strings.Repeat("i", 255), UserID: strings.Repeat("u", 255), UserName: strings.Repeat("é", 1<<15-1) + "n",
		Created: base, LastSeen: base, Deadline: base}
	if err := s.CreateSession(t.Context(), x); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Session(t.Context(), x.ID); err != nil || got.UserName != x.UserName {
		t.Fatalf("Session of a name of %d bytes: got %d bytes (%v), want all", len(x.UserName), len(got.UserName), err)
	}
	if n, err := s.SetDeadlines(t.Context(), []logout.DeadlineUpdate{{ID: strings.Repeat("i", 256), Seen: base, Deadline: base}}); err != nil || n != 0 {
		t.Fatalf("SetDeadlines of a long ID = %d, %v; want 0", n, err)
	}
	if evs, err := s.EndSessions(t.Context(), logout.Selector{UserID: x.UserID}, logout.ReasonForced, base); err != nil || len(evs) != 1 {
		t.Fatalf("EndSessions = %v, %v; want one event", evs, err)
	}
}

// TestDeleteEventsInBatches prunes 30 events, one a second, in
// statements of 7: a count that is a multiple of the batch and one that
// is not.
func TestDeleteEventsInBatches(t *testing.T) {
	db := mysqltest.MySQL(t)
	for _, before := range []int{21, 25, 30} {
		t.Run(fmt.Sprintf("before %d s", before), func(t *testing.T) {
			prefix := mysqltest.Prefix(t, db)
			s, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: prefix, PruneBatch: 7})
			if err != nil {
				t.Fatal(err)
			}
			fill(t, db, prefix, []string{`INSERT INTO {p}logout_events (session_id, user_id, reason, at)
SELECT CONCAT('s', n), 'u', 'idle', 1000000 * (n - 1) FROM {numbers} WHERE n <= 30`})
			n, err := s.DeleteEvents(t.Context(), time.UnixMicro(int64(before)*1000000))
			left, lerr := s.Events(t.Context(), logout.EventQuery{Limit: 100})
			if err != nil || lerr != nil || n != before || len(left) != 30-before {
				t.Fatalf("DeleteEvents = %d, %v, leaving %d (%v); want %d, leaving %d", n, err, len(left), lerr, before, 30-before)
			}
		})
	}
}

var intWidth = regexp.MustCompile(`INT\(\d+\)`)

// TestREADMESchema checks that README.md shows every table, column and
// index of new tables, as they are created.
func TestREADMESchema(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	newStore(t, db, prefix)
	rows, err := db.QueryContext(t.Context(), `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = DATABASE() AND BINARY LEFT(c.TABLE_NAME, CHAR_LENGTH(?)) = ?`, prefix, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var table, column, typ, nullable string
		if err := rows.Scan(&table, &column, &typ, &nullable); err != nil {
			t.Fatal(err)
		}
		want = append(want, "CREATE TABLE "+strings.TrimPrefix(table, prefix)+" (")
		null := " NOT NULL"
		if nullable == "YES" {
			null = " NULL"
		}
		// MariaDB and MySQL before 8.0.19 show integers with a display
		// width, BIGINT(20), that the README leaves out.
		typ = intWidth.ReplaceAllString(strings.ToUpper(typ), "INT")
		want = append(want, column+" "+typ+null)
	}
	rows.Close()
	rows, err = db.QueryContext(t.Context(), `SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', ')
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND BINARY LEFT(TABLE_NAME, CHAR_LENGTH(?)) = ?
GROUP BY TABLE_NAME, INDEX_NAME`, prefix, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var index, columns string
		if err := rows.Scan(&index, &columns); err != nil {
			t.Fatal(err)
		}
		if index == "PRIMARY" {
			want = append(want, "PRIMARY KEY ("+columns+")")
		} else {
			want = append(want, "KEY "+index+" ("+columns+")")
		}
	}
	rows.Close()
	if len(want) < 30 {
		t.Fatalf("found only %q in the schema", want)
	}
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, w := range want {
		if !strings.Contains(squeeze(string(readme)), squeeze(w)) {
			t.Errorf("README.md lacks %q", w)
		}
	}
}
