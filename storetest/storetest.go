// Package storetest is the conformance suite for implementations of
// [logout.Store] and [logout.Watcher], shaped like testing/slogtest. Every
// store in this module passes it, and so should yours:
//
//	func TestStore(t *testing.T) {
//		var path string
//		storetest.Run(t, func(t *testing.T) logout.Store {
//			path = filepath.Join(t.TempDir(), "logout.db")
//			return mystore.Open(t, path) // a new, empty store for each case
//		}, func(t *testing.T) logout.Store {
//			return mystore.Open(t, path) // the same data, as another process opens it
//		})
//	}
//
// Each case is a subtest named for the behaviour it checks. The cases of
// a [logout.Watcher] wait for announcements with a timeout and never
// sleep.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// Run checks that the stores made by newStore meet the [logout.Store]
// contract and, when they implement it, the [logout.Watcher] contract, one
// subtest per rule.
//
// newStore must return a new, empty store each time it is called and
// arrange its clean-up with t.Cleanup. newPeer returns another Store
// value on the data of the store that newStore made last, for the same t,
// as another process would open it: its own connections to the same
// file, schema or key prefix. The cases of sharing run on the pair, and
// a Watcher peer must hear what the first store changes. newPeer may be
// nil for a store that no second value can share, such as
// [logout.MemoryStore]: the sharing cases are then skipped, and a Watcher
// listens to itself. Run runs the cases one at a time, never in
// parallel, so newStore and newPeer may share variables.
func Run(t *testing.T, newStore, newPeer func(t *testing.T) logout.Store) {
	t.Helper()
	watcher := false // whether newStore makes Watchers
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			_, watcher = s.(logout.Watcher)
			c.run(t, s)
		})
	}
	for _, c := range deviceCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
	for _, c := range auditCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
	for _, c := range peerCases {
		t.Run(c.name, func(t *testing.T) {
			if newPeer == nil {
				t.Skip("storetest: Run got no newPeer: no second store value shares the data")
			}
			s := newStore(t)
			c.run(t, s, newPeer(t))
		})
	}
	if !watcher {
		return
	}
	for _, c := range watchCases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			peer := s
			if newPeer != nil {
				peer = newPeer(t)
			}
			w, ok := peer.(logout.Watcher)
			if !ok {
				t.Fatalf("the store is a logout.Watcher, but its peer, a %T, is not", peer)
			}
			c.run(t, s, w)
		})
	}
}

