package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
)

// pollEvery and pollTimeout are the Options of the watchers under a
// clock: values the clock tells apart.
const (
	pollEvery   = time.Hour
	pollTimeout = 2 * time.Hour
)

// A clock stands in for time.After in a Store's Watch: a wait ends when
// the test fires it.
type clock struct {
	mu      sync.Mutex
	waiting map[time.Duration][]chan time.Time
	over    map[time.Duration]bool // waits that end at once
	asked   chan time.Duration     // each wait, as it starts
}

func newClock() *clock {
	return &clock{waiting: make(map[time.Duration][]chan time.Time), over: make(map[time.Duration]bool),
		asked: make(chan time.Duration, 1<<16)}
}

func (c *clock) after(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	if c.over[d] {
		ch <- time.Time{}
	} else {
		c.waiting[d] = append(c.waiting[d], ch)
	}
	c.mu.Unlock()
	c.asked <- d
	return ch
}

// expire ends every wait for d, those begun and those to come.
func (c *clock) expire(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.over[d] = true
	for _, ch := range c.waiting[d] {
		ch <- time.Time{}
	}
	c.waiting[d] = nil
}

// waitFor waits, at most 5 s, until someone waits for d.
func (c *clock) waitFor(t *testing.T, d time.Duration) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.waiting[d])
		c.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-c.asked:
		case <-timeout:
			t.Fatalf("nobody waits for %v within 5 s", d)
		}
	}
}

// fire ends every wait for d, once one has begun.
func (c *clock) fire(t *testing.T, d time.Duration) {
	t.Helper()
	c.waitFor(t, d)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.waiting[d] {
		ch <- time.Time{}
	}
	c.waiting[d] = nil
}

// watcher runs a Watch for a test.
type watcher struct {
	changes chan logout.Change
	done    chan error
}

// watch starts s.Watch and waits for its first Change, which must be All.
func watch(t *testing.T, s *mysqlstore.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{changes: make(chan logout.Change, 1000), done: make(chan error, 1)}
	go func() { w.done <- s.Watch(ctx, func(c logout.Change) { w.changes <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after cancel = %v, want context.Canceled", err)
		}
	})
	if c := w.next(t); !c.All {
		t.Fatalf("first change %+v, want All", c)
	}
	return w
}

// next returns the next change, waiting at most 5 s.
func (w *watcher) next(t *testing.T) logout.Change {
	t.Helper()
	select {
	case c := <-w.changes:
		return c
	case err := <-w.done:
		w.done <- err
		t.Fatalf("Watch returned %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no change announced within 5 s")
	}
	return logout.Change{}
}

// none checks that nothing was announced: with the poll not fired,
// nothing can have been read.
func (w *watcher) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-w.changes:
		t.Fatalf("announced %+v before a poll", c)
	default:
	}
}

// clocked returns a Store on prefix whose Watch waits on c.
func clocked(t *testing.T, db *sql.DB, prefix string, c *clock) *mysqlstore.Store {
	t.Helper()
	s, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: prefix, PollInterval: pollEvery, PollTimeout: pollTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mysqlstore.SetClock(s, c.after)
	return s
}

