package logout_test

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// The tests of this file run Manager.Run on a fake clock (Options.Clock)
// inside a synctest bubble: the bubble's own clock never moves (none of
// them sleeps), so whatever Run does after the fake clock moved, it did
// because it waits on Options.Clock, and synctest.Wait lets a test
// check it without waiting in real time.

// stillBubbleTime fails t if the bubble's clock moved since start: the
// work was driven by the fake clock alone.
func stillBubbleTime(t *testing.T, start time.Time) {
	t.Helper()
	if d := time.Since(start); d != 0 {
		t.Fatalf("the bubble's clock moved %v: Run waited on the time package, not on Options.Clock", d)
	}
}

// TestRunSweepsOnTheClock: Run's sweep waits SweepInterval on the
// Manager's clock: once the session's idle deadline passed, it ends at
// the first sweep after it, and not before that sweep is due.
func TestRunSweepsOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		e := newEnv(t, logout.Options{SweepInterval: time.Minute})
		e.signIn("alice")
		go e.m.Run(t.Context())
		synctest.Wait() // the first sweep ran; Run waits for the next
		if n := e.clock.Waiters(); n != 2 {
			t.Fatalf("Run waits on %d timers of its clock, want 2 (the sweep and the beat)", n)
		}
		e.clock.Advance(logout.DefaultLifetime - time.Second) // past many sweep intervals: one sweep
		synctest.Wait()
		if evs := e.events(); len(evs) != 0 {
			t.Fatalf("ended %v before the idle deadline", evs)
		}
		e.clock.Advance(time.Second) // the deadline passes, the next sweep is 59 s away
		synctest.Wait()
		if evs := e.events(); len(evs) != 0 {
			t.Fatalf("ended %v before a sweep was due", evs)
		}
		e.clock.Advance(time.Minute - time.Second - time.Microsecond)
		synctest.Wait()
		if evs := e.events(); len(evs) != 0 {
			t.Fatalf("ended %v a microsecond before the sweep was due", evs)
		}
		e.clock.Advance(time.Microsecond)
		synctest.Wait()
		if evs := e.events(); len(evs) != 1 || evs[0].Reason != logout.ReasonIdle || evs[0].UserID != "alice" {
			t.Fatalf("after the sweep: ended %v, want alice's session as idle", evs)
		}
		stillBubbleTime(t, start)
	})
}

// TestRunBeatsOnTheClock: Run's beat waits on the Manager's clock: it
// ends a session whose last push stream closed once the close grace is
// over (the sweep, an hour away, does not), and pings the streams every
// PushPing.
func TestRunBeatsOnTheClock(t *testing.T) {
	t.Run("close grace", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			set := logout.DefaultSettings()
			set.SignOutOnClose = true
			e := newEnv(t, logout.Options{Defaults: &set, SweepInterval: time.Hour}) // beats every 500 ms
			c := e.signIn("alice")
			s := connect(t, servePipe(t, e), c)
			s.want("status")
			go e.m.Run(t.Context())
			s.close()
			synctest.Wait()
			if n := logout.Subscribers(e.m); n != 0 {
				t.Fatalf("%d streams open after the browser closed its only one", n)
			}
			e.clock.Advance(logout.DefaultCloseGrace - time.Millisecond) // one beat, within the grace
			synctest.Wait()
			if evs := e.events(); len(evs) != 0 {
				t.Fatalf("ended %v within the grace", evs)
			}
			e.clock.Advance(499 * time.Millisecond) // the grace is over; the next beat is 1 ms away
			synctest.Wait()
			if evs := e.events(); len(evs) != 0 {
				t.Fatalf("ended %v before a beat", evs)
			}
			e.clock.Advance(time.Millisecond)
			synctest.Wait()
			if evs := e.events(); len(evs) != 1 || evs[0].Reason != logout.ReasonClosed {
				t.Fatalf("after the beat: ended %v, want the session as closed", evs)
			}
			stillBubbleTime(t, start)
		})
	})
	t.Run("pings", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			e := newEnv(t, logout.Options{SyncInterval: time.Second, PushPing: 2 * time.Second}) // a ping every second beat
			c := e.signIn("alice")
			s := connect(t, servePipe(t, e), c)
			s.want("status")
			lines := readLines(s)
			go e.m.Run(t.Context())
			synctest.Wait()
			for i, tt := range []struct {
				advance time.Duration
				ping    bool
			}{
				{time.Second - time.Microsecond, false},
				{time.Microsecond, false}, // the first beat
				{time.Second, true},       // the second
				{time.Second, false},
				{10 * time.Second, true}, // a clock that leaps beats once: the fourth
				{time.Second, false},
				{time.Second, true},
			} {
				e.clock.Advance(tt.advance)
				synctest.Wait()
				var got []string
				for len(lines) > 0 {
					got = append(got, <-lines)
				}
				if ping := len(got) > 0 && strings.HasPrefix(got[0], ":"); ping != tt.ping || (ping && len(got) != 2) || (!ping && len(got) != 0) {
					t.Fatalf("step %d (%v on): the stream sent %q, want a ping: %v", i, tt.advance, got, tt.ping)
				}
			}
			stillBubbleTime(t, start)
		})
	})
}

// readLines reads s's lines into the returned channel, until the stream
// ends.
func readLines(s *stream) <-chan string {
	lines := make(chan string, 64)
	go func(r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}(s.r)
	return lines
}

// failingWatcher is a Watcher store whose Watch fails at once, counting
// its calls.
type failingWatcher struct {
	logout.Store
	calls atomic.Int64
}

func (s *failingWatcher) Watch(context.Context, func(logout.Change)) error {
	s.calls.Add(1)
	return errors.New("connection refused")
}

// TestRunWatchBacksOffOnTheClock: a Watcher that fails is listened to
// again after a backoff on the Manager's clock: 100 ms, then doubling.
func TestRunWatchBacksOffOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := &failingWatcher{Store: logout.NewMemoryStore()}
		clock := fakeclock.New()
		m, err := logout.New(store, logout.Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		go m.Run(t.Context())
		synctest.Wait()
		for i, tt := range []struct {
			advance time.Duration
			calls   int64
		}{
			{0, 1},
			{100*time.Millisecond - time.Microsecond, 1},
			{time.Microsecond, 2},
			{200*time.Millisecond - time.Microsecond, 2},
			{time.Microsecond, 3},
			{400 * time.Millisecond, 4},
		} {
			clock.Advance(tt.advance)
			synctest.Wait()
			if n := store.calls.Load(); n != tt.calls {
				t.Fatalf("step %d: %d calls of Watch, want %d", i, n, tt.calls)
			}
		}
		stillBubbleTime(t, start)
	})
}
