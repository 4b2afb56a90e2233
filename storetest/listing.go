package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// listingCases are the cases of listing, counting and paging sessions and of
// finding the expired ones.
var listingCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
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
}

// scaleCases are the cases of many sessions at once.
var scaleCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
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
