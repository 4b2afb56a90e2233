package logout_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// recorder is an Observer that counts what it is told, by keys such as
// "start", "end idle", "coalesced", "sweep", "swept", "call touch" and
// "fail settings", and sums store call durations by op.
type recorder struct {
	mu    sync.Mutex
	n     map[string]int
	spent map[string]time.Duration
}

func newRecorder() *recorder {
	return &recorder{n: make(map[string]int), spent: make(map[string]time.Duration)}
}

func (r *recorder) add(key string, n int) {
	r.mu.Lock()
	r.n[key] += n
	r.mu.Unlock()
}

func (r *recorder) StoreCall(op string, d time.Duration, err error) {
	r.add("call "+op, 1)
	if err != nil && !errors.Is(err, logout.ErrNotFound) && !errors.Is(err, logout.ErrConflict) {
		r.add("fail "+op, 1)
	}
	r.mu.Lock()
	r.spent[op] += d
	r.mu.Unlock()
}
func (r *recorder) SessionStarted()                           { r.add("start", 1) }
func (r *recorder) SessionsEnded(reason logout.Reason, n int) { r.add("end "+reason.String(), n) }
func (r *recorder) WriteCoalesced()                           { r.add("coalesced", 1) }
func (r *recorder) PushSubscribersChanged(delta int)          { r.add("push", delta) }
func (r *recorder) SweepFinished(d time.Duration, n int, err error) {
	r.add("sweep", 1)
	r.add("swept", n)
	if err != nil {
		r.add("sweep failed", 1)
	}
}

func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

func TestObserver(t *testing.T) {
	tests := []struct {
		name    string
		script  func(t *testing.T, e *env)
		want    map[string]int // exact counts; a key left out is not checked
		atLeast map[string]int
	}{
		{
			name:   "sign-in",
			script: func(t *testing.T, e *env) { e.signIn("alice") },
			want:   map[string]int{"start": 1, "call create_session": 1, "coalesced": 0},
		},
		{
			name: "activity within the touch interval is coalesced",
			script: func(t *testing.T, e *env) {
				c := e.signIn("alice")
				for range 3 {
					e.clock.Advance(time.Second) // the touch interval is 5 s
					e.do(req{path: "/backend", cookie: c})
				}
				e.clock.Advance(5 * time.Second)
				e.do(req{path: "/backend", cookie: c})
			},
			want: map[string]int{"coalesced": 3, "call touch": 1},
		},
		{
			name: "a request finds its session expired",
			script: func(t *testing.T, e *env) {
				c := e.signIn("alice")
				e.clock.Advance(901 * time.Second)
				if w := e.do(req{path: "/backend", cookie: c}); w.Code != 303 {
					t.Fatalf("got %d, want 303", w.Code)
				}
			},
			want: map[string]int{"end idle": 1, "sweep": 0},
		},
		{
			name: "the sweeper ends expired sessions",
			script: func(t *testing.T, e *env) {
				e.signIn("alice")
				e.signIn("bob")
				e.clock.Advance(901 * time.Second)
				if err := e.m.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
			},
			want:    map[string]int{"end idle": 2, "sweep": 1, "swept": 2, "sweep failed": 0},
			atLeast: map[string]int{"call expired_sessions": 1, "call delete_events": 1},
		},
		{
			name: "forced sign-out",
			script: func(t *testing.T, e *env) {
				e.signIn("alice")
				e.signIn("alice")
				e.signIn("bob")
				if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{UserID: "alice"}); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int{"start": 3, "end forced": 2},
		},
		{
			name: "sign-out",
			script: func(t *testing.T, e *env) {
				c := e.signIn("alice")
				e.do(req{method: "POST", path: "/backend/session/signout", cookie: c, body: "csrf_token=" + url.QueryEscape(e.csrf(c))})
			},
			want: map[string]int{"end manual": 1},
		},
		{
			name: "a re-sign-in replaces the session",
			script: func(t *testing.T, e *env) {
				c := e.signIn("alice")
				e.do(req{method: "POST", path: "/backend/auth/signin", cookie: c, body: "user=alice"})
			},
			want: map[string]int{"start": 2, "end replaced": 1},
		},
		{
			name: "store outage",
			script: func(t *testing.T, e *env) {
				c := e.signIn("alice")
				e.store.down.Store(true)
				e.clock.Advance(time.Second) // past the sync interval
				if w := e.do(req{path: "/backend", cookie: c}); w.Code != 503 {
					t.Fatalf("got %d, want 503", w.Code)
				}
				if err := e.m.Sweep(t.Context()); err == nil {
					t.Fatal("sweep in an outage: got nil, want an error")
				}
			},
			want:    map[string]int{"sweep": 1, "sweep failed": 1, "swept": 0},
			atLeast: map[string]int{"fail settings": 1},
		},
		{
			name: "unknown sessions are answers, not failures",
			script: func(t *testing.T, e *env) {
				e.signIn("alice")
				if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{IDs: []string{"gone"}}); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int{"call end_sessions": 1, "fail end_sessions": 0, "end forced": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			e := newEnv(t, logout.Options{Observer: rec})
			tt.script(t, e)
			got := rec.counts()
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s: got %d, want %d (all: %v)", k, got[k], want, got)
				}
			}
			for k, want := range tt.atLeast {
				if got[k] < want {
					t.Errorf("%s: got %d, want at least %d (all: %v)", k, got[k], want, got)
				}
			}
		})
	}
}

