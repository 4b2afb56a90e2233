package mysqlstore_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
)

// numbers is a derived table of the numbers 1 to 100 000, n, in the SQL
// that MySQL and MariaDB share (MariaDB's seq_1_to_N tables are its own).
const numbers = `(SELECT 1 + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d AS n FROM
	(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
	 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
	(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
	 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
	(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
	 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
	(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
	 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e,
	(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
	 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) f) AS g`

// fill runs statements on db, with {p} standing for the table prefix, and
// analyses the tables named.
func fill(t *testing.T, db *sql.DB, prefix string, statements []string, tables ...string) {
	t.Helper()
	for _, st := range statements {
		if _, err := db.ExecContext(t.Context(), strings.ReplaceAll(strings.ReplaceAll(st, "{p}", prefix), "{numbers}", numbers)); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range tables {
		rows, err := db.QueryContext(t.Context(), "ANALYZE TABLE `"+prefix+table+"`")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// A plan is what EXPLAIN FORMAT=JSON says of the tables a statement
// reads: their access types, indexes and the key parts used, and whether
// it sorts. MySQL and MariaDB shape the document differently; both put
// each table in an object under "table".
type plan struct {
	tables []map[string]any
	sorts  bool
}

func (p *plan) walk(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "filesort" || k == "using_filesort" && x == true {
				p.sorts = true
			}
			if m, ok := x.(map[string]any); ok && k == "table" {
				if _, ok := m["table_name"]; ok {
					p.tables = append(p.tables, m)
				}
			}
			p.walk(x)
		}
	case []any:
		for _, x := range v {
			p.walk(x)
		}
	}
}

func explain(t *testing.T, conn *sql.Conn, query string, args []any) plan {
	t.Helper()
	var doc string
	if err := conn.QueryRowContext(t.Context(), "EXPLAIN FORMAT=JSON "+query, args...).Scan(&doc); err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var p plan
	p.walk(v)
	if len(p.tables) == 0 {
		t.Fatalf("no table in the plan of %s:\n%s", query, doc)
	}
	return p
}

// touched runs query on conn and returns how many rows it returned and
// how many index entries and rows the server read for it (for a count,
// the rows it counted; for a change, the rows changed), from the
// session's handler counters: what EXPLAIN only estimates. ok is false
// when the server lacks MariaDB's counters of index condition pushdown,
// without which the count misses the entries that the storage engine
// read and skipped.
func touched(t *testing.T, conn *sql.Conn, query string, args []any) (returned, read int, ok bool) {
	t.Helper()
	if _, err := conn.ExecContext(t.Context(), "FLUSH STATUS"); err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasPrefix(query, "SELECT COUNT(*)"): // returns the rows it counts
		if err := conn.QueryRowContext(t.Context(), query, args...).Scan(&returned); err != nil {
			t.Fatal(err)
		}
	case strings.HasPrefix(query, "SELECT"):
		rows, err := conn.QueryContext(t.Context(), query, args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			returned++
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		res, err := conn.ExecContext(t.Context(), query, args...)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.RowsAffected()
		returned = int(n)
	}
	rows, err := conn.QueryContext(t.Context(), "SHOW SESSION STATUS LIKE 'Handler_%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var name string
		var v int
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		counts[name] = v
	}
	_, ok = counts["Handler_icp_attempts"]
	read = counts["Handler_read_key"] + counts["Handler_read_next"] + counts["Handler_read_prev"] +
		counts["Handler_read_first"] + counts["Handler_read_last"] + counts["Handler_read_rnd_next"] +
		counts["Handler_icp_attempts"] - counts["Handler_icp_match"]
	return returned, read, ok
}

// TestQueryPlans checks on 20 000 sessions and 20 000 events that every
// query the store makes on the request path, in the sweeper and in the
// watcher reads an index and never sorts (EXPLAIN), and, where the server
// counts it (MariaDB), that it reads about as many index entries as the
// rows it returns, not the table: a page of sessions after a cursor, of
// a user with half the sessions too, the expired sessions, the log's
// newest events, the change log's new rows.
func TestQueryPlans(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	s := newStore(t, db, prefix)
	// 20000 sessions created over 10 s (many share a microsecond): the
	// even ones of u0, the others 20 each of u1, u3, ... u999; activity
	// over 100 s, deadlines one a second; 80 each at 250 addresses, the
	// sessions of s1 to s9 tagged. As many events of the same users, one
	// a second.
	fill(t, db, prefix, []string{
		`INSERT INTO {p}logout_sessions (id, user_id, roles, created, last_seen, deadline, address, tags)
SELECT CONCAT('s', n), CONCAT('u', IF(n % 2 = 0, 0, n % 1000)), '[]', 1767225600000000 + 1000000 * (n % 10),
	1767225600000000 + 1000000 * (n % 100), 1767225600000000 + 1000000 * n, CONCAT('192.0.2.', n % 250), IF(n < 10, '["t"]', '[]')
FROM {numbers} WHERE n <= 20000`,
		`INSERT INTO {p}logout_session_tags (tag, session_id) SELECT 't', CONCAT('s', n) FROM {numbers} WHERE n < 10`,
		`INSERT INTO {p}logout_events (session_id, user_id, reason, at)
SELECT CONCAT('s', n), CONCAT('u', IF(n % 2 = 0, 0, n % 1000)), 'idle', 1767225600000000 + 1000000 * n
FROM {numbers} WHERE n <= 20000`,
	}, "logout_sessions", "logout_events", "logout_session_tags")
	for range 3 {
		if _, err := s.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil && !strings.Contains(err.Error(), "not the stored") {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	t0 := int64(1767225600000000) // 2026-01-01 00:00:00 UTC
	sec := func(n int) int64 { return t0 + int64(n)*1000000 }
	q := mysqlstore.Queries(s)
	ids := make([]any, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", 1+i*37)
	}
	since, until := time.UnixMicro(sec(3600)), time.UnixMicro(sec(7200))
	events := func(q logout.EventQuery) (string, []any) { return mysqlstore.EventsQuery(s, q) }
	type plan struct {
		name    string
		query   string
		args    []any
		index   string
		parts   []string // key parts the plan must use, when a range
		bounded bool     // reads about what it returns
	}
	var lists []plan
	list := func(opts logout.ListOptions) (string, []any) { return mysqlstore.ListQuery(s, opts) }
	after := logout.Cursor{Created: time.UnixMicro(sec(5)), LastSeen: time.UnixMicro(sec(50)), Deadline: time.UnixMicro(sec(5000)), ID: "s5000"}
	for _, o := range []struct {
		order logout.SessionOrder
		col   string
		index string
	}{
		{logout.OldestFirst, "created", "created_idx"},
		{logout.NewestFirst, "created", "created_idx"},
		{logout.ActiveFirst, "last_seen", "seen_idx"},
		{logout.EndingFirst, "deadline", "deadline_idx"},
	} {
		first, firstArgs := list(logout.ListOptions{Order: o.order, Limit: 50})
		later, laterArgs := list(logout.ListOptions{Order: o.order, After: after, Limit: 50})
		lists = append(lists,
			plan{fmt.Sprintf("the first page of all sessions in order %d", o.order), first, firstArgs, o.index, nil, true},
			plan{fmt.Sprintf("a later page of all sessions in order %d", o.order), later, laterArgs, o.index, []string{o.col, "id"}, true})
		if o.col == "created" {
			half, halfArgs := list(logout.ListOptions{UserID: "u0", Order: o.order, Limit: 50})
			halfLater, halfLaterArgs := list(logout.ListOptions{UserID: "u0", Order: o.order, After: after, Limit: 50})
			few, fewArgs := list(logout.ListOptions{UserID: "u7", Order: o.order, After: after, Limit: 50})
			lists = append(lists,
				plan{fmt.Sprintf("the first page of a user with half the sessions in order %d", o.order), half, halfArgs, "user_created_idx", nil, true},
				plan{fmt.Sprintf("a later page of a user with half the sessions in order %d", o.order), halfLater, halfLaterArgs, "user_created_idx", []string{"user_id", "created", "id"}, true},
				plan{fmt.Sprintf("a later page of a user with few sessions in order %d", o.order), few, fewArgs, "user_created_idx", []string{"user_id", "created", "id"}, true})
		}
	}
	for _, tt := range append(lists, []plan{
		{"a session by ID", q["session"], []any{"s77"}, "PRIMARY", nil, true},
		{"a touch", q["touch"], []any{sec(1), sec(900), "s77", sec(1)}, "PRIMARY", nil, true},
		{"the count of a user's sessions", q["countUser"], []any{"u7"}, "user_created_idx", nil, true},
		{"the count of an address's sessions", q["countAddress"], []any{"192.0.2.7"}, "address_idx", nil, true},
		{"the count of a user's sessions at an address", q["countUserAddress"], []any{"192.0.2.7", "u7"}, "address_idx", nil, true},
		{"the sessions of a tag", q["tagged"], []any{"t"}, "PRIMARY", nil, true},
		{"deleting the tags of ended sessions", fmt.Sprintf(q["untag"], "?, ?"), []any{"s1", "s2"}, "session_idx", nil, true},
		{"expired sessions", q["expired"], []any{sec(60), 500}, "deadline_idx", []string{"deadline"}, true},
		{"the event of a session", q["event"], []any{"s77"}, "session_idx", nil, true},
		{"pruning events", q["deleteEvents"], []any{sec(100), 500}, "at_idx", []string{"at"}, true},
		{"a batch of deadlines locked by ID", fmt.Sprintf(q["lockDeadlines"], strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")), ids, "PRIMARY", nil, true},
		{"new rows of the change log", q["changesAfter"], []any{1, 100}, "PRIMARY", nil, true},
	}...) {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, conn, tt.query, tt.args, tt.index, tt.parts, tt.bounded)
		})
	}
	// The sessions of a user or an address in an order that their index
	// does not give are read whole and sorted: they are few.
	for _, tt := range []struct {
		name string
		opts logout.ListOptions
	}{
		{"a user's sessions by activity", logout.ListOptions{UserID: "u7", Order: logout.ActiveFirst, After: after, Limit: 50}},
		{"an address's sessions by creation", logout.ListOptions{Address: "192.0.2.7", After: after, Limit: 50}},
		{"a user's sessions at an address by deadline", logout.ListOptions{UserID: "u7", Address: "192.0.2.7", Order: logout.EndingFirst, Limit: 50}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query, args := list(tt.opts)
			p := explain(t, conn, query, args)
			want := map[bool]string{false: "user_created_idx", true: "address_idx"}[tt.opts.Address != ""]
			if tb := p.tables[0]; tb["key"] != want || tb["access_type"] != "ref" {
				t.Fatalf("plan of %s reads %v through %v, want ref through %s", query, tb["access_type"], tb["key"], want)
			}
		})
	}
	for _, tt := range []struct {
		name    string
		q       logout.EventQuery
		index   string
		bounded bool
	}{
		{"the newest events", logout.EventQuery{Limit: 50}, "at_idx", true},
		{"events in a time range", logout.EventQuery{Since: since, Until: until, Limit: 50}, "at_idx", true},
		{"events of a user with few", logout.EventQuery{UserID: "u7", Limit: 50}, "user_at_idx", true},
		{"events of a user with half the log, in a time range", logout.EventQuery{UserID: "u0", Since: since, Until: until, Limit: 50}, "user_at_idx", true},
		{"events of a reason (reads the range it skips)", logout.EventQuery{Reason: logout.ReasonForced, Limit: 50}, "at_idx", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			query, args := events(tt.q)
			checkPlan(t, conn, query, args, tt.index, nil, tt.bounded)
		})
	}
	if got, err := s.ListSessions(t.Context(), logout.ListOptions{UserID: "u0",
		After: logout.Cursor{Created: time.UnixMicro(sec(4)), ID: "s9994"}, Limit: 3}); err != nil || !slices.Equal(sessionIDs(got), []string{"s10006", "s10016", "s10026"}) {
		// u0's sessions at 4 s are s4, s14, ... s19994, and s9994 is the
		// last of them byte by byte; those at 6 s begin s10006, s10016.
		t.Fatalf("page after (4 s, s9994) = %v, %v; want s10006 s10016 s10026", sessionIDs(got), err)
	}
	for user, want := range map[string]int{"u0": 10000, "u7": 20, "u2": 0, "": 20000} {
		if n, err := s.CountSessions(t.Context(), logout.ListOptions{UserID: user}); err != nil || n != want {
			t.Fatalf("CountSessions(%q) = %d, %v; want %d", user, n, err, want)
		}
	}
	// 192.0.2.7 holds s7, s257, s507, ...: all odd, all 20 of u7 among them, none of u0.
	for _, tt := range []struct {
		opts logout.ListOptions
		want int
	}{
		{logout.ListOptions{Address: "192.0.2.7"}, 80},
		{logout.ListOptions{Address: "192.0.2.7", UserID: "u7"}, 20},
		{logout.ListOptions{Address: "192.0.2.7", UserID: "u0"}, 0},
	} {
		if n, err := s.CountSessions(t.Context(), tt.opts); err != nil || n != tt.want {
			t.Fatalf("CountSessions(%+v) = %d, %v; want %d", tt.opts, n, err, tt.want)
		}
	}
}