// base is a fixed time with microseconds, as the Manager passes them.
var base = time.Date(2026, 11, 25, 9, 30, 0, 123456000, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func session(id, user string, created int, roles ...string) logout.Session {
	return logout.Session{
		ID: id, UserID: user, Roles: roles,
		Created: at(created), LastSeen: at(created), Deadline: at(created + 900),
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustCreate(t *testing.T, s logout.Store, sessions ...logout.Session) {
	t.Helper()
	for _, x := range sessions {
		if err := s.CreateSession(ctx(t), x); err != nil {
			t.Fatalf("CreateSession(%q): %v", x.ID, err)
		}
	}
}

func equalSession(a, b logout.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.UserName == b.UserName && slices.Equal(a.Roles, b.Roles) &&
		a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) && a.Deadline.Equal(b.Deadline) &&
		a.UserAgent == b.UserAgent && a.Address == b.Address && slices.Equal(a.Tags, b.Tags)
}

func fmtSession(s logout.Session) string {
	return fmt.Sprintf("{%s %s %q %v created=%s seen=%s deadline=%s ua=%q addr=%q tags=%q}", s.ID, s.UserID, s.UserName, s.Roles,
		s.Created.Format(time.RFC3339Nano), s.LastSeen.Format(time.RFC3339Nano), s.Deadline.Format(time.RFC3339Nano),
		s.UserAgent, s.Address, s.Tags)
}

// wantSessions fails the test unless got holds the sessions of want, in
// order, every field equal.
func wantSessions(t *testing.T, what string, got []logout.Session, want ...logout.Session) {
	t.Helper()
	if !slices.EqualFunc(got, want, equalSession) {
		f := func(ss []logout.Session) []string {
			out := make([]string, len(ss))
			for i, s := range ss {
				out[i] = fmtSession(s)
			}
			return out
		}
		t.Fatalf("%s\n got %s\nwant %s", what, f(got), f(want))
	}
}

func ids(ss []logout.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// list returns one page, failing the test on an error.
func list(t *testing.T, s logout.Store, opts logout.ListOptions) []logout.Session {
	t.Helper()
	page, err := s.ListSessions(ctx(t), opts)
	if err != nil {
		t.Fatalf("ListSessions(%+v): %v", opts, err)
	}
	return page
}

// walk reads every session of user ("" for all) in pages of limit, and
// checks that each page but the last is full and that the last is not.
func walk(t *testing.T, s logout.Store, user string, limit int) []logout.Session {
	t.Helper()
	var out []logout.Session
	opts := logout.ListOptions{UserID: user, Limit: limit}
	for {
		page := list(t, s, opts)
		if len(page) > limit {
			t.Fatalf("ListSessions(%+v) returned %d sessions, more than the limit", opts, len(page))
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
		opts.After = logout.CursorOf(page[len(page)-1])
		if len(out) > 100000 {
			t.Fatalf("walk of %q does not end", user)
		}
	}
}

// setDeadlines calls SetDeadlines, failing the test on an error.
func setDeadlines(t *testing.T, s logout.Store, updates ...logout.DeadlineUpdate) int {
	t.Helper()
	n, err := s.SetDeadlines(ctx(t), updates)
	if err != nil {
		t.Fatalf("SetDeadlines(%d updates): %v", len(updates), err)
	}
	return n
}

func wantCount(t *testing.T, s logout.Store, user string, want int) {
	t.Helper()
	if got, err := s.CountSessions(ctx(t), logout.ListOptions{UserID: user}); err != nil || got != want {
		t.Fatalf("CountSessions(%q) = %d, %v; want %d", user, got, err, want)
	}
}

func eventIDs(es []logout.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.SessionID
	}
	slices.Sort(out)
	return out
}

func wantGone(t *testing.T, s logout.Store, id string) {
	t.Helper()
	if got, err := s.Session(ctx(t), id); !errors.Is(err, logout.ErrNotFound) {
		t.Fatalf("Session(%q) = %s, %v; want ErrNotFound", id, fmtSession(got), err)
	}
}

func wantSession(t *testing.T, s logout.Store, want logout.Session) {
	t.Helper()
	got, err := s.Session(ctx(t), want.ID)
	if err != nil {
		t.Fatalf("Session(%q): %v", want.ID, err)
	}
	if !equalSession(got, want) {
		t.Fatalf("Session(%q)\n got %s\nwant %s", want.ID, fmtSession(got), fmtSession(want))
	}
}

var cases = []struct {
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
	{"list sessions of all users and of one, by creation", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("c", "alice", 2), session("a", "bob", 0), session("b", "alice", 1), session("d", "alice", 2))
		if got, want := ids(list(t, s, logout.ListOptions{Limit: 10})), []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
			t.Fatalf("ListSessions(all) = %v, want %v", got, want)
		}
		alice := list(t, s, logout.ListOptions{UserID: "alice", Limit: 10})
		if got, want := ids(alice), []string{"b", "c", "d"}; !slices.Equal(got, want) {
			t.Fatalf("ListSessions(alice) = %v, want %v", got, want)
		}
		if !equalSession(alice[0], session("b", "alice", 1)) {
			t.Fatalf("listed session %s lost fields", fmtSession(alice[0]))
		}
		if none := list(t, s, logout.ListOptions{UserID: "nobody", Limit: 10}); len(none) != 0 {
			t.Fatalf("ListSessions(nobody) = %v, want none", ids(none))
		}
	}},
	{"count sessions of one user and of all, and after ends", func(t *testing.T, s logout.Store) {
		wantCount(t, s, "", 0)
		wantCount(t, s, "alice", 0)
		mustCreate(t, s, session("a1", "alice", 0), session("a2", "alice", 1), session("a3", "alice", 1),
			session("b1", "bob", 2), session("c1", "carol", 3))
		wantCount(t, s, "", 5)
		wantCount(t, s, "alice", 3)
		wantCount(t, s, "bob", 1)
		wantCount(t, s, "nobody", 0)
		if err := s.TouchSession(ctx(t), "a1", at(10), at(910)); err != nil {
			t.Fatal(err)
		}
		wantCount(t, s, "alice", 3)
		end := func(sel logout.Selector) {
			t.Helper()
			if _, err := s.EndSessions(ctx(t), sel, logout.ReasonForced, at(20)); err != nil {
				t.Fatal(err)
			}
		}
		end(logout.Selector{IDs: []string{"a2", "missing"}})
		wantCount(t, s, "alice", 2)
		wantCount(t, s, "", 4)
		end(logout.Selector{UserID: "alice", Except: "a3"})
		wantCount(t, s, "alice", 1)
		wantCount(t, s, "", 3)
		end(logout.Selector{All: true, Except: "b1"})
		wantCount(t, s, "alice", 0)
		wantCount(t, s, "carol", 0)
		wantCount(t, s, "bob", 1)
		wantCount(t, s, "", 1)
		end(logout.Selector{UserID: "bob"})
		wantCount(t, s, "bob", 0)
		wantCount(t, s, "", 0)
		mustCreate(t, s, session("a1", "alice", 30)) // an ID may come back after its end
		wantCount(t, s, "alice", 1)
		wantCount(t, s, "", 1)
	}},
	{"pages cover every session exactly once, in order", func(t *testing.T, s logout.Store) {
		// 40 sessions of 3 users, many created in the same microsecond,
		// created out of order.
		var all []logout.Session
		for i := range 40 {
			x := session(fmt.Sprintf("s%02d", (i*17)%40), fmt.Sprintf("u%d", i%3), i%7)
			all = append(all, x)
		}
		mustCreate(t, s, all...)
		slices.SortFunc(all, func(a, b logout.Session) int {
			if c := a.Created.Compare(b.Created); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		for _, user := range []string{"", "u0", "u1", "u2", "nobody"} {
			want := slices.DeleteFunc(slices.Clone(all), func(x logout.Session) bool { return user != "" && x.UserID != user })
			for _, limit := range []int{1, 2, 3, 7, 13, 14, 40, 41, 100} {
				got := walk(t, s, user, limit)
				if !slices.Equal(ids(got), ids(want)) {
					t.Fatalf("user %q, pages of %d: walked %v, want %v", user, limit, ids(got), ids(want))
				}
				for i := range got {
					if !equalSession(got[i], want[i]) {
						t.Fatalf("user %q: listed %s, want %s", user, fmtSession(got[i]), fmtSession(want[i]))
					}
				}
			}
		}
	}},
	{"a cursor between sessions of the same microsecond", func(t *testing.T, s logout.Store) {
		// IDs order byte by byte: "A" < "B" < "_x" < "a" < "b", whatever
		// the collation of a database.
		mustCreate(t, s, session("b", "u", 1), session("_x", "u", 1), session("B", "v", 1), session("a", "u", 1),
			session("A", "u", 1), session("first", "u", 0), session("last", "v", 2))
		for _, tt := range []struct {
			name string
			opts logout.ListOptions
			want []string
		}{
			{"zero cursor starts at the first", logout.ListOptions{Limit: 3}, []string{"first", "A", "B"}},
			{"after an existing session", logout.ListOptions{After: logout.Cursor{Created: at(1), ID: "B"}, Limit: 3}, []string{"_x", "a", "b"}},
			{"after a position with no session", logout.ListOptions{After: logout.Cursor{Created: at(1), ID: "Z"}, Limit: 10}, []string{"_x", "a", "b", "last"}},
			{"after the last of a microsecond", logout.ListOptions{After: logout.Cursor{Created: at(1), ID: "b"}, Limit: 10}, []string{"last"}},
			{"after an earlier time", logout.ListOptions{After: logout.Cursor{Created: at(0).Add(time.Microsecond)}, Limit: 2}, []string{"A", "B"}},
			{"one microsecond later skips the whole microsecond", logout.ListOptions{After: logout.Cursor{Created: at(1).Add(time.Microsecond)}, Limit: 10}, []string{"last"}},
			{"after the last session", logout.ListOptions{After: logout.Cursor{Created: at(2), ID: "last"}, Limit: 10}, nil},
			{"a user's page after a session of another", logout.ListOptions{UserID: "u", After: logout.Cursor{Created: at(1), ID: "B"}, Limit: 10}, []string{"_x", "a", "b"}},
			{"a user's page from the start", logout.ListOptions{UserID: "v", Limit: 10}, []string{"B", "last"}},
			{"limit 0 returns none", logout.ListOptions{Limit: 0}, nil},
			{"negative limit returns none", logout.ListOptions{Limit: -1}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(list(t, s, tt.opts)); !slices.Equal(got, tt.want) {
					t.Fatalf("ListSessions(%+v) = %v, want %v", tt.opts, got, tt.want)
				}
			})
		}
	}},
	{"a walk goes on after its cursor's session ended", func(t *testing.T, s logout.Store) {
		for i := range 9 {
			mustCreate(t, s, session(fmt.Sprintf("s%d", i), "alice", i/3))
		}
		for _, user := range []string{"", "alice"} {
			page := list(t, s, logout.ListOptions{UserID: user, Limit: 4})
			if got, want := ids(page), []string{"s0", "s1", "s2", "s3"}; !slices.Equal(got, want) {
				t.Fatalf("first page of %q = %v, want %v", user, got, want)
			}
		}
		// Between pages: the cursor's session and the next one end, and
		// a touch moves another's deadline; none of that moves the walk.
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"s3", "s4"}}, logout.ReasonForced, at(5)); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchSession(ctx(t), "s6", at(50), at(5000)); err != nil {
			t.Fatal(err)
		}
		for _, user := range []string{"", "alice"} {
			page := list(t, s, logout.ListOptions{UserID: user, After: logout.CursorOf(session("s3", "alice", 1)), Limit: 4})
			if got, want := ids(page), []string{"s5", "s6", "s7", "s8"}; !slices.Equal(got, want) {
				t.Fatalf("second page of %q = %v, want %v", user, got, want)
			}
		}
	}},
	{"expired sessions: deadline at or before t, earliest first, limited", func(t *testing.T, s logout.Store) {
		for i, id := range []string{"e3", "e1", "live", "e2"} {
			x := session(id, "u", i)
			x.Deadline = map[string]time.Time{"e1": at(100), "e2": at(200), "e3": at(300), "live": at(301)}[id]
			mustCreate(t, s, x)
		}
		got, err := s.ExpiredSessions(ctx(t), at(300), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"e1", "e2", "e3"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ExpiredSessions(300, 10) = %v, want %v", ids(got), want)
		}
		got, err = s.ExpiredSessions(ctx(t), at(300), 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"e1", "e2"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ExpiredSessions(300, 2) = %v, want %v", ids(got), want)
		}
		if err := s.TouchSession(ctx(t), "e1", at(250), at(1150)); err != nil {
			t.Fatal(err)
		}
		got, err = s.ExpiredSessions(ctx(t), at(300), 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"e2", "e3"}; !slices.Equal(ids(got), want) {
			t.Fatalf("after touching e1, ExpiredSessions = %v, want %v", ids(got), want)
		}
	}},
	{"end by IDs logs one event each and skips missing", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "alice", 1), session("c", "bob", 2))
		evs, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"a", "c", "missing"}}, logout.ReasonForced, at(10))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"a", "c"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
		for _, e := range evs {
			want := map[string]string{"a": "alice", "c": "bob"}[e.SessionID]
			if e.UserID != want || e.Reason != logout.ReasonForced || !e.At.Equal(at(10)) {
				t.Fatalf("event %+v, want user %s, forced, at %s", e, want, at(10))
			}
		}
		wantGone(t, s, "a")
		wantGone(t, s, "c")
		wantSession(t, s, session("b", "alice", 1))
	}},
	{"end a user's sessions", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "alice", 1), session("c", "bob", 2))
		evs, err := s.EndSessions(ctx(t), logout.Selector{UserID: "alice"}, logout.ReasonForced, at(10))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
		wantSession(t, s, session("c", "bob", 2))
	}},
	{"end everyone except one", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "alice", 1), session("c", "bob", 2))
		evs, err := s.EndSessions(ctx(t), logout.Selector{All: true, Except: "b"}, logout.ReasonForced, at(10))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"a", "c"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
		wantSession(t, s, session("b", "alice", 1))
		evs, err = s.EndSessions(ctx(t), logout.Selector{All: true}, logout.ReasonForced, at(11))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"b"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
	}},
	{"end a user except one session", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "alice", 1))
		evs, err := s.EndSessions(ctx(t), logout.Selector{UserID: "alice", Except: "a"}, logout.ReasonForced, at(10))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"b"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
	}},
	{"idle end loses to newer activity", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "bob", 0))
		if err := s.TouchSession(ctx(t), "a", at(50), at(950)); err != nil {
			t.Fatal(err)
		}
		evs, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"a", "b"}, SeenBy: at(0)}, logout.ReasonIdle, at(900))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"b"}; !slices.Equal(got, want) {
			t.Fatalf("ended %v, want %v", got, want)
		}
		if evs[0].Reason != logout.ReasonIdle {
			t.Fatalf("reason %v, want idle", evs[0].Reason)
		}
		wantSession(t, s, logout.Session{ID: "a", UserID: "alice", Created: at(0), LastSeen: at(50), Deadline: at(950)})
	}},
	{"a selector must choose exactly one way", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0))
		for _, sel := range []logout.Selector{{}, {IDs: []string{"a"}, All: true}, {UserID: "alice", All: true}, {Except: "a"}, {IDs: []string{"a", ""}}} {
			if _, err := s.EndSessions(ctx(t), sel, logout.ReasonForced, at(1)); err == nil {
				t.Fatalf("EndSessions(%+v) = nil error, want one", sel)
			}
		}
		wantSession(t, s, session("a", "alice", 0))
	}},
	{"concurrent ends of one session log it once", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0))
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sel := logout.Selector{IDs: []string{"a"}}
				if i%2 == 0 {
					sel = logout.Selector{UserID: "alice"}
				}
				evs, err := s.EndSessions(context.Background(), sel, logout.ReasonIdle, at(900))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += len(evs)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total != 1 {
			t.Fatalf("%d events returned in all, want 1", total)
		}
		evs, err := s.Events(ctx(t), logout.EventQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events logged, want 1", len(evs))
		}
	}},
	{"the event of a session and the log newest first", func(t *testing.T, s logout.Store) {
		if _, err := s.Event(ctx(t), "a"); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("Event of unknown session = %v, want ErrNotFound", err)
		}
		mustCreate(t, s, session("a", "alice", 0), session("b", "bob", 0), session("c", "carol", 0))
		end := func(id string, r logout.Reason, sec int) {
			if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{id}}, r, at(sec)); err != nil {
				t.Fatal(err)
			}
		}
		end("b", logout.ReasonAbsolute, 10)
		end("a", logout.ReasonManual, 20)
		end("c", logout.ReasonIdle, 30)
		e, err := s.Event(ctx(t), "a")
		if err != nil {
			t.Fatal(err)
		}
		if want := (logout.Event{SessionID: "a", UserID: "alice", Reason: logout.ReasonManual, At: at(20)}); e.SessionID != want.SessionID ||
			e.UserID != want.UserID || e.Reason != want.Reason || !e.At.Equal(want.At) {
			t.Fatalf("Event(a) = %+v, want %+v", e, want)
		}
		evs, err := s.Events(ctx(t), logout.EventQuery{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].SessionID != "c" || evs[1].SessionID != "a" {
			t.Fatalf("Events(2) = %+v, want c then a", evs)
		}
		n, err := s.DeleteEvents(ctx(t), at(20))
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("DeleteEvents removed %d, want 1", n)
		}
		evs, err = s.Events(ctx(t), logout.EventQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].SessionID != "c" || evs[1].SessionID != "a" {
			t.Fatalf("after DeleteEvents, Events = %+v, want c then a", evs)
		}
		if _, err := s.Event(ctx(t), "b"); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("Event of pruned session = %v, want ErrNotFound", err)
		}
	}},
	{"the log is newest first by time, then by logging order", func(t *testing.T, s logout.Store) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "bob", 0), session("c", "carol", 0), session("d", "dave", 0))
		end := func(id string, sec int) {
			if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{id}}, logout.ReasonIdle, at(sec)); err != nil {
				t.Fatal(err)
			}
		}
		// A sweep logs late idle ends at their deadlines, earlier than
		// events logged before them.
		end("a", 50)
		end("b", 20)
		end("c", 50)
		end("d", 30)
		evs, err := s.Events(ctx(t), logout.EventQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.SessionID)
		}
		if want := []string{"c", "a", "d", "b"}; !slices.Equal(got, want) {
			t.Fatalf("Events = %v, want %v", got, want)
		}
	}},
	{"settings: none saved, save, conflict, round-trip", func(t *testing.T, s logout.Store) {
		if _, err := s.Settings(ctx(t)); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("Settings on an empty store = %v, want ErrNotFound", err)
		}
		want := logout.Settings{
			Lifetime: 600 * time.Second, ShowCounter: false, AbsoluteLifetime: 8 * time.Hour,
			WarningLead: 45 * time.Second, FrontendActivity: true,
			RoleLifetimes: map[string]time.Duration{"editor": 300 * time.Second, "admin": 120 * time.Second},
		}
		saved, err := s.SaveSettings(ctx(t), want)
		if err != nil {
			t.Fatal(err)
		}
		want.Version = 1
		if !saved.Equal(want) {
			t.Fatalf("SaveSettings = %+v, want %+v", saved, want)
		}
		got, err := s.Settings(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("Settings = %+v, want %+v", got, want)
		}
		stale := logout.DefaultSettings() // version 0
		if _, err := s.SaveSettings(ctx(t), stale); !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("SaveSettings with a stale version = %v, want ErrConflict", err)
		}
		if got, _ := s.Settings(ctx(t)); !got.Equal(want) {
			t.Fatalf("a refused save changed the settings to %+v", got)
		}
		next := logout.DefaultSettings()
		next.Version = 1
		saved, err = s.SaveSettings(ctx(t), next)
		if err != nil {
			t.Fatal(err)
		}
		next.Version = 2
		if got, _ := s.Settings(ctx(t)); !saved.Equal(next) || !got.Equal(next) {
			t.Fatalf("second save = %+v, stored %+v; want %+v", saved, got, next)
		}
	}},
	{"concurrent settings saves: exactly one wins", func(t *testing.T, s logout.Store) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := logout.DefaultSettings()
				st.Lifetime = time.Duration(100+i) * time.Second
				_, err := s.SaveSettings(context.Background(), st)
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, logout.ErrConflict):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d saves of version 0 succeeded, want 1", wins)
		}
		got, err := s.Settings(ctx(t))
		if err != nil || got.Version != 1 {
			t.Fatalf("Settings = %+v, %v; want version 1", got, err)
		}
	}},
	{"many sessions: expired lookup stays exact", func(t *testing.T, s logout.Store) {
		for i := range 200 {
			x := session(fmt.Sprintf("s%03d", i), fmt.Sprintf("u%d", i%7), i)
			x.Deadline = at(1000 + i)
			mustCreate(t, s, x)
		}
		got, err := s.ExpiredSessions(ctx(t), at(1004), 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"s000", "s001", "s002", "s003", "s004"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ExpiredSessions = %v, want %v", ids(got), want)
		}
		evs, err := s.EndSessions(ctx(t), logout.Selector{UserID: "u3"}, logout.ReasonForced, at(5))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 29 {
			t.Fatalf("ended %d sessions of u3, want 29", len(evs))
		}
		wantCount(t, s, "", 171)
		wantCount(t, s, "u3", 0)
		wantCount(t, s, "u4", 28)
		if all := walk(t, s, "", 50); len(all) != 171 {
			t.Fatalf("walked %d sessions, want 171", len(all))
		}
		if page := list(t, s, logout.ListOptions{UserID: "u4", After: logout.Cursor{Created: at(100)}, Limit: 5}); !slices.Equal(ids(page), []string{"s102", "s109", "s116", "s123", "s130"}) {
			t.Fatalf("page of u4 after 100 s = %v", ids(page))
		}
	}},
}
