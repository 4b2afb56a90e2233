package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/gologout/logout"
)

// endCases are the cases of ending sessions and of the log of their events.
var endCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
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
}
