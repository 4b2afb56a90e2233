package pgstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// watch runs s.Watch until the test ends and returns its changes. It
// returns once the watcher's LISTEN is in force, as seen from pool.
func watch(t *testing.T, s *pgstore.Store, pool *pgxpool.Pool, channel string) (<-chan logout.Change, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes, done := make(chan logout.Change, 1000), make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(c logout.Change) { changes <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after cancel = %v, want context.Canceled", err)
		}
	})
	// LISTEN takes effect when it commits; the backend is idle after that.
	listen := "LISTEN " + pgx.Identifier{channel}.Sanitize()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		var ok bool
		err := pool.QueryRow(t.Context(),
			"SELECT EXISTS (SELECT FROM pg_stat_activity WHERE query = $1 AND state = 'idle')", listen).Scan(&ok)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			// The first change says "reread everything": what was
			// announced before the LISTEN was missed.
			if c := next(t, changes); !c.All {
				t.Fatalf("first change %+v, want All", c)
			}
			return changes, done
		}
		select {
		case err := <-done:
			t.Fatalf("Watch returned %v before listening", err)
		case <-deadline:
			t.Fatal("Watch did not LISTEN within 5 s")
		case <-tick.C:
		}
	}
}

// next returns the next change, waiting at most 1 s.
func next(t *testing.T, changes <-chan logout.Change) logout.Change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(time.Second):
		t.Fatal("no change announced within 1 s")
		return logout.Change{}
	}
}

func TestWatch(t *testing.T) {
	poolA, poolB := pgtest.Postgres(t), pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, poolA)
	a, b := newStore(t, poolA, schema), newStore(t, poolB, schema)
	other := newStore(t, poolA, pgtest.PostgresSchema(t, poolA))
	changes, _ := watch(t, b, poolA, schema+"_changes")

	base := time.Now().UTC().Truncate(time.Microsecond)
	create := func(s *pgstore.Store, ids ...string) {
		t.Helper()
		for _, id := range ids {
			x := logout.Session{ID: id, UserID: "u", Created: base, LastSeen: base, Deadline: base.Add(time.Hour)}
			if err := s.CreateSession(t.Context(), x); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("settings saved on another pool", func(t *testing.T) {
		// Another schema's change comes first; PostgreSQL delivers in
		// commit order, so hearing it would show up before ours.
		create(other, "elsewhere")
		if _, err := other.EndSessions(t.Context(), logout.Selector{All: true}, logout.ReasonForced, base); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
		if c := next(t, changes); !c.Settings || len(c.Ended) != 0 {
			t.Fatalf("got %+v, want {Settings: true}", c)
		}
	})

	t.Run("a refused save announces nothing", func(t *testing.T) {
		if _, err := a.SaveSettings(t.Context(), logout.DefaultSettings()); !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("stale save = %v, want ErrConflict", err)
		}
		create(a, "marker")
		if _, err := a.EndSessions(t.Context(), logout.Selector{IDs: []string{"marker"}}, logout.ReasonForced, base); err != nil {
			t.Fatal(err)
		}
		if c := next(t, changes); c.Settings || !slices.Equal(c.Ended, []string{"marker"}) {
			t.Fatalf("got %+v, want only the end of marker", c)
		}
	})

	t.Run("sessions ended on another pool", func(t *testing.T) {
		create(a, "s1", "s2", "s3")
		if _, err := a.EndSessions(t.Context(), logout.Selector{IDs: []string{"s1", "s2", "gone"}}, logout.ReasonForced, base); err != nil {
			t.Fatal(err)
		}
		c := next(t, changes)
		slices.Sort(c.Ended)
		if c.Settings || !slices.Equal(c.Ended, []string{"s1", "s2"}) {
			t.Fatalf("got %+v, want Ended [s1 s2]", c)
		}
	})

	t.Run("a large end comes in chunks", func(t *testing.T) {
		want := make([]string, 600)
		for i := range want {
			h := sha256.Sum256([]byte(strconv.Itoa(i)))
			want[i] = hex.EncodeToString(h[:])
		}
		create(a, want...)
		want = append(want, "s3")
		evs, err := a.EndSessions(t.Context(), logout.Selector{All: true}, logout.ReasonForced, base)
		if err != nil || len(evs) != len(want) {
			t.Fatalf("EndSessions = %d events, %v; want %d", len(evs), err, len(want))
		}
		var got []string
		n := 0
		for len(got) < len(want) {
			got = append(got, next(t, changes).Ended...)
			n++
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || n < 2 {
			t.Fatalf("announced %d IDs in %d changes, want %d in several", len(got), n, len(want))
		}
	})

	t.Run("an end of nothing announces nothing", func(t *testing.T) {
		if _, err := a.EndSessions(t.Context(), logout.Selector{All: true}, logout.ReasonForced, base); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SaveSettings(t.Context(), logout.Settings{Version: 1, Lifetime: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if c := next(t, changes); !c.Settings {
			t.Fatalf("got %+v, want only the settings change", c)
		}
	})
}

func TestWatchFailsWithoutConnection(t *testing.T) {
	pool, closed := pgtest.Postgres(t), pgtest.Postgres(t)
	s := newStore(t, closed, pgtest.PostgresSchema(t, pool))
	closed.Close()
	err := s.Watch(t.Context(), func(logout.Change) { t.Error("called fn") })
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Watch on a closed pool = %v, want an error", err)
	}
}
