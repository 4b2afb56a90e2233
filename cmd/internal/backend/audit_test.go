package backend_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/settingsform"
)

// seedLog ends sessions in store at the given times and returns the
// events, newest first as the log orders them: more than one export page
// of them, many with the same time, so that the pages split a tie.
func seedLog(t *testing.T, store *logout.MemoryStore) []logout.Event {
	t.Helper()
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.Local) }
	type end struct {
		user   string
		reason logout.Reason
		at     time.Time
	}
	ends := []end{
		{"1", logout.ReasonIdle, at(1, 5, 10)},
		{"2", logout.ReasonForced, at(1, 10, 12)},
		{`=HYPERLINK("http://x")`, logout.ReasonManual, at(1, 20, 9)},
		{"2", logout.ReasonIdle, at(2, 1, 0)},
		{"+SUM(A1)", logout.ReasonIdle, at(2, 2, 0)},
		{"-1", logout.ReasonIdle, at(2, 3, 0)},
		{"@x", logout.ReasonIdle, at(2, 4, 0)},
		{"a=b", logout.ReasonIdle, at(2, 5, 0)},
	}
	for range 520 {
		ends = append(ends, end{"bulk", logout.ReasonLimit, at(1, 15, 8)})
	}
	var evs []logout.Event
	for i, e := range ends {
		id := fmt.Sprintf("session-%04d", i)
		s := logout.Session{ID: id, UserID: e.user, Created: e.at.Add(-time.Hour), LastSeen: e.at.Add(-time.Minute), Deadline: e.at}
		if err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		got, err := store.EndSessions(t.Context(), logout.Selector{IDs: []string{id}}, e.reason, e.at)
		if err != nil || len(got) != 1 {
			t.Fatalf("end %s: %v", id, err)
		}
		evs = append(evs, got[0])
	}
	// Newest first; of equal times, the last logged first.
	slices.Reverse(evs)
	slices.SortStableFunc(evs, func(a, b logout.Event) int { return b.At.Compare(a.At) })
	return evs
}

// readCSV parses a CSV export, header first.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	return rows
}

// TestExportEvents: the sign-out log's exports hold exactly the entries
// that the filter selects, in the log's order, as CSV safe from formulas
// and as JSON; bad filters get 400 with the reason; only those who may
// see the sessions get them, and nothing caches them.
func TestExportEvents(t *testing.T) {
	store := logout.NewMemoryStore()
	all := seedLog(t, store)
	e := startWith(t, false, func(cfg *backend.Config) { cfg.Store = store })
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	// The sign-in above may have logged nothing; the seeded log is all.
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.Local) }
	for _, tt := range []struct {
		name, query string
		q           logout.EventQuery
	}{
		{"everything", "", logout.EventQuery{}},
		{"a date range, the last day included", "since=2026-01-06&until=2026-01-19", logout.EventQuery{Since: day(1, 6), Until: day(1, 20)}},
		{"a time range", "since=" + day(1, 10).Add(12*time.Hour).UTC().Format(time.RFC3339), logout.EventQuery{Since: day(1, 10).Add(12 * time.Hour)}},
		{"a user by name", "user=editor", logout.EventQuery{UserID: "2"}},
		{"a user by ID", "user=bulk", logout.EventQuery{UserID: "bulk"}},
		{"a reason", "reason=idle", logout.EventQuery{Reason: logout.ReasonIdle}},
		{"everything at once", "since=2026-01-01&until=2026-01-31&user=2&reason=forced", logout.EventQuery{Since: day(1, 1), Until: day(2, 1), UserID: "2", Reason: logout.ReasonForced}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want []logout.Event
			for _, ev := range all {
				if tt.q.Match(ev) {
					want = append(want, ev)
				}
			}
			r := c.get("/backend/system/sessions/log?" + tt.query + "&format=csv")
			wantStatus(t, r, http.StatusOK)
			for k, v := range map[string]string{"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store"} {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
			if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="logout-sign-outs-`) || !strings.HasSuffix(cd, `.csv"`) {
				t.Errorf("Content-Disposition: got %q", cd)
			}
			rows := readCSV(t, r.body)
			if got := strings.Join(rows[0], ","); got != "at,user_id,user,reason,session" {
				t.Errorf("header: got %q", got)
			}
			if len(rows)-1 != len(want) {
				t.Fatalf("CSV rows: got %d, want %d", len(rows)-1, len(want))
			}
			for i, ev := range want {
				row := rows[i+1]
				user := ev.UserID
				if strings.ContainsRune("=+-@", rune(user[0])) { // a formula: quoted
					user = "'" + user
				}
				if row[0] != ev.At.UTC().Format(time.RFC3339Nano) || row[1] != user || row[3] != ev.Reason.String() || row[4] != ev.SessionID[:12] {
					t.Fatalf("row %d: got %q, want %v", i+1, row, ev)
				}
			}

			r = c.get("/backend/system/sessions/log?" + tt.query + "&format=json")
			wantStatus(t, r, http.StatusOK)
			var got []map[string]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("JSON entries: got %d, want %d", len(got), len(want))
			}
			for i, ev := range want {
				if got[i]["user_id"] != ev.UserID || got[i]["reason"] != ev.Reason.String() {
					t.Fatalf("entry %d: got %v, want %v", i, got[i], ev)
				}
			}

			page := c.get("/backend/system/sessions/log?" + tt.query)
			wantStatus(t, page, http.StatusOK)
			checkPage(t, page, "en")
			if n := strings.Count(page.body, "<tr><td>"); n != min(len(want), 100) {
				t.Errorf("page rows: got %d, want %d", n, min(len(want), 100))
			}
		})
	}
	t.Run("names in the user column", func(t *testing.T) {
		rows := readCSV(t, c.get("/backend/system/sessions/log?user=editor&format=csv").body)
		if rows[1][2] != "editor" {
			t.Errorf("user: got %q, want editor", rows[1][2])
		}
	})
	for _, tt := range []struct{ name, query, want string }{
		{"a date that is not one", "since=yesterday", `since &#34;yesterday&#34; is neither a date such as 2026-01-31`},
		{"since after until", "since=2026-02-01&until=2026-01-01", "the start must be before the end (2026-01-01)"},
		{"an unknown reason", "reason=sleepy", `&#34;sleepy&#34; is not a reason; choose one from the list.`},
		{"an unknown format", "format=xml", "The export format must be csv or json."},
		{"a bad filter with a format", "since=x&format=csv", `since &#34;x&#34; is neither`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/backend/system/sessions/log?" + tt.query)
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, tt.want)
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type: got %q", ct)
			}
		})
	}
	t.Run("a bad filter in Czech", func(t *testing.T) {
		c.header.Set("Accept-Language", "cs")
		defer c.header.Del("Accept-Language")
		r := c.get("/backend/system/sessions/log?until=brzy")
		wantStatus(t, r, http.StatusBadRequest)
		checkPage(t, r, "cs")
		wantContains(t, r.body, "Filtr nebyl použit: until &#34;brzy&#34; není datum")
	})
	t.Run("not for the editor", func(t *testing.T) {
		ed := e.client()
		ed.mustSignIn("editor", editorPassword)
		for _, path := range []string{"/backend/system/sessions/log?format=csv", "/backend/system/settings/history?format=json"} {
			wantStatus(t, ed.get(path), http.StatusForbidden)
		}
	})
}