// checkPlan checks that query reads index and no table in full, never
// sorts, uses parts of the index's key (a range that bounds the read),
// and, when bounded and the server counts it, reads at most a few
// entries more than it returns.
func checkPlan(t *testing.T, conn *sql.Conn, query string, args []any, index string, parts []string, bounded bool) {
	t.Helper()
	p := explain(t, conn, query, args)
	tb := p.tables[0]
	if len(p.tables) != 1 || tb["key"] != index || tb["access_type"] == "ALL" || p.sorts {
		doc, _ := json.MarshalIndent(tb, "", "  ")
		t.Fatalf("plan of %s reads %d tables, the first with %v through %v (want %s), sorts: %v\n%s",
			query, len(p.tables), tb["access_type"], tb["key"], index, p.sorts, doc)
	}
	if parts != nil {
		var used []string
		for _, x := range tb["used_key_parts"].([]any) {
			used = append(used, x.(string))
		}
		if !slices.Equal(used, parts) {
			t.Fatalf("plan of %s uses the key parts %v, want %v: the cursor does not bound the range", query, used, parts)
		}
	}
	returned, read, ok := touched(t, conn, query, args)
	t.Logf("%s: %v through %s, returned %d rows, read %d entries", query, tb["access_type"], index, returned, read)
	if bounded && ok && read > returned+5 {
		t.Errorf("read %d index entries and rows for %d rows: its cost grows with more than it returns", read, returned)
	}
}

func sessionIDs(ss []logout.Session) []string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = x.ID
	}
	return out
}
