package logout_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/storetest"
)

func TestMemoryStore(t *testing.T) {
	// No newPeer: only one value holds a MemoryStore's data.
	storetest.Run(t, func(t *testing.T) logout.Store { return logout.NewMemoryStore() }, nil)
}

// calls counts the calls of a refresh: pages read, batches and single
// touches written.
type calls struct {
	*logout.MemoryStore
	lists, batches, touches int
}

func (c *calls) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	c.lists++
	return c.MemoryStore.ListSessions(ctx, opts)
}

func (c *calls) SetDeadlines(ctx context.Context, ups []logout.DeadlineUpdate) (int, error) {
	c.batches++
	return c.MemoryStore.SetDeadlines(ctx, ups)
}

func (c *calls) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	c.touches++
	return c.MemoryStore.TouchSession(ctx, id, seen, deadline)
}

// TestSweepRefreshesEveryDeadlineInPages: after a settings change, a
// sweep rewrites the stored deadline of every session, however many
// pages of sessions the store holds, with one read and one batch write
// per page of 500.
func TestSweepRefreshesEveryDeadlineInPages(t *testing.T) {
	store := logout.NewMemoryStore()
	counted := &calls{MemoryStore: store}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	m, err := logout.New(counted, logout.Options{Clock: fakeclock.At(now), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1234 // two full pages of the sweep and a short one
	for i := range n {
		created := now.Add(-time.Duration(i%10) * time.Second) // many share a microsecond
		s := logout.Session{ID: fmt.Sprintf("s%04d", i), UserID: fmt.Sprintf("u%d", i%3),
			Created: created, LastSeen: created, Deadline: created.Add(logout.DefaultLifetime)}
		if err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	set := logout.DefaultSettings()
	set.Lifetime = 2 * time.Hour
	if _, err := m.UpdateSettings(t.Context(), set, "test"); err != nil {
		t.Fatal(err)
	}
	if err := m.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if counted.lists != 3 || counted.batches != 3 || counted.touches != 0 {
		t.Fatalf("the refresh read %d pages, wrote %d batches and %d touches; want 3, 3 and 0",
			counted.lists, counted.batches, counted.touches)
	}
	seen := 0
	opts := logout.ListOptions{Limit: 100}
	for {
		page, err := store.ListSessions(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			if want := s.LastSeen.Add(2 * time.Hour); !s.Deadline.Equal(want) {
				t.Fatalf("session %s: stored deadline %v, want %v", s.ID, s.Deadline, want)
			}
		}
		seen += len(page)
		if len(page) < opts.Limit {
			break
		}
		opts.After = logout.CursorOf(page[len(page)-1])
	}
	if seen != n {
		t.Fatalf("checked %d sessions, want %d", seen, n)
	}
	if got, err := m.CountSessions(t.Context(), logout.ListOptions{UserID: "u1"}); err != nil || got != n/3 {
		t.Fatalf("CountSessions(u1) = %d, %v; want %d", got, err, n/3)
	}
}

// Pages of sessions are read with a cursor: each page starts after the
// last session of the one before, and a short page is the last.
func ExampleManager_Sessions() {
	store := logout.NewMemoryStore()
	signIn := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for i, user := range []string{"alice", "bob", "alice", "alice", "carol"} {
		t := signIn.Add(time.Duration(i) * time.Minute)
		store.CreateSession(context.Background(), logout.Session{ID: fmt.Sprintf("s%d", i), UserID: user,
			Created: t, LastSeen: t, Deadline: t.Add(logout.DefaultLifetime)})
	}
	m, err := logout.New(store, logout.Options{Clock: fakeclock.At(signIn.Add(time.Hour))})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	n, err := m.CountSessions(ctx, logout.ListOptions{UserID: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice has", n, "sessions")
	opts := logout.ListOptions{Limit: 2}
	for {
		page, err := m.Sessions(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range page {
			fmt.Println(s.ID, s.UserID, s.Created.Format(time.Kitchen))
		}
		if len(page) < opts.Limit {
			break
		}
		opts.After = logout.CursorOf(page[len(page)-1])
	}
	// Output:
	// alice has 3 sessions
	// s0 alice 9:00AM
	// s1 bob 9:01AM
	// s2 alice 9:02AM
	// s3 alice 9:03AM
	// s4 carol 9:04AM
}
