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

// sessionCases are the cases of creating, reading and touching sessions and
// of setting their deadlines.
var sessionCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
	{"session round-trips every field", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0, "admin", "editor")
		a.UserName = "Zoë Ørsted-Nakamura, 'admin' \"ü\"" // a name to show: any text
		a.LastSeen, a.Deadline = at(5), at(905)
		b := session("b1", "bob", 1) // no name
		mustCreate(t, s, a, b)
		wantSession(t, s, a)
		wantSession(t, s, b)
		wantSessions(t, "ListSessions", list(t, s, logout.ListOptions{Limit: 10}), a, b)
		expired, err := s.ExpiredSessions(ctx(t), at(2000), 10)
		if err != nil {
			t.Fatal(err)
		}
		wantSessions(t, "ExpiredSessions", expired, b, a) // by deadline: 901, 905
	}},
	{"missing session is ErrNotFound", func(t *testing.T, s logout.Store) {
		wantGone(t, s, "nope")
	}},
	{"create with a taken ID is ErrConflict and keeps the first", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0)
		mustCreate(t, s, a)
		err := s.CreateSession(ctx(t), session("a1", "mallory", 3))
		if !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("second CreateSession = %v, want ErrConflict", err)
		}
		wantSession(t, s, a)
	}},
	{"touch moves activity and deadline forward", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0)
		mustCreate(t, s, a)
		if err := s.TouchSession(ctx(t), "a1", at(10), at(910)); err != nil {
			t.Fatal(err)
		}
		a.LastSeen, a.Deadline = at(10), at(910)
		wantSession(t, s, a)
	}},
	{"touch with older activity changes nothing", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0)
		mustCreate(t, s, a)
		if err := s.TouchSession(ctx(t), "a1", at(10), at(910)); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchSession(ctx(t), "a1", at(5), at(2000)); err != nil {
			t.Fatal(err)
		}
		a.LastSeen, a.Deadline = at(10), at(910)
		wantSession(t, s, a)
	}},
	{"touch with equal activity refreshes the deadline", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0)
		mustCreate(t, s, a)
		if err := s.TouchSession(ctx(t), "a1", at(0), at(60)); err != nil {
			t.Fatal(err)
		}
		a.Deadline = at(60)
		wantSession(t, s, a)
	}},
	{"touch of a missing session is ErrNotFound and creates nothing", func(t *testing.T, s logout.Store) {
		if err := s.TouchSession(ctx(t), "ghost", at(1), at(901)); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("TouchSession = %v, want ErrNotFound", err)
		}
		wantGone(t, s, "ghost")
	}},
	{"touch never brings back an ended session", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a1", "alice", 0))
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"a1"}}, logout.ReasonForced, at(3)); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchSession(ctx(t), "a1", at(4), at(904)); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("TouchSession after end = %v, want ErrNotFound", err)
		}
		wantGone(t, s, "a1")
	}},
	{"set deadlines of present sessions, skipping absent ones", func(t *testing.T, s logout.Store) {
		a, b, c := session("a", "alice", 0, "admin"), session("b", "bob", 1), session("c", "carol", 2)
		mustCreate(t, s, a, b, c)
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"c"}}, logout.ReasonForced, at(3)); err != nil {
			t.Fatal(err)
		}
		n := setDeadlines(t, s,
			logout.DeadlineUpdate{ID: "a", Seen: at(0), Deadline: at(60)},
			logout.DeadlineUpdate{ID: "ghost", Seen: at(0), Deadline: at(60)},
			logout.DeadlineUpdate{ID: "b", Seen: at(1), Deadline: at(5000)},
			logout.DeadlineUpdate{ID: "c", Seen: at(2), Deadline: at(5000)})
		if n != 2 {
			t.Fatalf("SetDeadlines updated %d sessions, want 2 (a and b)", n)
		}
		a.Deadline, b.Deadline = at(60), at(5000)
		wantSession(t, s, a)
		wantSession(t, s, b)
		wantGone(t, s, "ghost")
		wantGone(t, s, "c")
		wantCount(t, s, "", 2)
		if n := setDeadlines(t, s, logout.DeadlineUpdate{ID: "a", Seen: at(0), Deadline: at(60)}); n != 1 {
			t.Fatalf("SetDeadlines to the stored deadline updated %d sessions, want 1", n)
		}
		if n := setDeadlines(t, s); n != 0 {
			t.Fatalf("SetDeadlines() = %d, want 0", n)
		}
	}},
	{"set deadlines only where LastSeen is the one given", func(t *testing.T, s logout.Store) {
		a, b := session("a", "alice", 0), session("b", "bob", 0)
		mustCreate(t, s, a, b)
		if err := s.TouchSession(ctx(t), "a", at(50), at(950)); err != nil {
			t.Fatal(err)
		}
		// a was touched meanwhile: a deadline computed from its older
		// activity, or from activity it never had, must not win.
		n := setDeadlines(t, s,
			logout.DeadlineUpdate{ID: "a", Seen: at(0), Deadline: at(5000)},
			logout.DeadlineUpdate{ID: "b", Seen: at(0).Add(time.Microsecond), Deadline: at(5000)})
		if n != 0 {
			t.Fatalf("SetDeadlines with stale or unknown LastSeen updated %d sessions, want 0", n)
		}
		if n := setDeadlines(t, s, logout.DeadlineUpdate{ID: "a", Seen: at(60), Deadline: at(6000)}); n != 0 {
			t.Fatalf("SetDeadlines with a LastSeen later than the stored one updated %d sessions, want 0", n)
		}
		a.LastSeen, a.Deadline = at(50), at(950)
		wantSession(t, s, a)
		wantSession(t, s, b)
		if n := setDeadlines(t, s, logout.DeadlineUpdate{ID: "a", Seen: at(50), Deadline: at(3000)}); n != 1 {
			t.Fatalf("SetDeadlines with the stored LastSeen updated %d sessions, want 1", n)
		}
		a.Deadline = at(3000)
		wantSession(t, s, a)
	}},
	{"set deadlines moves sessions in and out of the expired ones", func(t *testing.T, s logout.Store) {
		for id, d := range map[string]int{"e1": 100, "e2": 200, "live": 1000, "later": 2000} {
			x := session(id, "u", 0)
			x.Deadline = at(d)
			mustCreate(t, s, x)
		}
		// A lifetime made longer saves e1; a shorter one ends live
		// first, later too but after e2.
		n := setDeadlines(t, s,
			logout.DeadlineUpdate{ID: "e1", Seen: at(0), Deadline: at(5000)},
			logout.DeadlineUpdate{ID: "live", Seen: at(0), Deadline: at(150)},
			logout.DeadlineUpdate{ID: "later", Seen: at(0), Deadline: at(250)})
		if n != 3 {
			t.Fatalf("SetDeadlines updated %d sessions, want 3", n)
		}
		got, err := s.ExpiredSessions(ctx(t), at(300), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"live", "e2", "later"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ExpiredSessions(300) = %v, want %v", ids(got), want)
		}
		if !got[0].Deadline.Equal(at(150)) || !got[0].LastSeen.Equal(at(0)) {
			t.Fatalf("expired session %s, want deadline %s and LastSeen unchanged", fmtSession(got[0]), at(150))
		}
		if got, err := s.ExpiredSessions(ctx(t), at(4999), 10); err != nil || slices.Contains(ids(got), "e1") {
			t.Fatalf("ExpiredSessions(4999) = %v, %v; want no e1", ids(got), err)
		}
		if page := list(t, s, logout.ListOptions{Limit: 10}); len(page) != 4 {
			t.Fatalf("ListSessions = %v, want 4 sessions", ids(page))
		}
	}},
	{"set deadlines of many sessions in one call", func(t *testing.T, s logout.Store) {
		const n = 600 // more than the Manager's batch of 500
		var ups []logout.DeadlineUpdate
		want := make(map[string]time.Time)
		for i := range n {
			x := session(fmt.Sprintf("s%04d", i), fmt.Sprintf("u%d", i%5), i%60)
			mustCreate(t, s, x)
			ups = append(ups, logout.DeadlineUpdate{ID: x.ID, Seen: x.LastSeen, Deadline: at(10000 + i)})
			want[x.ID] = at(10000 + i)
		}
		slices.Reverse(ups) // not in the store's order
		if got := setDeadlines(t, s, ups...); got != n {
			t.Fatalf("SetDeadlines updated %d sessions, want %d", got, n)
		}
		all := walk(t, s, "", 500)
		if len(all) != n {
			t.Fatalf("walked %d sessions, want %d", len(all), n)
		}
		for _, x := range all {
			if !x.Deadline.Equal(want[x.ID]) {
				t.Fatalf("session %s has deadline %s, want %s", x.ID, x.Deadline, want[x.ID])
			}
		}
		got, err := s.ExpiredSessions(ctx(t), at(10002), 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"s0000", "s0001", "s0002"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ExpiredSessions = %v, want %v", ids(got), want)
		}
	}},
	{"set deadlines never overwrites a concurrent touch", func(t *testing.T, s logout.Store) {
		// Whichever comes first, the touch's deadline stays: after it,
		// LastSeen no longer matches; before it, the touch overwrites.
		const n = 200
		var ups []logout.DeadlineUpdate
		for i := range n {
			x := session(fmt.Sprintf("s%03d", i), "u", 0)
			mustCreate(t, s, x)
			ups = append(ups, logout.DeadlineUpdate{ID: x.ID, Seen: x.LastSeen, Deadline: at(100)})
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for page := range slices.Chunk(ups, 20) {
				if _, err := s.SetDeadlines(context.Background(), page); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for _, u := range ups {
				if err := s.TouchSession(context.Background(), u.ID, at(5), at(905)); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Wait()
		for _, x := range walk(t, s, "", 100) {
			if !x.LastSeen.Equal(at(5)) || !x.Deadline.Equal(at(905)) {
				t.Fatalf("session %s, want the touch's LastSeen %s and deadline %s", fmtSession(x), at(5), at(905))
			}
		}
		got, err := s.ExpiredSessions(ctx(t), at(900), 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("ExpiredSessions(900) = %v, %v; want none", ids(got), err)
		}
	}},
}
