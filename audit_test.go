package logout_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

func TestSessionLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		signIns int
		ended   int // how many of the first sign-ins end, oldest first
	}{
		{"limit 2, three sign-ins end the first", 2, 3, 1},
		{"limit 2, five sign-ins end the first three", 2, 5, 3},
		{"limit 1 keeps only the newest", 1, 3, 2},
		{"limit 0 is no limit", 0, 5, 0},
		{"within the limit nothing ends", 3, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{})
			s := logout.DefaultSettings()
			s.MaxSessions = tt.limit
			if _, err := e.m.UpdateSettings(t.Context(), s, "admin"); err != nil {
				t.Fatal(err)
			}
			other := e.signIn("bob") // another user's session never counts
			var cs []*http.Cookie
			for range tt.signIns {
				cs = append(cs, e.signIn("alice"))
				e.clock.Advance(time.Second)
			}
			var limited []logout.Event
			for _, ev := range e.events() {
				if ev.Reason != logout.ReasonLimit || ev.UserID != "alice" {
					t.Fatalf("sign-out %+v, want only alice's for the limit", ev)
				}
				limited = append(limited, ev)
			}
			if len(limited) != tt.ended {
				t.Fatalf("%d sessions ended for the limit, want %d", len(limited), tt.ended)
			}
			for i, c := range cs {
				w := e.do(req{path: "/backend/page", cookie: c})
				if i < tt.ended {
					if w.Code != 303 || !strings.Contains(w.Header().Get("Location"), "reason=limit") {
						t.Fatalf("sign-in %d: %d to %q, want 303 to the sign-in page with reason=limit", i, w.Code, w.Header().Get("Location"))
					}
					continue
				}
				if w.Code != 200 {
					t.Fatalf("sign-in %d: %d, want 200", i, w.Code)
				}
			}
			if w := e.do(req{path: "/backend/page", cookie: other}); w.Code != 200 {
				t.Fatalf("bob's session: %d, want 200", w.Code)
			}
			if n, err := e.m.CountSessions(t.Context(), logout.ListOptions{UserID: "alice"}); err != nil || n != tt.signIns-tt.ended {
				t.Fatalf("alice holds %d sessions, %v; want %d", n, err, tt.signIns-tt.ended)
			}
		})
	}
}

func TestSessionLimitStatusSaysWhy(t *testing.T) {
	e := newEnv(t, logout.Options{})
	s := logout.DefaultSettings()
	s.MaxSessions = 1
	if _, err := e.m.UpdateSettings(t.Context(), s, "admin"); err != nil {
		t.Fatal(err)
	}
	first := e.signIn("alice")
	e.signIn("alice")
	w := e.do(req{path: "/backend/session/status", cookie: first})
	v := decodeJSON(t, w)
	if v["reason"] != "limit" || v["message"] != logout.ReasonLimit.Message() {
		t.Fatalf("status of the ended session: %d %v, want reason limit and its message", w.Code, v)
	}
}

// TestSessionLimitLowered: lowering the limit ends the oldest sessions
// above it at the next sweep, without waiting for a sign-in.
func TestSessionLimitLowered(t *testing.T) {
	e := newEnv(t, logout.Options{})
	var cs []*http.Cookie
	for range 4 {
		cs = append(cs, e.signIn("alice"))
		e.clock.Advance(time.Second)
	}
	bob := e.signIn("bob")
	e.sweep()
	s, err := e.m.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.MaxSessions = 2
	if _, err := e.m.UpdateSettings(t.Context(), s, "admin"); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	if n, err := e.m.CountSessions(t.Context(), logout.ListOptions{UserID: "alice"}); err != nil || n != 2 {
		t.Fatalf("after the sweep alice holds %d sessions, %v; want 2", n, err)
	}
	for i, c := range cs {
		w := e.do(req{path: "/backend/page", cookie: c})
		if ended := w.Code == 303 && strings.Contains(w.Header().Get("Location"), "reason=limit"); ended != (i < 2) {
			t.Errorf("sign-in %d: %d to %q; want the two oldest ended for the limit", i, w.Code, w.Header().Get("Location"))
		}
	}
	if w := e.do(req{path: "/backend/page", cookie: bob}); w.Code != 200 {
		t.Fatalf("bob's session: %d, want 200", w.Code)
	}
}