// TestExportSettings: the settings history names who saved, when, and
// each field from what to what, on the page and in both exports.
func TestExportSettings(t *testing.T) {
	e, c, form := adminForm(t)
	form.Set(settingsform.FieldLifetime, "600")
	form.Set(settingsform.FieldRolePrefix+"editor", "=1+1")
	wantStatus(t, c.post(settingsURL, form), http.StatusUnprocessableEntity)
	form.Set(settingsform.FieldRolePrefix+"editor", "300")
	wantStatus(t, c.post(settingsURL, form), http.StatusSeeOther)
	e.clock.Advance(24 * time.Hour) // the session ends: sign in again
	c.mustSignIn("admin", adminPassword)
	form = settingsForm(c.token(), "1")
	form.Set(settingsform.FieldMaxSessions, "2")
	wantStatus(t, c.post(settingsURL, form), http.StatusSeeOther)

	page := c.get("/backend/system/settings/history")
	wantStatus(t, page, http.StatusOK)
	checkPage(t, page, "en")
	wantContains(t, page.body, "<code>max_sessions</code>: none → 2", "<code>lifetime</code>: 900 s → 600 s",
		"<code>role_lifetime.editor</code>: none → 300 s", `href="/backend/system/settings/history?format=csv"`)

	rows := readCSV(t, c.get("/backend/system/settings/history?format=csv").body)
	want := [][]string{
		{"at", "by", "version", "field", "old", "new"},
		{"2", "lifetime", "600 s", "900 s"},
		{"2", "max_sessions", "none", "2"},
		{"2", "role_lifetime.editor", "300 s", "none"},
		{"1", "lifetime", "900 s", "600 s"},
		{"1", "role_lifetime.editor", "none", "300 s"},
	}
	if len(rows) != len(want) {
		t.Fatalf("CSV: got %q, want %d rows", rows, len(want))
	}
	for i, w := range want[1:] {
		if got := rows[i+1][2:]; !slices.Equal(got, w) || rows[i+1][1] != "admin" {
			t.Errorf("row %d: got %q, want admin and %q", i+1, rows[i+1], w)
		}
	}
	day2 := e.clock.Now().Format(time.DateOnly)
	r := c.get("/backend/system/settings/history?format=json&since=" + day2)
	var got []struct {
		By      string
		Version int64
		Changes []struct{ Field, Old, New string }
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.body)
	}
	if len(got) != 1 || got[0].Version != 2 || got[0].By != "admin" || len(got[0].Changes) != 3 {
		t.Errorf("JSON since %s: got %+v, want version 2 only", day2, got)
	}
	wantStatus(t, c.get("/backend/system/settings/history?user=admin"), http.StatusBadRequest)
}
