package sqlitestore_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/sqlitestore"
)

// watch runs s.Watch until the test ends and returns its changes.
func watch(t *testing.T, s *sqlitestore.Store) <-chan logout.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan logout.Change, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(c logout.Change) {
			select {
			case changes <- c:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch = %v, want context.Canceled", err)
		}
	})
	if c := next(t, changes, 5*time.Second); !c.All {
		t.Fatalf("first change %+v, want All", c)
	}
	return changes
}

func next(t *testing.T, changes <-chan logout.Change, within time.Duration) logout.Change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(within):
		t.Fatalf("no change within %v", within)
	}
	return logout.Change{}
}

// TestWatchAnotherProcess checks that a change made through another Store
// on the file, as another process would make it, reaches a watcher
// within a second.
func TestWatchAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	server := open(t, path)
	command := open(t, path) // the sessions end command
	if err := server.CreateSession(t.Context(), logout.Session{ID: "a", UserID: "alice", Created: at(0), LastSeen: at(0), Deadline: at(900)}); err != nil {
		t.Fatal(err)
	}
	changes := watch(t, server)
	start := time.Now()
	if _, err := command.EndSessions(t.Context(), logout.Selector{UserID: "alice"}, logout.ReasonForced, at(1)); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes, time.Second); !slices.Equal(c.Ended, []string{"a"}) {
		t.Fatalf("change %+v, want the end of a", c)
	}
	if _, err := command.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes, time.Second); !c.Settings {
		t.Fatalf("change %+v, want Settings", c)
	}
	t.Logf("two changes announced in %v", time.Since(start))
}

// TestChangeLogPruned checks that the writes keep the newest rows of the
// change log, and that a watcher that missed pruned rows hears All.
func TestChangeLogPruned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	s := open(t, path)
	changes := watch(t, s)
	// Rows 1 to 5999, as earlier writes left them, of which the first
	// 500 were pruned before the watcher read them: then a save, row
	// 6000, prunes all but the newest KeepChanges.
	if _, err := rawDB(t, path).Exec(`BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5999)
INSERT INTO changes (kind, session_id) SELECT 'ended', 'gone' || i FROM n;
DELETE FROM changes WHERE seq <= 500;
COMMIT;`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	var first, n int
	if err := rawDB(t, path).QueryRow(`SELECT min(seq), count(*) FROM changes`).Scan(&first, &n); err != nil {
		t.Fatal(err)
	}
	if n != sqlitestore.KeepChanges || first != 6000-sqlitestore.KeepChanges+1 {
		t.Fatalf("the log holds %d rows from %d, want %d from %d", n, first, sqlitestore.KeepChanges, 6000-sqlitestore.KeepChanges+1)
	}
	// The watcher meets the gap first: All, then what it finds after it
	// in order, up to the save (and All again if the save pruned rows
	// that it had not read yet).
	if c := next(t, changes, 5*time.Second); !c.All {
		t.Fatalf("first change after the pruned rows %+v, want All", c)
	}
	for c := next(t, changes, 5*time.Second); !c.Settings; c = next(t, changes, 5*time.Second) {
		if !c.All && len(c.Ended) == 0 {
			t.Fatalf("change %+v, want the rows after the gap", c)
		}
	}
}
