package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gologout/logout"
)

// walkAll reads every session that opts selects, in pages of opts.Limit,
// checking that each page but the last is full and that the last is not.
func walkAll(t *testing.T, s logout.Store, opts logout.ListOptions) []logout.Session {
	t.Helper()
	var out []logout.Session
	for {
		page := list(t, s, opts)
		if len(page) > opts.Limit {
			t.Fatalf("ListSessions(%+v) returned %d sessions, more than the limit", opts, len(page))
		}
		out = append(out, page...)
		if len(page) < opts.Limit {
			return out
		}
		opts.After = logout.CursorOf(page[len(page)-1])
		if len(out) > 100000 {
			t.Fatalf("walk of %+v does not end", opts)
		}
	}
}

var orders = []struct {
	name  string
	order logout.SessionOrder
}{
	{"OldestFirst", logout.OldestFirst},
	{"NewestFirst", logout.NewestFirst},
	{"ActiveFirst", logout.ActiveFirst},
	{"EndingFirst", logout.EndingFirst},
}

// deviceCases check what a session keeps to be told apart (its
// User-Agent, address and tags), the selection by tag and address, and
// the orders of a listing.
var deviceCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
	{"session keeps its user agent, address and tags", func(t *testing.T, s logout.Store) {
		a := session("a1", "alice", 0)
		a.UserAgent = `Mozilla/5.0 (X11; Linux x86_64) "quoted" 'ü' ☃ AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36`
		a.Address = "2001:db8::1"
		a.Tags = []string{"oidc:sid:1", "oidc:sub:2", "t3 with space", "%_*?[]"}
		b := session("b1", "bob", 1) // none of them
		mustCreate(t, s, a, b)
		wantSession(t, s, a)
		wantSession(t, s, b)
		wantSessions(t, "ListSessions", list(t, s, logout.ListOptions{Limit: 10}), a, b)
		wantSessions(t, "ListSessions by address", list(t, s, logout.ListOptions{Address: "2001:db8::1", Limit: 10}), a)
	}},
	{"end by tag ends every session carrying it and no other", func(t *testing.T, s logout.Store) {
		tagged := func(id, user string, created int, tags ...string) logout.Session {
			x := session(id, user, created)
			x.Tags = tags
			return x
		}
		mustCreate(t, s, tagged("a", "alice", 0, "x", "y"), tagged("b", "bob", 1, "y"), tagged("c", "carol", 2, "yy", "z"),
			tagged("d", "dave", 3), tagged("e", "erin", 4, "Y"), tagged("f", "frank", 5, "y%"), tagged("g", "gina", 6, "y"))
		evs, err := s.EndSessions(ctx(t), logout.Selector{Tag: "y", Except: "g"}, logout.ReasonForced, at(10))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(evs), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Fatalf("EndSessions(Tag y, Except g) ended %v, want %v", got, want)
		}
		wantGone(t, s, "a")
		wantGone(t, s, "b")
		for _, id := range []string{"c", "d", "e", "f", "g"} {
			if _, err := s.Session(ctx(t), id); err != nil {
				t.Fatalf("Session(%q) after ending tag y: %v; want it kept", id, err)
			}
		}
		if evs, err := s.EndSessions(ctx(t), logout.Selector{Tag: "x"}, logout.ReasonForced, at(11)); err != nil || len(evs) != 0 {
			t.Fatalf("EndSessions(Tag x) after its session ended = %v, %v; want none", eventIDs(evs), err)
		}
		// SeenBy: activity after it keeps a tagged session.
		if err := s.TouchSession(ctx(t), "c", at(50), at(950)); err != nil {
			t.Fatal(err)
		}
		if evs, err := s.EndSessions(ctx(t), logout.Selector{Tag: "z", SeenBy: at(40)}, logout.ReasonIdle, at(60)); err != nil || len(evs) != 0 {
			t.Fatalf("EndSessions(Tag z, SeenBy before its activity) = %v, %v; want none", eventIDs(evs), err)
		}
		evs, err = s.EndSessions(ctx(t), logout.Selector{Tag: "z"}, logout.ReasonIdle, at(60))
		if err != nil || !slices.Equal(eventIDs(evs), []string{"c"}) {
			t.Fatalf("EndSessions(Tag z) = %v, %v; want [c]", eventIDs(evs), err)
		}
		if e, err := s.Event(ctx(t), "c"); err != nil || e.Reason != logout.ReasonIdle || e.UserID != "carol" {
			t.Fatalf("Event(c) = %+v, %v; want carol's idle end", e, err)
		}
		wantCount(t, s, "", 4)
	}},
	{"count by user and address", func(t *testing.T, s logout.Store) {
		for i, addr := range []string{"10.0.0.1", "10.0.0.1", "10.0.0.10", "", "10.0.0.1"} {
			x := session(fmt.Sprintf("s%d", i), []string{"u", "v"}[i%2], i)
			x.Address = addr
			mustCreate(t, s, x)
		}
		for _, tt := range []struct {
			opts logout.ListOptions
			want int
		}{
			{logout.ListOptions{}, 5},
			{logout.ListOptions{Address: "10.0.0.1"}, 3},
			{logout.ListOptions{Address: "10.0.0.10"}, 1},
			{logout.ListOptions{Address: "10.0.0.%"}, 0},
			{logout.ListOptions{Address: "10.0.0"}, 0},
			{logout.ListOptions{UserID: "u", Address: "10.0.0.1"}, 2},
			{logout.ListOptions{UserID: "v", Address: "10.0.0.1"}, 1},
			{logout.ListOptions{UserID: "v", Address: "10.0.0.10"}, 0},
			{logout.ListOptions{UserID: "u", Limit: 1, Order: logout.ActiveFirst}, 3}, // order and limit do not count
		} {
			if got, err := s.CountSessions(ctx(t), tt.opts); err != nil || got != tt.want {
				t.Fatalf("CountSessions(%+v) = %d, %v; want %d", tt.opts, got, err, tt.want)
			}
		}
	}},
	{"every order walks each session once, ties by ID", func(t *testing.T, s logout.Store) {
		// 60 sessions with many equal times, so that pages split ties;
		// IDs whose byte order differs from a collation's.
		var all []logout.Session
		for i := range 60 {
			x := session(fmt.Sprintf("%c%02d", "aB_b"[i%4], i), []string{"u0", "u1", "u2"}[i%3], i/5)
			x.LastSeen = at(i/5 + (i*7)%4)
			x.Deadline = at(900 + (i*11)%6)
			x.Address = []string{"192.0.2.1", "192.0.2.2", ""}[i%5%3]
			all = append(all, x)
		}
		mustCreate(t, s, all...)
		for _, o := range orders {
			for _, user := range []string{"", "u1", "nobody"} {
				for _, addr := range []string{"", "192.0.2.1"} {
					want := slices.DeleteFunc(slices.Clone(all), func(x logout.Session) bool {
						return (user != "" && x.UserID != user) || (addr != "" && x.Address != addr)
					})
					slices.SortFunc(want, o.order.Compare)
					for _, limit := range []int{1, 4, 7, 100} {
						got := walkAll(t, s, logout.ListOptions{UserID: user, Address: addr, Order: o.order, Limit: limit})
						if !slices.Equal(ids(got), ids(want)) {
							t.Fatalf("%s, user %q, address %q, pages of %d: walked\n%v\nwant\n%v", o.name, user, addr, limit, ids(got), ids(want))
						}
						for i := range got {
							if !equalSession(got[i], want[i]) {
								t.Fatalf("%s: listed %s, want %s", o.name, fmtSession(got[i]), fmtSession(want[i]))
							}
						}
					}
				}
			}
		}
	}},
	{"a descending cursor between sessions of the same microsecond", func(t *testing.T, s logout.Store) {
		for _, id := range []string{"b", "_x", "B", "a", "A"} {
			x := session(id, "u", 1)
			x.LastSeen = at(5)
			mustCreate(t, s, x)
		}
		late := session("late", "u", 2)
		late.LastSeen = at(9)
		early := session("early", "u", 0)
		early.LastSeen = at(0)
		mustCreate(t, s, late, early)
		c := func(seen int, id string) logout.Cursor {
			return logout.Cursor{Created: at(1), LastSeen: at(seen), Deadline: at(901), ID: id}
		}
		for _, tt := range []struct {
			name string
			opts logout.ListOptions
			want []string
		}{
			{"from the start", logout.ListOptions{Order: logout.ActiveFirst, Limit: 3}, []string{"late", "b", "a"}},
			{"after an existing session", logout.ListOptions{Order: logout.ActiveFirst, After: c(5, "a"), Limit: 10}, []string{"_x", "B", "A", "early"}},
			{"after a position with no session", logout.ListOptions{Order: logout.ActiveFirst, After: c(5, "Z"), Limit: 10}, []string{"B", "A", "early"}},
			{"after the last of a microsecond", logout.ListOptions{Order: logout.ActiveFirst, After: c(5, "A"), Limit: 10}, []string{"early"}},
			{"after the last", logout.ListOptions{Order: logout.ActiveFirst, After: logout.CursorOf(early), Limit: 10}, nil},
			{"newest sign-in first", logout.ListOptions{Order: logout.NewestFirst, After: c(5, "_x"), Limit: 10}, []string{"B", "A", "early"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(list(t, s, tt.opts)); !slices.Equal(got, tt.want) {
					t.Fatalf("ListSessions(%+v) = %v, want %v", tt.opts, got, tt.want)
				}
			})
		}
	}},
	{"an active-first walk follows the stored activity", func(t *testing.T, s logout.Store) {
		for i := range 6 {
			mustCreate(t, s, session(fmt.Sprintf("s%d", i), "u", i))
		}
		// A touch moves a session to the front.
		if err := s.TouchSession(ctx(t), "s1", at(100), at(1000)); err != nil {
			t.Fatal(err)
		}
		got := ids(list(t, s, logout.ListOptions{Order: logout.ActiveFirst, Limit: 3}))
		if want := []string{"s1", "s5", "s4"}; !slices.Equal(got, want) {
			t.Fatalf("ActiveFirst after touching s1 = %v, want %v", got, want)
		}
		got = ids(list(t, s, logout.ListOptions{Order: logout.EndingFirst, Limit: 10}))
		if want := []string{"s0", "s2", "s3", "s4", "s5", "s1"}; !slices.Equal(got, want) {
			t.Fatalf("EndingFirst after touching s1 = %v, want %v", got, want)
		}
		n := setDeadlines(t, s, logout.DeadlineUpdate{ID: "s0", Seen: at(0), Deadline: at(5000)})
		if n != 1 {
			t.Fatalf("SetDeadlines matched %d, want 1", n)
		}
		got = ids(list(t, s, logout.ListOptions{Order: logout.EndingFirst, Limit: 10}))
		if want := []string{"s2", "s3", "s4", "s5", "s1", "s0"}; !slices.Equal(got, want) {
			t.Fatalf("EndingFirst after a new deadline for s0 = %v, want %v", got, want)
		}
	}},
}
