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

// cases are the cases of a single store, in the order they run.
var cases = slices.Concat(sessionCases, listingCases, endCases, settingsCases, scaleCases)
