package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// end ends one session, failing the test on an error.
func end(t *testing.T, s logout.Store, id string, r logout.Reason, sec int) {
	t.Helper()
	if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{id}}, r, at(sec)); err != nil {
		t.Fatal(err)
	}
}

func events(t *testing.T, s logout.Store, q logout.EventQuery) []string {
	t.Helper()
	evs, err := s.Events(ctx(t), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.SessionID
	}
	return out
}

// save saves a version of the settings by who at sec, failing the test on
// an error.
func save(t *testing.T, s logout.Store, version int64, lifetime int, who string, sec int) logout.Settings {
	t.Helper()
	st := logout.DefaultSettings()
	st.Version, st.Lifetime, st.ChangedBy, st.ChangedAt = version, time.Duration(lifetime)*time.Second, who, at(sec)
	saved, err := s.SaveSettings(ctx(t), st)
	if err != nil {
		t.Fatalf("SaveSettings(version %d): %v", version, err)
	}
	return saved
}

func history(t *testing.T, s logout.Store, q logout.HistoryQuery) []string {
	t.Helper()
	hs, err := s.SettingsHistory(ctx(t), q)
	if err != nil {
		t.Fatalf("SettingsHistory(%+v): %v", q, err)
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("v%d %s", h.Version, h.ChangedBy)
	}
	return out
}

