package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/sqlitestore"
	"github.com/gologout/logout/storetest"
)

func TestStore(t *testing.T) {
	var path string
	storetest.Run(t, func(t *testing.T) logout.Store {
		path = filepath.Join(t.TempDir(), "logout.db")
		return open(t, path)
	}, func(t *testing.T) logout.Store {
		return open(t, path) // another process on the same file
	})
}

// open opens a store at path and closes it when the test ends.
func open(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.New(t.Context(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rawDB opens path with the driver alone, to look under the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var base = time.Date(2026, 11, 25, 9, 30, 0, 123456000, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	ctx := t.Context()
	s, err := sqlitestore.New(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := logout.Session{ID: "kept", UserID: "alice", Roles: []string{"admin", "a,b"},
		Created: at(0), LastSeen: at(5), Deadline: at(905)}
	for _, x := range []logout.Session{kept, {ID: "ended", UserID: "bob", Created: at(1), LastSeen: at(1), Deadline: at(901)}} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EndSessions(ctx, logout.Selector{IDs: []string{"ended"}}, logout.ReasonManual, at(7)); err != nil {
		t.Fatal(err)
	}
	settings := logout.DefaultSettings()
	settings.RoleLifetimes = map[string]time.Duration{"admin": 120 * time.Second}
	if settings, err = s.SaveSettings(ctx, settings); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	got, err := s.Session(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != kept.ID || got.UserID != kept.UserID || !slices.Equal(got.Roles, kept.Roles) ||
		!got.Created.Equal(kept.Created) || !got.LastSeen.Equal(kept.LastSeen) || !got.Deadline.Equal(kept.Deadline) {
		t.Errorf("after reopening, Session(kept) = %+v, want %+v", got, kept)
	}
	if loc := got.Created.Location(); loc != time.UTC {
		t.Errorf("Created in %v, want UTC", loc)
	}
	if _, err := s.Session(ctx, "ended"); !errors.Is(err, logout.ErrNotFound) {
		t.Errorf("after reopening, Session(ended) = %v, want ErrNotFound", err)
	}
	e, err := s.Event(ctx, "ended")
	if err != nil {
		t.Fatal(err)
	}
	if want := (logout.Event{SessionID: "ended", UserID: "bob", Reason: logout.ReasonManual, At: at(7)}); e != want {
		t.Errorf("after reopening, Event(ended) = %+v, want %+v", e, want)
	}
	gotSettings, err := s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !gotSettings.Equal(settings) || gotSettings.Version != 1 {
		t.Errorf("after reopening, Settings = %+v, want %+v", gotSettings, settings)
	}
}

func TestSchemaVersion(t *testing.T) {
	version := func(t *testing.T, path string) int {
		t.Helper()
		var v int
		if err := rawDB(t, path).QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("a new file gets the current version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		open(t, path)
		if got, want := version(t, path), sqlitestore.SchemaVersion; got != want {
			t.Fatalf("schema version %d, want %d", got, want)
		}
	})
	t.Run("reopening keeps the version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		for range 2 {
			s, err := sqlitestore.New(t.Context(), path, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := version(t, path), sqlitestore.SchemaVersion; got != want {
			t.Fatalf("schema version %d, want %d", got, want)
		}
	})
	t.Run("a version 1 file is upgraded and keeps its sessions", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		db := rawDB(t, path)
		if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);` + sqlitestore.Migration(0)); err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"c", "a", "b"} {
			if _, err := db.Exec(`INSERT INTO sessions (id, user_id, created, last_seen, deadline) VALUES (?, 'alice', ?, ?, ?)`,
				id, at(i%2).UnixMicro(), at(i%2).UnixMicro(), at(900).UnixMicro()); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		s := open(t, path)
		if got, want := version(t, path), sqlitestore.SchemaVersion; got != want {
			t.Fatalf("schema version %d after the upgrade, want %d", got, want)
		}
		var n int
		if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'sessions_created'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("index sessions_created: %d, %v; want it made", n, err)
		}
		page, err := s.ListSessions(t.Context(), logout.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 || page[0].ID != "b" || page[1].ID != "c" {
			t.Fatalf("first page after the upgrade: %v, want b and c", page)
		}
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: "alice"}); err != nil || n != 3 {
			t.Fatalf("CountSessions(alice) after the upgrade = %d, %v; want 3", n, err)
		}
	})
	t.Run("a version 2 file gets the settings history and keeps its log", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		db := rawDB(t, path)
		if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (2);` + sqlitestore.Migration(0) + sqlitestore.Migration(1) + `
INSERT INTO settings (id, version, data) VALUES (1, 4, '{"version":4,"lifetime":600,"show_counter":true,"warning_lead":60}');
INSERT INTO events (session_id, user_id, reason, at) VALUES ('a', 'alice', 'idle', 10), ('b', 'bob', 'forced', 20);`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s := open(t, path)
		hs, err := s.SettingsHistory(t.Context(), logout.HistoryQuery{Limit: 10})
		if err != nil || len(hs) != 1 || hs[0].Version != 4 || hs[0].Lifetime != 600*time.Second || !hs[0].ChangedAt.IsZero() {
			t.Fatalf("history after the upgrade = %+v, %v; want version 4 of unknown time", hs, err)
		}
		set, err := s.Settings(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		set.ChangedBy, set.ChangedAt = "alice", at(30)
		if _, err := s.SaveSettings(t.Context(), set); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(t.Context(), logout.EventQuery{UserID: "bob", Limit: 10})
		if err != nil || len(evs) != 1 || evs[0].SessionID != "b" {
			t.Fatalf("bob's events after the upgrade = %+v, %v", evs, err)
		}
	})
	t.Run("a version 3 file gets the user names, its sessions none", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		db := rawDB(t, path)
		if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (3);` + sqlitestore.Migration(0) + sqlitestore.Migration(1) + sqlitestore.Migration(2) + `
INSERT INTO sessions (id, user_id, roles, created, last_seen, deadline) VALUES ('a', 'alice', '["admin"]', 10, 10, 900000010);`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s := open(t, path)
		got, err := s.Session(t.Context(), "a")
		if err != nil || got.UserID != "alice" || got.UserName != "" || len(got.Roles) != 1 {
			t.Fatalf("session after the upgrade = %+v, %v; want alice's, with no name", got, err)
		}
		b := logout.Session{ID: "b", UserID: "7", UserName: "bob", Created: at(0), LastSeen: at(0), Deadline: at(900)}
		if err := s.CreateSession(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Session(t.Context(), "b"); err != nil || got.UserName != "bob" {
			t.Fatalf("a new session after the upgrade = %+v, %v; want it named bob", got, err)
		}
	})
	t.Run("a version 4 file gets devices, addresses and tags, its sessions none", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		db := rawDB(t, path)
		if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (4);` + sqlitestore.Migration(0) + sqlitestore.Migration(1) + sqlitestore.Migration(2) + sqlitestore.Migration(3) + `
INSERT INTO sessions (id, user_id, user_name, roles, created, last_seen, deadline) VALUES
	('a', 'alice', 'Alice', '["admin"]', 10, 30, 900000030),
	('b', 'bob', '', '[]', 20, 20, 900000020);
INSERT INTO settings (id, version, data) VALUES (1, 1, '{"version":1,"lifetime":600,"show_counter":true,"warning_lead":60}');`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s := open(t, path)
		if got, want := version(t, path), sqlitestore.SchemaVersion; got != want || want != 5 {
			t.Fatalf("schema version %d after the upgrade, want %d (5)", got, want)
		}
		got, err := s.Session(t.Context(), "a")
		if err != nil || got.UserName != "Alice" || got.UserAgent != "" || got.Address != "" || got.Tags != nil || len(got.Roles) != 1 {
			t.Fatalf("Session(a) after the upgrade = %+v, %v; want alice's, with no device, address or tags", got, err)
		}
		page, err := s.ListSessions(t.Context(), logout.ListOptions{Order: logout.ActiveFirst, Limit: 10})
		if err != nil || len(page) != 2 || page[0].ID != "a" || page[1].ID != "b" {
			t.Fatalf("ActiveFirst after the upgrade = %+v, %v; want a then b", page, err)
		}
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{Address: "192.0.2.1"}); err != nil || n != 0 {
			t.Fatalf("CountSessions(address) after the upgrade = %d, %v; want 0", n, err)
		}
		c := logout.Session{ID: "c", UserID: "carol", Created: at(0), LastSeen: at(0), Deadline: at(900),
			UserAgent: "curl/8", Address: "192.0.2.1", Tags: []string{"sso"}}
		if err := s.CreateSession(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{Address: "192.0.2.1"}); err != nil || n != 1 {
			t.Fatalf("CountSessions(address) = %d, %v; want 1", n, err)
		}
		if evs, err := s.EndSessions(t.Context(), logout.Selector{Tag: "sso"}, logout.ReasonForced, at(1)); err != nil || len(evs) != 1 || evs[0].SessionID != "c" {
			t.Fatalf("EndSessions(Tag sso) = %+v, %v; want the end of c", evs, err)
		}
		set, err := s.Settings(t.Context())
		if err != nil || set.Version != 1 {
			t.Fatalf("Settings after the upgrade = %+v, %v", set, err)
		}
	})
	t.Run("a newer file is refused and left alone", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		s := open(t, path)
		if err := s.CreateSession(t.Context(), logout.Session{ID: "a", UserID: "alice", Created: at(0), LastSeen: at(0), Deadline: at(900)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		newer := sqlitestore.SchemaVersion + 1
		if _, err := rawDB(t, path).Exec(`UPDATE schema_version SET version = ?`, newer); err != nil {
			t.Fatal(err)
		}
		_, err := sqlitestore.New(t.Context(), path, sqlitestore.Options{})
		if !errors.Is(err, sqlitestore.ErrSchemaTooNew) {
			t.Fatalf("New on a newer file = %v, want ErrSchemaTooNew", err)
		}
		t.Log(err)
		want := fmt.Sprintf("schema version %d, this program supports up to %d", newer, sqlitestore.SchemaVersion)
		if msg := err.Error(); !strings.HasPrefix(msg, "sqlitestore: open ") || !strings.Contains(msg, want) {
			t.Fatalf("error %q, want it to start with %q and say %q", msg, "sqlitestore: open ", want)
		}
		if got := version(t, path); got != newer {
			t.Fatalf("schema version %d after a refused open, want %d", got, newer)
		}
	})
	t.Run("a file that is not a database is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logout.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlitestore.New(t.Context(), path, sqlitestore.Options{}); err == nil || !strings.HasPrefix(err.Error(), "sqlitestore: open") {
			t.Fatalf("New on a text file = %v, want a sqlitestore: open error", err)
		} else {
			t.Log(err)
		}
	})
}

func TestNewPaths(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, path string
		ok         bool
	}{
		{"empty", "", false},
		{"memory", ":memory:", false},
		{"URI", "file:" + filepath.Join(dir, "x.db"), false},
		{"missing directory", filepath.Join(dir, "missing", "x.db"), false},
		{"URI characters in the name", filepath.Join(dir, "odd?name#%20&_pragma=x.db"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlitestore.New(t.Context(), tt.path, sqlitestore.Options{})
			if !tt.ok {
				if err == nil {
					s.Close()
					t.Fatalf("New(%q) = nil error, want one", tt.path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.path); err != nil {
				t.Fatalf("New(%q) made no such file: %v", tt.path, err)
			}
		})
	}
}

// TestQueryPlans checks that the queries on the request path and the
// sweeper's are served by an index: no scan of the table, no sort.
func TestQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	open(t, path)
	db := rawDB(t, path)
	endUser, userArgs, _, _ := sqlitestore.EndQueries(logout.Selector{UserID: "alice", Except: "a", SeenBy: at(0)})
	endIDs, idArgs, deleteIDs, deleteArgs := sqlitestore.EndQueries(logout.Selector{IDs: []string{"a", "b"}, SeenBy: at(0)})
	userEvents, userEventArgs := sqlitestore.EventsQuery(logout.EventQuery{UserID: "alice", Since: at(0), Until: at(10), Limit: 10})
	rangeEvents, rangeEventArgs := sqlitestore.EventsQuery(logout.EventQuery{Since: at(0), Until: at(10), Reason: logout.ReasonIdle, Limit: 10})
	endTag, tagArgs, _, _ := sqlitestore.EndQueries(logout.Selector{Tag: "oidc:sid:1", Except: "a"})
	after := logout.Cursor{Created: at(0), LastSeen: at(1), Deadline: at(2), ID: "a"}
	type plan struct {
		name  string
		query string
		args  []any
		want  string // in the plan
		sorts bool   // may sort: the rows of a user or an address, being few
	}
	var lists []plan
	for _, o := range []struct {
		order logout.SessionOrder
		index string
	}{
		{logout.OldestFirst, "sessions_created"},
		{logout.NewestFirst, "sessions_created"},
		{logout.ActiveFirst, "sessions_seen"},
		{logout.EndingFirst, "sessions_deadline"},
	} {
		first, firstArgs := sqlitestore.ListQuery(logout.ListOptions{Order: o.order, Limit: 10})
		later, laterArgs := sqlitestore.ListQuery(logout.ListOptions{Order: o.order, After: after, Limit: 10})
		user, userArgs := sqlitestore.ListQuery(logout.ListOptions{UserID: "alice", Order: o.order, After: after, Limit: 10})
		addr, addrArgs := sqlitestore.ListQuery(logout.ListOptions{Address: "192.0.2.1", Order: o.order, After: after, Limit: 10})
		col := map[string]string{"sessions_created": "created", "sessions_seen": "last_seen", "sessions_deadline": "deadline"}[o.index]
		cmp := map[bool]string{false: ">", true: "<"}[o.order == logout.NewestFirst || o.order == logout.ActiveFirst]
		byCreation := o.order == logout.OldestFirst || o.order == logout.NewestFirst
		userWant := "INDEX sessions_user (user_id=?)"
		if byCreation {
			userWant = "INDEX sessions_user (user_id=? AND (created,id)" + cmp + "(?,?))"
		}
		lists = append(lists,
			plan{fmt.Sprintf("the first page in order %d walks %s", o.order, o.index), first, firstArgs, "INDEX " + o.index, false},
			plan{fmt.Sprintf("a later page in order %d seeks in %s", o.order, o.index), later, laterArgs,
				"INDEX " + o.index + " ((" + col + ",id)" + cmp + "(?,?))", false},
			plan{fmt.Sprintf("a later page of a user in order %d uses the user index", o.order), user, userArgs, userWant, !byCreation},
			plan{fmt.Sprintf("a later page of an address in order %d uses the address index", o.order), addr, addrArgs,
				"INDEX sessions_address (address=?)", true},
		)
	}
	for _, tt := range append(lists, []plan{
		{"expired sessions use the deadline index", sqlitestore.ExpiredQuery, []any{int64(0), 10}, "INDEX sessions_deadline (deadline<?)", false},
		{"session by ID uses the primary key", sqlitestore.SessionQuery, []any{"a"}, "(id=?)", false},
		{"touch uses the primary key", sqlitestore.TouchQuery, []any{"a", int64(0), int64(0)}, "(id=?)", false},
		{"setting a deadline uses the primary key", sqlitestore.SetDeadlineQuery, []any{"a", int64(0), int64(0)}, "(id=?)", false},
		{"counting all sessions reads an index only", sqlitestore.CountAllQuery, nil, "COVERING INDEX", false},
		{"counting a user's sessions reads the user index only", sqlitestore.CountUserQuery, []any{"alice"}, "COVERING INDEX sessions_user (user_id=?)", false},
		{"counting an address's sessions reads the address index only", sqlitestore.CountAddressQuery, []any{"192.0.2.1"}, "COVERING INDEX sessions_address (address=?)", false},
		{"counting a user's sessions at an address reads the address index only", sqlitestore.CountUserAddressQuery, []any{"192.0.2.1", "alice"},
			"COVERING INDEX sessions_address (address=? AND user_id=?)", false},
		{"ending sessions by tag looks the tag up", endTag, tagArgs, "PRIMARY KEY (tag=?)", false},
		{"deleting the tags of the sessions ended", sqlitestore.UntagQuery, []any{`["a","b"]`}, "INDEX session_tags_session (session_id=?)", false},
		{"new rows of the change log", sqlitestore.ChangesAfterQuery, []any{int64(1), 100}, "(rowid>?)", false},
		{"the last change", sqlitestore.LastChangeQuery, nil, "SEARCH changes", false},
		{"pruning the change log", sqlitestore.PruneChangesQuery, []any{int64(1)}, "(rowid<?)", false},
		{"a session's event uses the session index", sqlitestore.EventQuery, []any{"a"}, "INDEX events_session (session_id=?)", false},
		{"pruning events uses the time index", sqlitestore.DeleteEventsQuery, []any{int64(0)}, "INDEX events_at (at<?)", false},
		{"a user's events use the user's event index", userEvents, userEventArgs, "INDEX events_user (user_id=? AND at>? AND at<?)", false},
		{"events in a range use the time index", rangeEvents, rangeEventArgs, "INDEX events_at (at>? AND at<?)", false},
		{"ending a user's sessions uses the user index", endUser, userArgs, "INDEX sessions_user (user_id=?)", false},
		{"ending sessions by ID uses the primary key", endIDs, idArgs, "(id=?)", false},
		{"deleting sessions by ID uses the primary key", deleteIDs, deleteArgs, "(id=?)", false},
	}...) {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.Query("EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", got)
			if !strings.Contains(got, tt.want) {
				t.Errorf("plan of %s\n%s\nwant %q in it", tt.query, got, tt.want)
			}
			// A SCAN in index order is fine: it reads the rows it
			// returns, up to the LIMIT (or, for a count, the index); so
			// is one of json_each, the list of IDs the statement takes.
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, " USING ") && !strings.HasPrefix(line, "SCAN json_each ") || strings.Contains(line, "TEMP B-TREE") && !tt.sorts {
					t.Errorf("plan of %s\n%s\nhas %q", tt.query, got, line)
				}
			}
		})
	}
}