// slowStore takes a fixed time, by the fake clock, for every Session call.
type slowStore struct {
	logout.Store
	clock *fakeclock.Clock
}

func (s *slowStore) Session(ctx context.Context, id string) (logout.Session, error) {
	s.clock.Advance(3 * time.Millisecond)
	return s.Store.Session(ctx, id)
}

// watchingStore is a Watcher that says when it is watched.
type watchingStore struct {
	logout.Store
	watched chan struct{}
}

func (s *watchingStore) Watch(ctx context.Context, fn func(logout.Change)) error {
	close(s.watched)
	<-ctx.Done()
	return ctx.Err()
}

// opRecorder is an Observer that hands each store call's op to a func.
type opRecorder func(op string)

func (f opRecorder) StoreCall(op string, _ time.Duration, _ error) { f(op) }
func (opRecorder) SessionStarted()                                 {}
func (opRecorder) SessionsEnded(logout.Reason, int)                {}
func (opRecorder) WriteCoalesced()                                 {}
func (opRecorder) SweepFinished(time.Duration, int, error)         {}
func (opRecorder) PushSubscribersChanged(int)                      {}

func TestObserverStoreCalls(t *testing.T) {
	t.Run("durations by the Manager's clock", func(t *testing.T) {
		rec := newRecorder()
		s := &slowStore{Store: logout.NewMemoryStore()}
		e := newEnvStore(t, s, logout.Options{Observer: rec})
		s.clock = e.clock
		c := e.signIn("alice")
		e.clock.Advance(time.Second) // past the sync interval: the session is read again
		e.do(req{path: "/backend", cookie: c})
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := rec.n["call session"]
		if n < 1 {
			t.Fatalf("session calls: got %d, want at least 1", n)
		}
		if got, want := rec.spent["session"], time.Duration(n)*3*time.Millisecond; got != want {
			t.Errorf("session: got %v, want %v", got, want)
		}
		if got := rec.spent["settings"]; got != 0 {
			t.Errorf("settings: got %v, want 0 (the clock did not move)", got)
		}
	})
	t.Run("every method reports its op of StoreOps", func(t *testing.T) {
		var got []string
		s := logout.Observe(logout.NewMemoryStore(), opRecorder(func(op string) { got = append(got, op) }))
		ctx, now := t.Context(), time.Now()
		// One call of each method, in the order of the Store interface.
		_ = s.CreateSession(ctx, logout.Session{ID: "a", UserID: "alice", Created: now, LastSeen: now, Deadline: now})
		_, _ = s.Session(ctx, "a")
		_ = s.TouchSession(ctx, "a", now, now)
		_, _ = s.SetDeadlines(ctx, nil)
		_, _ = s.CountSessions(ctx, logout.ListOptions{})
		_, _ = s.ListSessions(ctx, logout.ListOptions{Limit: 1})
		_, _ = s.ExpiredSessions(ctx, now, 1)
		_, _ = s.EndSessions(ctx, logout.Selector{All: true}, logout.ReasonForced, now)
		_, _ = s.Event(ctx, "a")
		_, _ = s.Events(ctx, logout.EventQuery{Limit: 1})
		_, _ = s.DeleteEvents(ctx, now)
		_, _ = s.Settings(ctx)
		_, _ = s.SaveSettings(ctx, logout.DefaultSettings())
		_, _ = s.SettingsHistory(ctx, logout.HistoryQuery{Limit: 1})
		_, _ = s.DeleteSettingsHistory(ctx, now)
		if want := logout.StoreOps(); !slices.Equal(got, want) {
			t.Errorf("ops: got %q, want %q", got, want)
		}
		if n := reflect.TypeFor[logout.Store]().NumMethod(); n != len(got) {
			t.Errorf("the Store has %d methods, the test calls %d: add the new one here and to StoreOps", n, len(got))
		}
	})
	t.Run("a Watcher stays a Watcher", func(t *testing.T) {
		s := &watchingStore{Store: logout.NewMemoryStore(), watched: make(chan struct{})}
		m, err := logout.New(s, logout.Options{Observer: newRecorder()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		select {
		case <-s.watched:
		case <-time.After(10 * time.Second):
			t.Fatal("the wrapped Watcher was never watched")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestReady(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	for i, tt := range []struct {
		down bool
		want error
	}{
		{false, nil},
		{true, logout.ErrUnavailable},
		{true, logout.ErrUnavailable},
		{false, nil},
	} {
		t.Run(fmt.Sprintf("%d down=%v", i, tt.down), func(t *testing.T) {
			e.store.down.Store(tt.down)
			if tt.down {
				e.clock.Advance(time.Second)    // past the sync interval
				e.do(req{path: "/", cookie: c}) // the Manager learns of the outage
			}
			err := e.m.Ready(t.Context())
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, errDown) {
				t.Errorf("got %v, want it to wrap the store's error", err)
			}
		})
	}
	// Ready saw the store answer again: front-end requests ask it again.
	if w := e.do(req{path: "/", cookie: c}); w.Body.String() != "user=alice" {
		t.Fatalf("front end after recovery: got %q, want user=alice", w.Body)
	}
}