// auditCases check the event queries, the settings history and the
// newer reasons.
var auditCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
	{"events: filters by time, user and reason, newest first", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a1", "alice", 0), session("a2", "alice", 0), session("b1", "bob", 0),
			session("b2", "bob", 0), session("c1", "carol", 0))
		end(t, s, "a1", logout.ReasonIdle, 10)
		end(t, s, "b1", logout.ReasonForced, 20)
		end(t, s, "a2", logout.ReasonForced, 30)
		end(t, s, "c1", logout.ReasonLimit, 40)
		end(t, s, "b2", logout.ReasonIdle, 50)
		for _, tt := range []struct {
			name string
			q    logout.EventQuery
			want []string
		}{
			{"all", logout.EventQuery{Limit: 10}, []string{"b2", "c1", "a2", "b1", "a1"}},
			{"limit", logout.EventQuery{Limit: 2}, []string{"b2", "c1"}},
			{"limit 0 returns none", logout.EventQuery{}, []string{}},
			{"since is inclusive", logout.EventQuery{Since: at(30), Limit: 10}, []string{"b2", "c1", "a2"}},
			{"until is exclusive", logout.EventQuery{Until: at(30), Limit: 10}, []string{"b1", "a1"}},
			{"since and until", logout.EventQuery{Since: at(20), Until: at(50), Limit: 10}, []string{"c1", "a2", "b1"}},
			{"a user", logout.EventQuery{UserID: "alice", Limit: 10}, []string{"a2", "a1"}},
			{"a user in a range", logout.EventQuery{UserID: "bob", Since: at(11), Until: at(60), Limit: 10}, []string{"b2", "b1"}},
			{"a user, limited", logout.EventQuery{UserID: "bob", Limit: 1}, []string{"b2"}},
			{"a reason", logout.EventQuery{Reason: logout.ReasonForced, Limit: 10}, []string{"a2", "b1"}},
			{"a reason, limited", logout.EventQuery{Reason: logout.ReasonIdle, Limit: 1}, []string{"b2"}},
			{"a user and a reason", logout.EventQuery{UserID: "bob", Reason: logout.ReasonIdle, Limit: 10}, []string{"b2"}},
			{"every filter", logout.EventQuery{UserID: "alice", Reason: logout.ReasonIdle, Since: at(0), Until: at(11), Limit: 10}, []string{"a1"}},
			{"nobody", logout.EventQuery{UserID: "nobody", Limit: 10}, []string{}},
			{"an empty range", logout.EventQuery{Since: at(41), Until: at(50), Limit: 10}, []string{}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := events(t, s, tt.q); !slices.Equal(got, tt.want) {
					t.Fatalf("Events(%+v) = %v, want %v", tt.q, got, tt.want)
				}
			})
		}
	}},
	{"events: ties in time come newest logged first, through every filter and limit", func(t *testing.T, s logout.Store) {
		// Twelve events in one microsecond, more than nine so that an
		// order by the text of a sequence number would show.
		var want []string
		for i := range 12 {
			id := fmt.Sprintf("s%02d", i)
			mustCreate(t, s, session(id, "alice", 0))
			end(t, s, id, logout.ReasonIdle, 100)
			want = append([]string{id}, want...)
		}
		mustCreate(t, s, session("late", "alice", 0), session("early", "alice", 0))
		end(t, s, "late", logout.ReasonIdle, 200)
		end(t, s, "early", logout.ReasonIdle, 50) // logged last, but earlier
		all := append(append([]string{"late"}, want...), "early")
		for _, q := range []logout.EventQuery{{}, {UserID: "alice"}, {Reason: logout.ReasonIdle}, {Since: at(50), Until: at(201)}} {
			for _, limit := range []int{1, 2, 5, 13, 14, 20} {
				q.Limit = limit
				if got, want := events(t, s, q), all[:min(limit, len(all))]; !slices.Equal(got, want) {
					t.Fatalf("Events(%+v) = %v, want %v", q, got, want)
				}
			}
		}
	}},
	{"events: pruning by time keeps the newer ones for every filter", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a1", "alice", 0), session("a2", "alice", 0), session("b1", "bob", 0))
		end(t, s, "a1", logout.ReasonIdle, 10)
		end(t, s, "b1", logout.ReasonIdle, 20)
		end(t, s, "a2", logout.ReasonIdle, 30)
		n, err := s.DeleteEvents(ctx(t), at(20))
		if err != nil || n != 1 {
			t.Fatalf("DeleteEvents = %d, %v; want 1", n, err)
		}
		if got := events(t, s, logout.EventQuery{UserID: "alice", Limit: 10}); !slices.Equal(got, []string{"a2"}) {
			t.Fatalf("alice's events after pruning = %v, want [a2]", got)
		}
		if got := events(t, s, logout.EventQuery{Reason: logout.ReasonIdle, Limit: 10}); !slices.Equal(got, []string{"a2", "b1"}) {
			t.Fatalf("idle events after pruning = %v, want [a2 b1]", got)
		}
	}},
	{"reasons replaced, limit and closed round-trip", func(t *testing.T, s logout.Store) {
		reasons := []logout.Reason{logout.ReasonReplaced, logout.ReasonLimit, logout.ReasonClosed}
		for i, r := range reasons {
			id := "s-" + r.String()
			mustCreate(t, s, session(id, "alice", i))
			evs, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{id}}, r, at(10+i))
			if err != nil {
				t.Fatalf("EndSessions(%v): %v", r, err)
			}
			if len(evs) != 1 || evs[0].Reason != r {
				t.Fatalf("EndSessions(%v) = %+v, want one event of that reason", r, evs)
			}
			e, err := s.Event(ctx(t), id)
			if err != nil || e.Reason != r || !e.At.Equal(at(10+i)) {
				t.Fatalf("Event(%s) = %+v, %v; want %v at %s", id, e, err, r, at(10+i))
			}
			if got := events(t, s, logout.EventQuery{Reason: r, Limit: 10}); !slices.Equal(got, []string{id}) {
				t.Fatalf("Events of reason %v = %v, want [%s]", r, got, id)
			}
		}
		evs, err := s.Events(ctx(t), logout.EventQuery{Limit: 10})
		if err != nil || len(evs) != 3 {
			t.Fatalf("Events = %+v, %v; want 3", evs, err)
		}
		for i, e := range evs {
			if want := reasons[len(reasons)-1-i]; e.Reason != want {
				t.Fatalf("event %d has reason %v, want %v", i, e.Reason, want)
			}
		}
	}},
	{"settings: who and when round-trip", func(t *testing.T, s logout.Store) {
		saved := save(t, s, 0, 600, "alice@example.com", 5)
		got, err := s.Settings(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []logout.Settings{saved, got} {
			if st.ChangedBy != "alice@example.com" || !st.ChangedAt.Equal(at(5)) || st.Version != 1 {
				t.Fatalf("settings by %q at %s version %d, want alice@example.com at %s version 1", st.ChangedBy, st.ChangedAt, st.Version, at(5))
			}
		}
	}},
	{"settings history: each save appended with it, newest first", func(t *testing.T, s logout.Store) {
		if got := history(t, s, logout.HistoryQuery{Limit: 10}); len(got) != 0 {
			t.Fatalf("history of an empty store = %v, want none", got)
		}
		save(t, s, 0, 600, "alice", 10)
		save(t, s, 1, 700, "bob", 20)
		st := logout.DefaultSettings() // a stale save adds nothing
		st.ChangedBy = "mallory"
		if _, err := s.SaveSettings(ctx(t), st); err == nil {
			t.Fatal("a stale save succeeded")
		}
		save(t, s, 2, 800, "carol", 30)
		hs, err := s.SettingsHistory(ctx(t), logout.HistoryQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 3 {
			t.Fatalf("history has %d entries, want 3", len(hs))
		}
		for i, want := range []struct {
			version  int64
			lifetime time.Duration
			by       string
			at       time.Time
		}{{3, 800 * time.Second, "carol", at(30)}, {2, 700 * time.Second, "bob", at(20)}, {1, 600 * time.Second, "alice", at(10)}} {
			h := hs[i]
			if h.Version != want.version || h.Lifetime != want.lifetime || h.ChangedBy != want.by || !h.ChangedAt.Equal(want.at) || !h.ShowCounter {
				t.Fatalf("entry %d: version %d lifetime %v by %q at %s; want %+v", i, h.Version, h.Lifetime, h.ChangedBy, h.ChangedAt, want)
			}
		}
		cur, err := s.Settings(ctx(t))
		if err != nil || !cur.Equal(hs[0]) || cur.ChangedBy != hs[0].ChangedBy {
			t.Fatalf("Settings = %+v, %v; want the newest entry %+v", cur, err, hs[0])
		}
	}},
	{"settings history: of concurrent saves only the winner is recorded", func(t *testing.T, s logout.Store) {
		save(t, s, 0, 600, "first", 1)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				st := logout.DefaultSettings()
				st.Version, st.ChangedBy, st.ChangedAt = 1, fmt.Sprintf("w%d", i), at(2)
				if _, err := s.SaveSettings(context.Background(), st); err != nil && !errors.Is(err, logout.ErrConflict) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		hs, err := s.SettingsHistory(ctx(t), logout.HistoryQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		cur, err := s.Settings(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 2 || hs[0].Version != 2 || hs[0].ChangedBy != cur.ChangedBy || hs[1].ChangedBy != "first" {
			t.Fatalf("history %v with settings by %q; want v2 by the winner, then v1 by first", history(t, s, logout.HistoryQuery{Limit: 10}), cur.ChangedBy)
		}
	}},
	{"settings history: filters", func(t *testing.T, s logout.Store) {
		for i, who := range []string{"a", "b", "c", "d", "e"} {
			save(t, s, int64(i), 600+i, who, 10*(i+1))
		}
		for _, tt := range []struct {
			name string
			q    logout.HistoryQuery
			want []string
		}{
			{"all", logout.HistoryQuery{Limit: 10}, []string{"v5 e", "v4 d", "v3 c", "v2 b", "v1 a"}},
			{"limit", logout.HistoryQuery{Limit: 2}, []string{"v5 e", "v4 d"}},
			{"limit 0 returns none", logout.HistoryQuery{}, []string{}},
			{"since is inclusive", logout.HistoryQuery{Since: at(30), Limit: 10}, []string{"v5 e", "v4 d", "v3 c"}},
			{"until is exclusive", logout.HistoryQuery{Until: at(30), Limit: 10}, []string{"v2 b", "v1 a"}},
			{"before a version", logout.HistoryQuery{Before: 4, Limit: 2}, []string{"v3 c", "v2 b"}},
			{"the version before one", logout.HistoryQuery{Before: 2, Limit: 1}, []string{"v1 a"}},
			{"every filter", logout.HistoryQuery{Since: at(20), Until: at(50), Before: 4, Limit: 10}, []string{"v3 c", "v2 b"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := history(t, s, tt.q); !slices.Equal(got, tt.want) {
					t.Fatalf("SettingsHistory(%+v) = %v, want %v", tt.q, got, tt.want)
				}
			})
		}
	}},
	{"settings history: pruning keeps the newest entry", func(t *testing.T, s logout.Store) {
		if n, err := s.DeleteSettingsHistory(ctx(t), at(100)); err != nil || n != 0 {
			t.Fatalf("DeleteSettingsHistory of an empty history = %d, %v; want 0", n, err)
		}
		save(t, s, 0, 600, "a", 10)
		save(t, s, 1, 700, "b", 20)
		save(t, s, 2, 800, "c", 30)
		n, err := s.DeleteSettingsHistory(ctx(t), at(20))
		if err != nil || n != 1 {
			t.Fatalf("DeleteSettingsHistory(20) = %d, %v; want 1", n, err)
		}
		if got, want := history(t, s, logout.HistoryQuery{Limit: 10}), []string{"v3 c", "v2 b"}; !slices.Equal(got, want) {
			t.Fatalf("history = %v, want %v", got, want)
		}
		n, err = s.DeleteSettingsHistory(ctx(t), at(1000))
		if err != nil || n != 1 {
			t.Fatalf("DeleteSettingsHistory(1000) = %d, %v; want 1 (the newest stays)", n, err)
		}
		if got, want := history(t, s, logout.HistoryQuery{Limit: 10}), []string{"v3 c"}; !slices.Equal(got, want) {
			t.Fatalf("history = %v, want %v", got, want)
		}
		save(t, s, 3, 900, "d", 40)
		if got, want := history(t, s, logout.HistoryQuery{Limit: 10}), []string{"v4 d", "v3 c"}; !slices.Equal(got, want) {
			t.Fatalf("history after another save = %v, want %v", got, want)
		}
	}},
}
