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

// wait bounds every wait for an announcement: generous, since the
// servers of a busy CI machine may be slow, but never a sleep.
const wait = 5 * time.Second

// peerCases run on a store and a second value on its data, as another
// process opens it.
var peerCases = []struct {
	name string
	run  func(t *testing.T, s, peer logout.Store)
}{
	{"shared: a second store on the same data sees every change", func(t *testing.T, s, peer logout.Store) {
		a, b := session("a", "alice", 0), session("b", "bob", 1)
		mustCreate(t, s, a, b)
		wantSession(t, peer, a)
		wantCount(t, peer, "", 2)
		if err := peer.TouchSession(ctx(t), "a", at(10), at(910)); err != nil {
			t.Fatal(err)
		}
		a.LastSeen, a.Deadline = at(10), at(910)
		wantSession(t, s, a)
		if n := setDeadlines(t, peer, logout.DeadlineUpdate{ID: "b", Seen: at(1), Deadline: at(50)}); n != 1 {
			t.Fatalf("SetDeadlines on the peer updated %d sessions, want 1", n)
		}
		if got, err := s.ExpiredSessions(ctx(t), at(60), 10); err != nil || !slices.Equal(ids(got), []string{"b"}) {
			t.Fatalf("ExpiredSessions after the peer's SetDeadlines = %v, %v; want [b]", ids(got), err)
		}
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"b"}}, logout.ReasonIdle, at(50)); err != nil {
			t.Fatal(err)
		}
		wantGone(t, peer, "b")
		if e, err := peer.Event(ctx(t), "b"); err != nil || e.Reason != logout.ReasonIdle || !e.At.Equal(at(50)) {
			t.Fatalf("peer's Event(b) = %+v, %v; want idle at %s", e, err, at(50))
		}
		saved, err := s.SaveSettings(ctx(t), logout.DefaultSettings())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := peer.Settings(ctx(t)); err != nil || !got.Equal(saved) {
			t.Fatalf("peer's Settings = %+v, %v; want %+v", got, err, saved)
		}
		if _, err := peer.SaveSettings(ctx(t), logout.DefaultSettings()); !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("peer's SaveSettings of version 0 = %v, want ErrConflict", err)
		}
	}},
	{"shared: concurrent ends through two stores log a session once", func(t *testing.T, s, peer logout.Store) {
		const n = 20
		for i := range n {
			mustCreate(t, s, session(fmt.Sprintf("s%02d", i), "alice", i))
		}
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		for _, st := range []logout.Store{s, peer, s, peer} {
			wg.Go(func() {
				evs, err := st.EndSessions(context.Background(), logout.Selector{UserID: "alice"}, logout.ReasonForced, at(100))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				got = append(got, eventIDs(evs)...)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(got)
		if len(got) != n || len(slices.Compact(got)) != n {
			t.Fatalf("the ends returned %d events for %d sessions, want one each", len(got), n)
		}
		evs, err := peer.Events(ctx(t), logout.EventQuery{Limit: 100})
		if err != nil || len(evs) != n {
			t.Fatalf("peer's Events = %d events, %v; want %d", len(evs), err, n)
		}
	}},
}

// A listener runs a Watch for a test and holds what it announced.
type listener struct {
	changes chan logout.Change
	done    chan error
	cancel  context.CancelFunc
}

// listen starts w.Watch and returns once it has announced that it
// listens (a Change with All, the first it must send); changes made from
// then on must all reach the listener. The Watch stops when the test
// ends.
func listen(t *testing.T, w logout.Watcher) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{changes: make(chan logout.Change, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		l.done <- w.Watch(ctx, func(c logout.Change) {
			select {
			case l.changes <- c:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() { l.stop(t) })
	if c := l.next(t); !c.All {
		t.Fatalf("first change %+v, want All: a listener first learns that it missed what came before", c)
	}
	return l
}

// next returns the next change, failing the test if none comes within
// wait or if Watch returns.
func (l *listener) next(t *testing.T) logout.Change {
	t.Helper()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	select {
	case c := <-l.changes:
		return c
	case err := <-l.done:
		l.done <- err // for stop
		t.Fatalf("Watch returned %v while the test listened", err)
	case <-timeout.C:
		t.Fatalf("no change announced within %v", wait)
	}
	return logout.Change{}
}

// stop cancels the Watch and checks that it returns ctx.Err() within wait.
// It may be called more than once.
func (l *listener) stop(t *testing.T) {
	t.Helper()
	l.cancel()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	select {
	case err := <-l.done:
		l.done <- err
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after its ctx was canceled returned %v, want context.Canceled", err)
		}
	case <-timeout.C:
		t.Errorf("Watch did not return within %v of its ctx's end", wait)
	}
}

// wantEnded reads changes until the IDs announced as ended are exactly
// want, in one Change or several. A Change with All or Settings, or an ID
// not in want, fails the test.
func (l *listener) wantEnded(t *testing.T, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	var got []string
	for len(got) < len(want) {
		c := l.next(t)
		if c.All || c.Settings || len(c.Ended) == 0 {
			t.Fatalf("got %+v, want the end of %v announced with its IDs", c, want)
		}
		for _, id := range c.Ended {
			if _, found := slices.BinarySearch(want, id); !found || slices.Contains(got, id) {
				t.Fatalf("got %+v, want the end of %v, each ID once", c, want)
			}
		}
		got = append(got, c.Ended...)
	}
}

// watchCases run on a store and a Watcher on its data: its peer, or the
// store itself when Run has no newPeer.
var watchCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store, w logout.Watcher)
}{
	{"watch: a listener hears All first, and returns when its ctx is done", func(t *testing.T, s logout.Store, w logout.Watcher) {
		l := listen(t, w)
		l.stop(t)
	}},
	{"watch: ends are announced with the IDs ended", func(t *testing.T, s logout.Store, w logout.Watcher) {
		mustCreate(t, s, session("a", "alice", 0), session("b", "alice", 1), session("c", "carol", 2))
		l := listen(t, w)
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"a", "b", "missing"}}, logout.ReasonForced, at(10)); err != nil {
			t.Fatal(err)
		}
		l.wantEnded(t, "a", "b")
		if _, err := s.EndSessions(ctx(t), logout.Selector{UserID: "carol"}, logout.ReasonForced, at(11)); err != nil {
			t.Fatal(err)
		}
		l.wantEnded(t, "c")
	}},
	{"watch: a settings save is announced", func(t *testing.T, s logout.Store, w logout.Watcher) {
		l := listen(t, w)
		if _, err := s.SaveSettings(ctx(t), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
		if c := l.next(t); !c.Settings || c.All || len(c.Ended) != 0 {
			t.Fatalf("got %+v, want {Settings: true}", c)
		}
	}},
	{"watch: a large end is announced whole", func(t *testing.T, s logout.Store, w logout.Watcher) {
		want := make([]string, 600)
		for i := range want {
			want[i] = fmt.Sprintf("%064x", i) // as long as a real session ID
			mustCreate(t, s, session(want[i], fmt.Sprintf("u%d", i%7), i))
		}
		l := listen(t, w)
		if evs, err := s.EndSessions(ctx(t), logout.Selector{All: true}, logout.ReasonForced, at(1000)); err != nil || len(evs) != len(want) {
			t.Fatalf("EndSessions = %d events, %v; want %d", len(evs), err, len(want))
		}
		got := make(map[string]bool)
		for len(got) < len(want) {
			c := l.next(t)
			if c.All {
				return // too large to list, which is allowed
			}
			if c.Settings {
				t.Fatalf("got %+v, want only ends", c)
			}
			for _, id := range c.Ended {
				got[id] = true
			}
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("the end of %s was not announced", id)
			}
		}
	}},
	{"watch: nothing but saves and ends is announced", func(t *testing.T, s logout.Store, w logout.Watcher) {
		mustCreate(t, s, session("marker", "mallory", 0))
		if _, err := s.SaveSettings(ctx(t), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
		l := listen(t, w)
		// Changes made through one store are announced in order: if
		// any of these were announced, it would come before the
		// marker's end.
		mustCreate(t, s, session("x", "alice", 1))
		if err := s.TouchSession(ctx(t), "x", at(5), at(905)); err != nil {
			t.Fatal(err)
		}
		setDeadlines(t, s, logout.DeadlineUpdate{ID: "x", Seen: at(5), Deadline: at(60)})
		if _, err := s.SaveSettings(ctx(t), logout.DefaultSettings()); !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("stale SaveSettings = %v, want ErrConflict", err)
		}
		if evs, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"missing"}}, logout.ReasonForced, at(6)); err != nil || len(evs) != 0 {
			t.Fatalf("EndSessions of a missing session = %v, %v; want none", evs, err)
		}
		if _, err := s.DeleteEvents(ctx(t), at(100)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndSessions(ctx(t), logout.Selector{IDs: []string{"marker"}}, logout.ReasonForced, at(7)); err != nil {
			t.Fatal(err)
		}
		if c := l.next(t); c.All || c.Settings || !slices.Equal(c.Ended, []string{"marker"}) {
			t.Fatalf("first change %+v, want only the end of marker", c)
		}
	}},
}