func TestRetentionSetting(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		retention time.Duration // Settings.Retention
		option    time.Duration // Options.EventRetention
		age       time.Duration
		kept      bool
	}{
		{"setting prunes older entries", 2 * day, 0, 3 * day, false},
		{"setting keeps younger entries", 2 * day, 0, day, true},
		{"setting wins over the option", 30 * day, day, 3 * day, true},
		{"option applies when the setting is 0", 0, day, 2 * day, false},
		{"default option keeps 90 days", 0, 0, 89 * day, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, logout.Options{EventRetention: tt.option})
			first := logout.DefaultSettings()
			first, err := e.m.UpdateSettings(t.Context(), first, "alice")
			if err != nil {
				t.Fatal(err)
			}
			e.signIn("carol")
			if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{UserID: "carol"}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.age)
			next := first
			next.Retention = tt.retention
			if _, err := e.m.UpdateSettings(t.Context(), next, "bob"); err != nil {
				t.Fatal(err)
			}
			if err := e.m.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			evs, err := e.m.Events(t.Context(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(evs) == 1; got != tt.kept {
				t.Fatalf("event kept = %v, want %v", got, tt.kept)
			}
			hist, err := e.m.SettingsHistory(t.Context(), logout.HistoryQuery{})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"bob"} // the entry of the settings in force always stays
			if tt.kept {
				want = []string{"bob", "alice"}
			}
			var got []string
			for _, h := range hist {
				got = append(got, h.By)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("history by %v, want %v", got, want)
			}
		})
	}
}

func TestSettingsHistory(t *testing.T) {
	e := newEnv(t, logout.Options{})
	if _, err := e.m.UpdateSettings(t.Context(), logout.DefaultSettings(), ""); err == nil {
		t.Fatal("UpdateSettings without who saves them succeeded")
	}
	t0 := e.clock.Now().Truncate(time.Microsecond)
	s := logout.DefaultSettings()
	s.Lifetime = 600 * time.Second
	s.RoleLifetimes = map[string]time.Duration{"editor": 300 * time.Second}
	s, err := e.m.UpdateSettings(t.Context(), s, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	s.ShowCounter = false
	s.RoleLifetimes = nil
	s.MaxSessions = 3
	if _, err := e.m.UpdateSettings(t.Context(), s, "bob"); err != nil {
		t.Fatal(err)
	}
	cur, err := e.m.Settings(t.Context())
	if err != nil || cur.ChangedBy != "bob" || !cur.ChangedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Settings = by %q at %s, %v; want bob at %s", cur.ChangedBy, cur.ChangedAt, err, t0.Add(time.Minute))
	}
	hist, err := e.m.SettingsHistory(t.Context(), logout.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 {
		t.Fatalf("%d changes, want 2", len(hist))
	}
	tests := []struct {
		name   string
		change logout.SettingsChange
		by     string
		at     time.Time
		fields []string
	}{
		{"newest first: bob's change", hist[0], "bob", t0.Add(time.Minute),
			[]string{"show_counter: on → off", "max_sessions: none → 3", "role_lifetime.editor: 300 s → none"}},
		{"the first save replaced the defaults", hist[1], "alice", t0,
			[]string{"lifetime: 900 s → 600 s", "role_lifetime.editor: none → 300 s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.change
			if c.By != tt.by || !c.At.Equal(tt.at) || !c.OldKnown() {
				t.Fatalf("change by %q at %s (old known %v), want %q at %s", c.By, c.At, c.OldKnown(), tt.by, tt.at)
			}
			var got []string
			for _, f := range settingsform.Diff(c) {
				got = append(got, f.String())
			}
			if !slices.Equal(got, tt.fields) {
				t.Fatalf("Fields = %q, want %q", got, tt.fields)
			}
		})
	}
	one, err := e.m.SettingsHistory(t.Context(), logout.HistoryQuery{Limit: 1, Since: t0.Add(time.Second)})
	if err != nil || len(one) != 1 || one[0].By != "bob" || one[0].Old.ChangedBy != "alice" {
		t.Fatalf("SettingsHistory(since, limit 1) = %+v, %v; want bob's change with alice's as the old", one, err)
	}
	if _, err := e.m.SettingsHistory(t.Context(), logout.HistoryQuery{Limit: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
}

func TestQueryEvents(t *testing.T) {
	e := newEnv(t, logout.Options{})
	t0 := e.clock.Now().Truncate(time.Microsecond)
	for _, u := range []string{"alice", "bob", "alice"} {
		e.signIn(u)
	}
	if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		q     logout.EventQuery
		users []string
	}{
		{"all, newest first", logout.EventQuery{}, []string{"alice", "alice", "bob"}},
		{"by user", logout.EventQuery{UserID: "bob"}, []string{"bob"}},
		{"since", logout.EventQuery{Since: t0.Add(time.Minute)}, []string{"alice", "alice"}},
		{"until", logout.EventQuery{Until: t0.Add(time.Minute)}, []string{"bob"}},
		{"by reason", logout.EventQuery{Reason: logout.ReasonIdle}, nil},
		{"limit", logout.EventQuery{Limit: 1}, []string{"alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := e.m.QueryEvents(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.UserID)
			}
			if !slices.Equal(got, tt.users) {
				t.Fatalf("QueryEvents(%+v) users %v, want %v", tt.q, got, tt.users)
			}
		})
	}
	for _, q := range []logout.EventQuery{{Limit: -1}, {Since: t0.Add(time.Hour), Until: t0}, {Reason: 99}} {
		if _, err := e.m.QueryEvents(t.Context(), q); err == nil {
			t.Fatalf("QueryEvents(%+v) succeeded, want an error", q)
		}
	}
}