func create(t *testing.T, s logout.Store, ids ...string) {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range ids {
		x := logout.Session{ID: id, UserID: "u", Created: base, LastSeen: base, Deadline: base.Add(time.Hour)}
		if err := s.CreateSession(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
}

func end(t *testing.T, s logout.Store, sel logout.Selector) []logout.Event {
	t.Helper()
	evs, err := s.EndSessions(t.Context(), sel, logout.ReasonForced, time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestWatchPolls checks, on a clock, that Watch reads the change log once
// per PollInterval and never between: each poll asks for the next wait
// only when it is done, and a change waits for the next poll.
func TestWatchPolls(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	c := newClock()
	a, b := newStore(t, db, prefix), clocked(t, mysqltest.MySQL(t), prefix, c)
	w := watch(t, b)
	create(t, a, "s1", "s2", "s3")
	end(t, a, logout.Selector{IDs: []string{"s1"}})
	if _, err := a.SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	w.none(t)
	c.fire(t, pollEvery)
	if got := w.next(t); !slices.Equal(got.Ended, []string{"s1"}) || got.Settings || got.All {
		t.Fatalf("first change %+v, want the end of s1", got)
	}
	if got := w.next(t); !got.Settings {
		t.Fatalf("second change %+v, want the settings", got)
	}
	c.waitFor(t, pollEvery) // the poll is over
	w.none(t)
	end(t, a, logout.Selector{UserID: "u"})
	w.none(t)
	c.fire(t, pollEvery)
	got := w.next(t)
	slices.Sort(got.Ended)
	if !slices.Equal(got.Ended, []string{"s2", "s3"}) {
		t.Fatalf("change %+v, want the end of s2 and s3", got)
	}
	// Three polls, three waits for the next; nothing else asked for a
	// wait of PollInterval.
	c.waitFor(t, pollEvery)
	polls := 0
	for len(c.asked) > 0 {
		if <-c.asked == pollEvery {
			polls++
		}
	}
	if polls > 3 {
		t.Fatalf("Watch waited %d times for a poll after 2 polls, want 3 in all", polls)
	}
}

// TestWatchMissedRows: rows pruned before a watcher read them are
// announced as All, then the rows after them as they are.
func TestWatchMissedRows(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	c := newClock()
	a, b := newStore(t, db, prefix), clocked(t, db, prefix, c)
	w := watch(t, b)
	create(t, a, "s1", "s2")
	end(t, a, logout.Selector{IDs: []string{"s1"}})
	end(t, a, logout.Selector{IDs: []string{"s2"}})
	if _, err := db.ExecContext(t.Context(), "DELETE FROM `"+prefix+"logout_changes` ORDER BY id LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	c.fire(t, pollEvery)
	if got := w.next(t); !got.All {
		t.Fatalf("first change %+v, want All", got)
	}
	if got := w.next(t); !slices.Equal(got.Ended, []string{"s2"}) {
		t.Fatalf("second change %+v, want the end of s2", got)
	}
}

// TestChangeLogIsPruned: the change log keeps its newest rows only.
func TestChangeLogIsPruned(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	s := newStore(t, db, prefix)
	// As if 2098 changes had been logged: the next two reach 2100, a
	// multiple of 100, and prune.
	fill(t, db, prefix, []string{
		`INSERT INTO {p}logout_changes (id, kind) SELECT n, 'all' FROM {numbers} WHERE n <= 2098`,
		`UPDATE {p}logout_change_seq SET n = 2098`,
	})
	create(t, s, "s1", "s2")
	end(t, s, logout.Selector{IDs: []string{"s1"}})
	var first, last, rows int
	count := func() {
		t.Helper()
		if err := db.QueryRowContext(t.Context(), "SELECT MIN(id), MAX(id), COUNT(*) FROM `"+prefix+"logout_changes`").Scan(&first, &last, &rows); err != nil {
			t.Fatal(err)
		}
	}
	if count(); rows != 2099 {
		t.Fatalf("%d rows after change 2099, want 2099: only a multiple of 100 prunes", rows)
	}
	end(t, s, logout.Selector{IDs: []string{"s2"}})
	if count(); first != 2100-mysqlstore.KeepChanges+1 || last != 2100 || rows != mysqlstore.KeepChanges {
		t.Fatalf("rows %d to %d (%d) after change 2100, want the newest %d", first, last, rows, mysqlstore.KeepChanges)
	}
}

// TestLargeEndIsAll: an end of more than 5000 sessions is announced as
// All; one of 5000 as their IDs, in rows of 500.
func TestLargeEndIsAll(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	s := newStore(t, db, prefix)
	fill(t, db, prefix, []string{`INSERT INTO {p}logout_sessions (id, user_id, roles, created, last_seen, deadline)
SELECT LPAD(n, 64, '0'), IF(n <= 5000, 'few', 'many'), '[]', 0, 0, 0 FROM {numbers} WHERE n <= 10001`})
	w := watch(t, s)
	if evs := end(t, s, logout.Selector{UserID: "few"}); len(evs) != 5000 {
		t.Fatalf("ended %d sessions, want 5000", len(evs))
	}
	var got []string
	for range 10 {
		c := w.next(t)
		if c.All || len(c.Ended) != 500 {
			t.Fatalf("change with All %v and %d IDs, want 500 IDs", c.All, len(c.Ended))
		}
		got = append(got, c.Ended...)
	}
	if slices.Sort(got); len(slices.Compact(got)) != 5000 {
		t.Fatalf("announced %d distinct IDs, want 5000", len(got))
	}
	if evs := end(t, s, logout.Selector{UserID: "many"}); len(evs) != 5001 {
		t.Fatalf("ended %d sessions, want 5001", len(evs))
	}
	if c := w.next(t); !c.All {
		t.Fatalf("change %+v, want All", c)
	}
}

func TestWatchFailsWithoutConnection(t *testing.T) {
	db, closed := mysqltest.MySQL(t), mysqltest.MySQL(t)
	s := newStore(t, closed, mysqltest.Prefix(t, db))
	closed.Close()
	err := s.Watch(t.Context(), func(logout.Change) { t.Error("called fn") })
	if err == nil || errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "mysqlstore: watch: ") {
		t.Fatalf("Watch on a closed handle = %v, want an error", err)
	}
}

// A partition dials connections whose reads, once it is cut, wait for
// the connection to close, as when the network drops what the server
// sends and its reset never arrives.
type partition struct{ cut chan struct{} }

func (p *partition) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &partitioned{Conn: c, cut: p.cut, closed: make(chan struct{})}, nil
}

type partitioned struct {
	net.Conn
	cut    chan struct{}
	once   sync.Once
	closed chan struct{}
}

func (c *partitioned) Read(b []byte) (int, error) {
	select {
	case <-c.cut:
		<-c.closed
		return 0, net.ErrClosed
	default:
		return c.Conn.Read(b)
	}
}

func (c *partitioned) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestWatchNoticesASilentConnection: a Watch whose reads go unanswered
// must fail once PollTimeout has passed on its clock, so that the Manager
// listens again, instead of waiting for ever.
func TestWatchNoticesASilentConnection(t *testing.T) {
	cfg := mysqltest.Config(t).Clone()
	db := mysqltest.Open(t, cfg)
	prefix := mysqltest.Prefix(t, db)
	p := &partition{cut: make(chan struct{})}
	cfg.DialFunc = p.dial
	c := newClock()
	s := clocked(t, mysqltest.Open(t, cfg), prefix, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, done := make(chan logout.Change, 16), make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(c logout.Change) { changes <- c }) }()
	if got := <-changes; !got.All {
		t.Fatalf("first change %+v, want All", got)
	}
	// Alive: a poll answers, and a change comes through.
	create(t, newStore(t, db, prefix), "s1")
	end(t, newStore(t, db, prefix), logout.Selector{IDs: []string{"s1"}})
	c.fire(t, pollEvery)
	select {
	case got := <-changes:
		if !slices.Equal(got.Ended, []string{"s1"}) {
			t.Fatalf("change %+v, want the end of s1", got)
		}
	case err := <-done:
		t.Fatalf("Watch on a live connection returned %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no change within 5 s")
	}

	close(p.cut)
	c.expire(pollTimeout)
	c.fire(t, pollEvery)
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no answer within") {
			t.Fatalf("Watch on a silent connection returned %v, want a failure to answer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not fail within 5 s of its timeout")
	}
}

// TestManyWatchers: ten watchers on one set of tables each hear every
// change of a busy writer, in order, once.
func TestManyWatchers(t *testing.T) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	s, err := mysqlstore.New(t.Context(), db, mysqlstore.Options{Prefix: prefix, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var ws []*watcher
	for range 10 {
		ws = append(ws, watch(t, s))
	}
	var want []string
	for i := range 50 {
		id := fmt.Sprintf("s%02d", i)
		create(t, s, id)
		end(t, s, logout.Selector{IDs: []string{id}})
		want = append(want, id)
	}
	for i, w := range ws {
		var got []string
		for len(got) < len(want) {
			got = append(got, w.next(t).Ended...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("watcher %d heard %v, want %v", i, got, want)
		}
	}
}