// TestConcurrentWriters runs many goroutines on two stores sharing one
// file, as two processes would: every call must succeed, none may see
// "database is locked".
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	stores := []*sqlitestore.Store{open(t, path), open(t, path)}
	const workers, rounds = 16, 20
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := range workers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			user := fmt.Sprintf("u%d", w)
			for r := range rounds {
				id := fmt.Sprintf("%s-%d", user, r)
				x := logout.Session{ID: id, UserID: user, Roles: []string{"r"}, Created: at(r), LastSeen: at(r), Deadline: at(r + 900)}
				if err := s.CreateSession(ctx, x); err != nil {
					errs <- err
					continue
				}
				if err := s.TouchSession(ctx, id, at(r+1), at(r+901)); err != nil {
					errs <- err
				}
				if _, err := s.Session(ctx, id); err != nil {
					errs <- err
				}
				if _, err := s.ExpiredSessions(ctx, at(r+900), 10); err != nil {
					errs <- err
				}
				var sel logout.Selector
				switch r % 4 {
				case 0:
					sel = logout.Selector{IDs: []string{id}}
				case 1:
					sel = logout.Selector{UserID: user, Except: id}
				case 2:
					continue // leave it for the final count
				case 3:
					sel = logout.Selector{IDs: []string{id, "ghost"}, SeenBy: at(r + 1)}
				}
				if _, err := s.EndSessions(ctx, sel, logout.ReasonIdle, at(r+900)); err != nil {
					errs <- err
				}
				if _, err := s.Events(ctx, logout.EventQuery{Limit: 5}); err != nil {
					errs <- err
				}
				if r%5 == 0 {
					if _, err := s.SaveSettings(ctx, logout.DefaultSettings()); err != nil && !errors.Is(err, logout.ErrConflict) {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every session created is either still there or ended exactly once.
	left, err := stores[0].CountSessions(ctx, logout.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := stores[1].Events(ctx, logout.EventQuery{Limit: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if left+len(evs) != workers*rounds {
		t.Fatalf("%d sessions left and %d ended, want %d in all", left, len(evs), workers*rounds)
	}
	ended := make(map[string]bool)
	for _, e := range evs {
		if ended[e.SessionID] {
			t.Fatalf("session %s ended twice", e.SessionID)
		}
		ended[e.SessionID] = true
	}
}

func TestContextCanceled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "logout.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Session(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Session with a canceled context = %v, want context.Canceled", err)
	}
	err := s.CreateSession(ctx, logout.Session{ID: "a", UserID: "alice", Created: at(0), LastSeen: at(0), Deadline: at(900)})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlitestore: create session: ") {
		t.Errorf("CreateSession with a canceled context = %v, want sqlitestore: create session: …context canceled", err)
	}
	if _, err := s.EndSessions(ctx, logout.Selector{All: true}, logout.ReasonForced, at(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("EndSessions with a canceled context = %v, want context.Canceled", err)
	}
	_, err = s.SetDeadlines(ctx, []logout.DeadlineUpdate{{ID: "a", Seen: at(0), Deadline: at(60)}})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlitestore: set deadlines: ") {
		t.Errorf("SetDeadlines with a canceled context = %v, want sqlitestore: set deadlines: …context canceled", err)
	}
}

func TestEndSessionsRefusesInvalidReason(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "logout.db"))
	ctx := t.Context()
	if err := s.CreateSession(ctx, logout.Session{ID: "a", UserID: "alice", Created: at(0), LastSeen: at(0), Deadline: at(900)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndSessions(ctx, logout.Selector{All: true}, 0, at(1)); err == nil {
		t.Fatal("EndSessions with reason 0 = nil error, want one")
	}
	if _, err := s.Session(ctx, "a"); err != nil {
		t.Fatalf("a refused EndSessions ended the session: %v", err)
	}
}

func BenchmarkSession(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "logout.db"))
	ctx := b.Context()
	x := logout.Session{ID: strings.Repeat("ab", 32), UserID: "alice", Roles: []string{"editor"}, Created: at(0), LastSeen: at(0), Deadline: at(900)}
	if err := s.CreateSession(ctx, x); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Session(ctx, x.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTouch(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "logout.db"))
	ctx := b.Context()
	x := logout.Session{ID: strings.Repeat("ab", 32), UserID: "alice", Roles: []string{"editor"}, Created: at(0), LastSeen: at(0), Deadline: at(900)}
	if err := s.CreateSession(ctx, x); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.TouchSession(ctx, x.ID, at(i), at(i+900)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestREADMESchema checks that README.md names every table, column and
// index of a new file.
func TestREADMESchema(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "logout.db")
	open(t, path)
	db := rawDB(t, path)
	rows, err := db.Query(`SELECT m.type, m.name, m.tbl_name FROM sqlite_schema m
WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var typ, name, table string
		if err := rows.Scan(&typ, &name, &table); err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "table":
			names = append(names, "CREATE TABLE "+name+" (")
		case "index":
			names = append(names, "CREATE INDEX "+name+" ON "+table+" (")
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, table := range []string{"sessions", "events", "settings", "schema_version", "session_tags", "changes"} {
		cols, err := db.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		for cols.Next() {
			var col string
			if err := cols.Scan(&col); err != nil {
				t.Fatal(err)
			}
			names = append(names, col+" ")
		}
		cols.Close()
	}
	if len(names) < 10 {
		t.Fatalf("found only %q in the schema", names)
	}
	for _, n := range names {
		if !strings.Contains(string(readme), n) {
			t.Errorf("README.md lacks %q", n)
		}
	}
}

// TestEndManyIDs ends more sessions by ID than one statement binds, with
// duplicates, missing IDs and an exception, in one call.
func TestEndManyIDs(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "logout.db"))
	ctx := t.Context()
	n := 2*sqlitestore.MaxIDs + 7
	var ids []string
	for i := range n {
		id := fmt.Sprintf("s%04d", i)
		if err := s.CreateSession(ctx, logout.Session{ID: id, UserID: "u", Created: at(i), LastSeen: at(i), Deadline: at(i + 900)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id, "missing-"+id)
	}
	ids = append(ids, ids[:20]...) // s0000…s0009 again, in a later batch
	evs, err := s.EndSessions(ctx, logout.Selector{IDs: ids, Except: "s0003"}, logout.ReasonForced, at(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), n-1; got != want {
		t.Fatalf("ended %d sessions, want %d", got, want)
	}
	left, err := s.ListSessions(ctx, logout.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != "s0003" {
		t.Fatalf("left %d sessions, want only s0003", len(left))
	}
	logged, err := s.Events(ctx, logout.EventQuery{Limit: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != n-1 {
		t.Fatalf("logged %d events, want %d", len(logged), n-1)
	}
}

// BenchmarkListActiveFirst lists 100,000 sessions in pages of 50 in
// ActiveFirst order (storetest.BenchmarkPages: the first page, the pages
// at half and at 90 % of the way, and a whole walk). A page reads its own
// entries of the index sessions_seen, so every page costs about the same.
func BenchmarkListActiveFirst(b *testing.B) {
	path := filepath.Join(b.TempDir(), "logout.db")
	s := open(b, path)
	const n = 100000
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	// Activity one second apart, with ties: sessions i and i+1 share it.
	if _, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO sessions (id, user_id, roles, created, last_seen, deadline, user_agent, address)
SELECT printf('%064x', i), 'u' || (i % 1000), '["editor"]', ?, ? + (i / 2) * 1000000, ? + (i / 2) * 1000000 + 900000000,
	'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', '192.0.2.' || (i % 250) FROM n`,
		n-1, at(0).UnixMicro(), at(0).UnixMicro(), at(0).UnixMicro()); err != nil {
		b.Fatal(err)
	}
	db.Close()
	storetest.BenchmarkPages(b, s, n, logout.ActiveFirst, nil)
}
