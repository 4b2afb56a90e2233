package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/redisstore/redistest"
	"github.com/gologout/logout/storetest"
)

func newStore(t testing.TB, c *redis.Client, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	c, other := redistest.Redis(t), redistest.Redis(t)
	var prefix string
	storetest.Run(t, func(t *testing.T) logout.Store {
		prefix = redistest.RedisPrefix(t, c)
		return newStore(t, c, redisstore.Options{Prefix: prefix})
	}, func(t *testing.T) logout.Store {
		return newStore(t, other, redisstore.Options{Prefix: prefix}) // another process's client
	})
}

func TestNew(t *testing.T) {
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { cluster.Close() })
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { single.Close() })
	for _, tt := range []struct {
		name   string
		client redis.UniversalClient
		opts   redisstore.Options
		ok     bool
	}{
		{"zero options are valid", single, redisstore.Options{}, true},
		{"nil client", nil, redisstore.Options{}, false},
		{"negative margin", single, redisstore.Options{Margin: -time.Second}, false},
		{"cluster without hash tag", cluster, redisstore.Options{}, false},
		{"cluster with empty hash tag", cluster, redisstore.Options{Prefix: "{}logout:"}, false},
		{"cluster with hash tag", cluster, redisstore.Options{Prefix: "{logout}:"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisstore.New(tt.client, tt.opts)
			if got := err == nil; got != tt.ok {
				t.Fatalf("New error = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// expireTime returns when Redis will expire key.
func expireTime(t *testing.T, c *redis.Client, key string) time.Time {
	t.Helper()
	ms, err := c.Do(t.Context(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	if ms < 0 {
		t.Fatalf("PEXPIRETIME %s = %d: no expiry", key, ms)
	}
	return time.UnixMilli(ms)
}

func TestSessionKeyExpiresAtDeadlinePlusMargin(t *testing.T) {
	c := redistest.Redis(t)
	now := time.Now().Truncate(time.Microsecond)
	for _, tt := range []struct {
		name   string
		margin time.Duration
		want   time.Duration
	}{
		{"default margin is an hour", 0, time.Hour},
		{"set margin", 5 * time.Minute, 5 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := redistest.RedisPrefix(t, c)
			s := newStore(t, c, redisstore.Options{Prefix: prefix, Margin: tt.margin})
			sess := logout.Session{ID: "a", UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(15 * time.Minute),
				Address: "192.0.2.1", Tags: []string{"sso:1", "x"}}
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatal(err)
			}
			check := func(deadline time.Time) {
				t.Helper()
				want := deadline.Add(tt.want).Truncate(time.Millisecond)
				if got := expireTime(t, c, prefix+"s:a"); !got.Equal(want) {
					t.Fatalf("session key expires at %v, want %v", got, want)
				}
				for _, key := range []string{"u:alice", "a:192.0.2.1", "t:sso:1", "t:x"} {
					if got := expireTime(t, c, prefix+key); got.Before(want) {
						t.Fatalf("index %s expires at %v, before its session (%v)", key, got, want)
					}
				}
			}
			check(sess.Deadline)
			later := now.Add(20 * time.Minute)
			if err := s.TouchSession(t.Context(), "a", now.Add(5*time.Minute), later); err != nil {
				t.Fatal(err)
			}
			check(later)
			// Older activity changes nothing, the expiry included.
			if err := s.TouchSession(t.Context(), "a", now.Add(time.Minute), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			check(later)
			// A settings change moves the deadline and the expiry with
			// it, later or earlier; a stale LastSeen moves nothing.
			for _, tt := range []struct {
				seen, deadline, want time.Time
				n                    int
			}{
				{now.Add(5 * time.Minute), now.Add(2 * time.Hour), now.Add(2 * time.Hour), 1},
				{now.Add(5 * time.Minute), now.Add(16 * time.Minute), now.Add(16 * time.Minute), 1},
				{now, now.Add(3 * time.Hour), now.Add(16 * time.Minute), 0},
			} {
				n, err := s.SetDeadlines(t.Context(), []logout.DeadlineUpdate{{ID: "a", Seen: tt.seen, Deadline: tt.deadline}})
				if err != nil || n != tt.n {
					t.Fatalf("SetDeadlines(seen %v, deadline %v) = %d, %v; want %d", tt.seen, tt.deadline, n, err, tt.n)
				}
				check(tt.want)
			}
		})
	}
}

func TestSessionForgottenByRedisLeavesNoTrace(t *testing.T) {
	c := redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c)
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	for _, id := range []string{"a", "b"} {
		sess := logout.Session{ID: id, UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(time.Minute)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	// What Redis does at a's deadline plus margin.
	if err := c.Del(ctx, prefix+"s:a").Err(); err != nil {
		t.Fatal(err)
	}

	got, err := s.ExpiredSessions(ctx, now.Add(2*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(got); !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("ExpiredSessions = %v, want [b]", ids)
	}
	if err := c.ZScore(ctx, prefix+"deadlines", "a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("deadlines still holds a (err %v)", err)
	}
	if err := c.ZScore(ctx, prefix+"created", "a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("created still holds a (err %v)", err)
	}
	// The sweep above could not know a's user: u:alice still holds a,
	// until a page of alice's sessions meets it.
	if n, err := s.CountSessions(ctx, logout.ListOptions{UserID: "alice"}); err != nil || n != 2 {
		t.Fatalf("CountSessions(alice) = %d, %v; want 2 before a page meets a", n, err)
	}
	list, err := s.ListSessions(ctx, logout.ListOptions{UserID: "alice", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(list); !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("ListSessions(alice) = %v, want [b]", ids)
	}
	if err := c.ZScore(ctx, prefix+"u:alice", "a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("u:alice still holds a (err %v)", err)
	}
	if n, err := s.CountSessions(ctx, logout.ListOptions{UserID: "alice"}); err != nil || n != 1 {
		t.Fatalf("CountSessions(alice) = %d, %v; want 1", n, err)
	}
	if err := s.TouchSession(ctx, "a", now.Add(time.Second), now.Add(time.Hour)); !errors.Is(err, logout.ErrNotFound) {
		t.Fatalf("TouchSession(a) = %v, want ErrNotFound", err)
	}
	evs, err := s.EndSessions(ctx, logout.Selector{UserID: "alice"}, logout.ReasonForced, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].SessionID != "b" {
		t.Fatalf("EndSessions = %+v, want one event, of b", evs)
	}
}

// TestSessionWithoutName reads a session that a version before the name
// field created, as every read returns it: with no name.
func TestSessionWithoutName(t *testing.T) {
	c := redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c)
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	sess := logout.Session{ID: "a", UserID: "alice", UserName: "Alice", Roles: []string{"admin"}, Created: now, LastSeen: now, Deadline: now}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := c.HDel(ctx, prefix+"s:a", "name").Err(); err != nil { // as the older version wrote it
		t.Fatal(err)
	}
	sess.UserName = ""
	read := map[string]func() ([]logout.Session, error){
		"Session": func() ([]logout.Session, error) {
			x, err := s.Session(ctx, "a")
			return []logout.Session{x}, err
		},
		"ListSessions":    func() ([]logout.Session, error) { return s.ListSessions(ctx, logout.ListOptions{Limit: 10}) },
		"ExpiredSessions": func() ([]logout.Session, error) { return s.ExpiredSessions(ctx, now, 10) },
	}
	for name, f := range read {
		t.Run(name, func(t *testing.T) {
			got, err := f()
			if err != nil || len(got) != 1 || got[0].UserName != "" || got[0].UserID != "alice" || !slices.Equal(got[0].Roles, sess.Roles) {
				t.Errorf("got %+v, %v; want %+v", got, err, sess)
			}
		})
	}
}

// TestPagesSkipSessionsRedisForgot: a page fills itself past entries of
// sessions that Redis expired, even a whole window of them, and drops
// those entries from the indexes and counts.
func TestPagesSkipSessionsRedisForgot(t *testing.T) {
	c := redistest.Redis(t)
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	for _, user := range []string{"", "alice"} {
		t.Run("user "+user, func(t *testing.T) {
			prefix := redistest.RedisPrefix(t, c)
			s := newStore(t, c, redisstore.Options{Prefix: prefix})
			for i := range 10 {
				sess := logout.Session{ID: fmt.Sprintf("s%d", i), UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(time.Hour)}
				if err := s.CreateSession(ctx, sess); err != nil {
					t.Fatal(err)
				}
			}
			for i := 3; i <= 7; i++ { // what Redis does at deadline plus margin
				if err := c.Del(ctx, fmt.Sprintf("%ss:s%d", prefix, i)).Err(); err != nil {
					t.Fatal(err)
				}
			}
			var pages [][]string
			opts := logout.ListOptions{UserID: user, Limit: 3}
			for {
				page, err := s.ListSessions(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, sessionIDs(page))
				if len(page) < opts.Limit {
					break
				}
				opts.After = logout.CursorOf(page[len(page)-1])
			}
			if got, want := fmt.Sprint(pages), "[[s0 s1 s2] [s8 s9]]"; got != want {
				t.Fatalf("pages %s, want %s", got, want)
			}
			for _, key := range []string{"created", "deadlines", "seen", "u:alice"} {
				want := int64(5) // the live sessions
				if key == "u:alice" && user == "" {
					// A page of everyone's cannot know the user of a
					// forgotten session: a page of alice's drops them.
					want = 10
				}
				if n, err := c.ZCard(ctx, prefix+key).Result(); err != nil || n != want {
					t.Fatalf("%s holds %d entries (err %v), want %d", key, n, err, want)
				}
			}
			if _, err := s.ListSessions(ctx, logout.ListOptions{UserID: "alice", Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if n, err := s.CountSessions(ctx, logout.ListOptions{UserID: "alice"}); err != nil || n != 5 {
				t.Fatalf("CountSessions(alice) = %d, %v; want 5", n, err)
			}
		})
	}
}

func sessionIDs(ss []logout.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// TestPastDeadlineKeepsKeyForMargin: a session written with a deadline
// already past (an administrator shortened the lifetime, or storetest's
// fixed dates) stays Margin from the write, for the sweep to end and log.
func TestPastDeadlineKeepsKeyForMargin(t *testing.T) {
	c := redistest.Redis(t)
	now := time.Now().Truncate(time.Microsecond)
	past := now.Add(-2 * time.Hour) // plus the default margin, an hour ago
	for _, tt := range []struct {
		name  string
		write func(ctx context.Context, s *redisstore.Store) error
	}{
		{"create", func(ctx context.Context, s *redisstore.Store) error {
			return s.CreateSession(ctx, logout.Session{ID: "a", UserID: "alice", Created: past, LastSeen: past, Deadline: past})
		}},
		{"touch", func(ctx context.Context, s *redisstore.Store) error {
			err := s.CreateSession(ctx, logout.Session{ID: "a", UserID: "alice", Created: past, LastSeen: past, Deadline: now.Add(time.Hour)})
			if err != nil {
				return err
			}
			return s.TouchSession(ctx, "a", past, past)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := redistest.RedisPrefix(t, c)
			s := newStore(t, c, redisstore.Options{Prefix: prefix})
			ctx := t.Context()
			before, err := c.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.write(ctx, s); err != nil {
				t.Fatal(err)
			}
			after, err := c.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			exp := expireTime(t, c, prefix+"s:a")
			if lo, hi := before.Add(time.Hour).Truncate(time.Millisecond), after.Add(time.Hour); exp.Before(lo) || exp.After(hi) {
				t.Fatalf("session key expires at %v, want an hour after the write, %v to %v", exp, lo, hi)
			}
			if got := expireTime(t, c, prefix+"u:alice"); got.Before(exp) {
				t.Fatalf("user index expires at %v, before its session (%v)", got, exp)
			}
			got, err := s.ExpiredSessions(ctx, now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != "a" || !got[0].Deadline.Equal(past) {
				t.Fatalf("ExpiredSessions = %v, want a with deadline %v", got, past)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	writer, listener := redistest.Redis(t), redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, writer)
	w := newStore(t, writer, redisstore.Options{Prefix: prefix})
	l := newStore(t, listener, redisstore.Options{Prefix: prefix})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	changes := make(chan logout.Change, 16)
	done := make(chan error, 1)
	go func() { done <- l.Watch(ctx, func(c logout.Change) { changes <- c }) }()
	waitSubscribed(t, writer, prefix+"changes")

	next := func(want logout.Change) {
		t.Helper()
		select {
		case got := <-changes:
			slices.Sort(got.Ended)
			if got.All != want.All || got.Settings != want.Settings || !slices.Equal(got.Ended, want.Ended) {
				t.Fatalf("got change %+v, want %+v", got, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no change within 1s, want %+v", want)
		case err := <-done:
			t.Fatalf("Watch returned %v", err)
		}
	}

	next(logout.Change{All: true}) // changes before the subscription were missed
	if _, err := w.SaveSettings(ctx, logout.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	next(logout.Change{Settings: true})

	if _, err := w.SaveSettings(ctx, logout.DefaultSettings()); !errors.Is(err, logout.ErrConflict) {
		t.Fatalf("stale SaveSettings = %v, want ErrConflict", err)
	}
	now := time.Now().Truncate(time.Microsecond)
	for _, id := range []string{"a", "b", "c"} {
		if err := w.CreateSession(ctx, logout.Session{ID: id, UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.EndSessions(ctx, logout.Selector{IDs: []string{"b", "a", "gone"}}, logout.ReasonForced, now); err != nil {
		t.Fatal(err)
	}
	next(logout.Change{Ended: []string{"a", "b"}}) // the refused save announced nothing
	if _, err := w.EndSessions(ctx, logout.Selector{IDs: []string{"a"}}, logout.ReasonForced, now); err != nil {
		t.Fatal(err)
	}
	if _, err := w.EndSessions(ctx, logout.Selector{All: true}, logout.ReasonForced, now); err != nil {
		t.Fatal(err)
	}
	next(logout.Change{Ended: []string{"c"}}) // ending nothing announced nothing
	if err := writer.Publish(ctx, prefix+"changes", "garbled").Err(); err != nil {
		t.Fatal(err)
	}
	next(logout.Change{All: true}) // an unreadable message may hide any change

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Watch did not return within 1s of cancel")
	}
}

// waitSubscribed waits until channel has a subscriber, so that nothing
// published after it returns is missed.
func waitSubscribed(t *testing.T, c *redis.Client, channel string) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Second)
	for {
		n, err := c.PubSubNumSub(t.Context(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n[channel] > 0 {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("no subscriber on %s after 5s", channel)
		}
	}
}

func TestWatchFailsWhenItCannotListen(t *testing.T) {
	redistest.Redis(t) // skips without a server, as the other tests do
	c := redis.NewClient(redistest.RedisOptions(t))
	c.Close()
	s := newStore(t, c, redisstore.Options{Prefix: "logouttest:closed:"})
	err := s.Watch(t.Context(), func(logout.Change) { t.Error("fn called") })
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Watch on a closed client = %v, want a failure", err)
	}
}

func TestTouchRacingEndNeverResurrects(t *testing.T) {
	c := redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c)
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	const sessions, touchers, touches = 40, 4, 20
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%02d", i)
		sess := logout.Session{ID: ids[i], UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(15 * time.Minute)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}

	var wg sync.WaitGroup
	var ended atomic.Int64
	start := make(chan struct{})
	end := func(sel logout.Selector) {
		<-start
		evs, err := s.EndSessions(ctx, sel, logout.ReasonForced, now.Add(time.Minute))
		if err != nil {
			t.Error(err)
		}
		ended.Add(int64(len(evs)))
	}
	for i, id := range ids {
		for k := range touchers {
			wg.Go(func() {
				<-start
				for j := range touches {
					seen := now.Add(time.Duration(k*touches+j) * time.Millisecond)
					err := s.TouchSession(ctx, id, seen, seen.Add(15*time.Minute))
					if err != nil && !errors.Is(err, logout.ErrNotFound) {
						t.Error(err)
					}
				}
			})
		}
		if i%2 == 0 {
			wg.Go(func() { end(logout.Selector{IDs: []string{id}}) })
		}
	}
	wg.Go(func() { end(logout.Selector{UserID: "alice"}) })
	wg.Go(func() { end(logout.Selector{All: true}) })
	close(start)
	wg.Wait()

	if got := ended.Load(); got != sessions {
		t.Fatalf("%d sessions ended in all, want %d", got, sessions)
	}
	for _, id := range ids {
		if err := s.TouchSession(ctx, id, now.Add(time.Hour), now.Add(2*time.Hour)); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("TouchSession(%s) after the end = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Session(ctx, id); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("Session(%s) after the end = %v, want ErrNotFound", id, err)
		}
	}
	keys := []string{prefix + "deadlines", prefix + "created", prefix + "u:alice"}
	for _, id := range ids {
		keys = append(keys, prefix+"s:"+id)
	}
	if n, err := c.Exists(ctx, keys...).Result(); err != nil || n != 0 {
		t.Fatalf("%d session or index keys left (err %v), want none", n, err)
	}
	evs, err := s.Events(ctx, logout.EventQuery{Limit: 10 * sessions})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != sessions {
		t.Fatalf("%d events logged, want %d", len(evs), sessions)
	}
}

func BenchmarkSession(b *testing.B) {
	c := redistest.Redis(b)
	s := newStore(b, c, redisstore.Options{Prefix: redistest.RedisPrefix(b, c)})
	now := time.Now().Truncate(time.Microsecond)
	sess := logout.Session{ID: "a", UserID: "alice", Roles: []string{"editor"}, Created: now, LastSeen: now, Deadline: now.Add(time.Hour)}
	if err := s.CreateSession(b.Context(), sess); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Session(b.Context(), "a"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouchSession(b *testing.B) {
	c := redistest.Redis(b)
	s := newStore(b, c, redisstore.Options{Prefix: redistest.RedisPrefix(b, c)})
	now := time.Now().Truncate(time.Microsecond)
	sess := logout.Session{ID: "a", UserID: "alice", Roles: []string{"editor"}, Created: now, LastSeen: now, Deadline: now.Add(time.Hour)}
	if err := s.CreateSession(b.Context(), sess); err != nil {
		b.Fatal(err)
	}
	seen := now
	for b.Loop() {
		seen = seen.Add(time.Microsecond)
		if err := s.TouchSession(b.Context(), "a", seen, seen.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDoneContextFailsEveryMethod(t *testing.T) {
	c := redistest.Redis(t)
	s := newStore(t, c, redisstore.Options{Prefix: redistest.RedisPrefix(t, c)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	now := time.Now()
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"CreateSession", func() error {
			return s.CreateSession(ctx, logout.Session{ID: "a", Created: now, LastSeen: now, Deadline: now})
		}},
		{"Session", func() error { _, err := s.Session(ctx, "a"); return err }},
		{"TouchSession", func() error { return s.TouchSession(ctx, "a", now, now) }},
		{"SetDeadlines", func() error {
			_, err := s.SetDeadlines(ctx, []logout.DeadlineUpdate{{ID: "a", Seen: now, Deadline: now}})
			return err
		}},
		{"CountSessions", func() error { _, err := s.CountSessions(ctx, logout.ListOptions{}); return err }},
		{"ListSessions", func() error { _, err := s.ListSessions(ctx, logout.ListOptions{Limit: 10}); return err }},
		{"ExpiredSessions", func() error { _, err := s.ExpiredSessions(ctx, now, 10); return err }},
		{"EndSessions", func() error {
			_, err := s.EndSessions(ctx, logout.Selector{All: true}, logout.ReasonForced, now)
			return err
		}},
		{"Event", func() error { _, err := s.Event(ctx, "a"); return err }},
		{"Events", func() error { _, err := s.Events(ctx, logout.EventQuery{Limit: 10}); return err }},
		{"DeleteEvents", func() error { _, err := s.DeleteEvents(ctx, now); return err }},
		{"Settings", func() error { _, err := s.Settings(ctx); return err }},
		{"SaveSettings", func() error { _, err := s.SaveSettings(ctx, logout.DefaultSettings()); return err }},
		{"Watch", func() error { return s.Watch(ctx, func(logout.Change) {}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		})
	}
}

// TestLargeSelections crosses the batch size of the scripts.
func TestLargeSelections(t *testing.T) {
	c := redistest.Redis(t)
	s := newStore(t, c, redisstore.Options{Prefix: redistest.RedisPrefix(t, c)})
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	const n = 900
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%03d", i)
		sess := logout.Session{ID: ids[i], UserID: fmt.Sprintf("u%d", i%3), Created: now, LastSeen: now,
			Deadline: now.Add(time.Duration(i) * time.Second)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	expired, err := s.ExpiredSessions(ctx, now.Add(time.Hour), 600)
	if err != nil {
		t.Fatal(err)
	}
	if got := sessionIDs(expired); !slices.Equal(got, ids[:600]) {
		t.Fatalf("ExpiredSessions returned %d sessions, %v...; want the first 600 by deadline", len(got), got[:min(5, len(got))])
	}
	all, err := s.ListSessions(ctx, logout.ListOptions{Limit: n + 1})
	if err != nil || len(all) != n {
		t.Fatalf("ListSessions = %d sessions, %v; want %d", len(all), err, n)
	}
	// All were created in the same microsecond: a page of 600 after the
	// 100th crosses the scripts' batches and finds its cursor among equal
	// scores.
	page, err := s.ListSessions(ctx, logout.ListOptions{After: logout.CursorOf(all[99]), Limit: 600})
	if err != nil || !slices.Equal(sessionIDs(page), ids[100:700]) {
		t.Fatalf("page after the 100th = %d sessions, %v; want %v...", len(page), err, ids[100:103])
	}

	total := 0
	for _, tt := range []struct {
		name string
		sel  logout.Selector
		want int
	}{
		{"by user", logout.Selector{UserID: "u0"}, n / 3},
		{"by IDs", logout.Selector{IDs: ids[:n/2]}, n/2 - n/6}, // u0's third of them is gone
		{"all but one", logout.Selector{All: true, Except: ids[n-1]}, n - n/3 - (n/2 - n/6) - 1},
	} {
		evs, err := s.EndSessions(ctx, tt.sel, logout.ReasonForced, now)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(evs) != tt.want {
			t.Fatalf("%s: ended %d, want %d", tt.name, len(evs), tt.want)
		}
		total += len(evs)
	}
	left, err := s.ListSessions(ctx, logout.ListOptions{Limit: 10})
	if err != nil || len(left) != 1 || left[0].ID != ids[n-1] {
		t.Fatalf("ListSessions after the ends = %v, %v; want [%s]", sessionIDs(left), err, ids[n-1])
	}
	deleted, err := s.DeleteEvents(ctx, now.Add(time.Second))
	if err != nil || deleted != total {
		t.Fatalf("DeleteEvents = %d, %v; want %d", deleted, err, total)
	}
	if _, err := s.Event(ctx, ids[0]); !errors.Is(err, logout.ErrNotFound) {
		t.Fatalf("Event of a deleted event = %v, want ErrNotFound", err)
	}
}

// TestLargeTagSelection ends a tag's sessions over several scans of its
// set and scripts.
func TestLargeTagSelection(t *testing.T) {
	c := redistest.Redis(t)
	s := newStore(t, c, redisstore.Options{Prefix: redistest.RedisPrefix(t, c)})
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	const n = 700
	for i := range n {
		sess := logout.Session{ID: fmt.Sprintf("s%03d", i), UserID: fmt.Sprintf("u%d", i%5), Created: now, LastSeen: now,
			Deadline: now.Add(time.Hour), Address: "198.51.100.7", Tags: []string{"big", fmt.Sprintf("own:%d", i)}}
		if i%2 == 1 {
			sess.Tags = sess.Tags[1:]
		}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.EndSessions(ctx, logout.Selector{Tag: "big", Except: "s000"}, logout.ReasonForced, now)
	if err != nil || len(evs) != n/2-1 {
		t.Fatalf("EndSessions(Tag big) ended %d, %v; want %d", len(evs), err, n/2-1)
	}
	for _, tt := range []struct {
		opts logout.ListOptions
		want int
	}{
		{logout.ListOptions{Address: "198.51.100.7"}, n/2 + 1},
		{logout.ListOptions{UserID: "u1", Address: "198.51.100.7"}, n / 10},
	} {
		if got, err := s.CountSessions(ctx, tt.opts); err != nil || got != tt.want {
			t.Fatalf("CountSessions(%+v) = %d, %v; want %d", tt.opts, got, err, tt.want)
		}
	}
}

// TestUpgradeOfOlderData: events and settings written before the event
// queries are found by user and in the history after the first prune.
func TestUpgradeOfOlderData(t *testing.T) {
	c := redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c)
	ctx := t.Context()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, user := range []string{"alice", "bob", "alice"} {
		ev := fmt.Sprintf(`{"seq":%d,"session":"s%d","user":%q,"reason":"idle","at":%d}`, i+1, i, user, at.UnixMicro()+int64(i))
		if err := c.ZAdd(ctx, prefix+"events", redis.Z{Score: float64(at.UnixMicro() + int64(i)), Member: ev}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.HSet(ctx, prefix+"settings", "version", 3, "json", `{"version":3,"lifetime":600,"show_counter":true,"warning_lead":60}`).Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	if _, err := s.DeleteEvents(ctx, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, logout.EventQuery{UserID: "alice", Limit: 10})
	if err != nil || len(evs) != 2 || evs[0].SessionID != "s2" || evs[1].SessionID != "s0" {
		t.Fatalf("alice's events after the upgrade = %+v, %v; want s2, s0", evs, err)
	}
	hs, err := s.SettingsHistory(ctx, logout.HistoryQuery{Limit: 10})
	if err != nil || len(hs) != 1 || hs[0].Version != 3 || hs[0].Lifetime != 600*time.Second {
		t.Fatalf("history after the upgrade = %+v, %v; want version 3", hs, err)
	}
}

// TestEndLeavesNoIndexEntry: ending a session, by any selector, removes
// it from every index, its address's and its tags' included, and an
// index left empty is gone; an end by tag also drops the entries of
// sessions that Redis forgot.
func TestEndLeavesNoIndexEntry(t *testing.T) {
	c := redistest.Redis(t)
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	for _, sel := range []logout.Selector{{IDs: []string{"a"}}, {UserID: "alice"}, {All: true}, {Tag: "x"}} {
		t.Run(fmt.Sprintf("%+v", sel), func(t *testing.T) {
			prefix := redistest.RedisPrefix(t, c)
			s := newStore(t, c, redisstore.Options{Prefix: prefix})
			sess := logout.Session{ID: "a", UserID: "alice", Created: now, LastSeen: now, Deadline: now.Add(time.Hour),
				UserAgent: "Firefox", Address: "192.0.2.1", Tags: []string{"x", "y"}}
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			if evs, err := s.EndSessions(ctx, sel, logout.ReasonForced, now); err != nil || len(evs) != 1 {
				t.Fatalf("EndSessions = %v, %v; want a's event", evs, err)
			}
			keys, err := c.Keys(ctx, prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(keys)
			want := []string{prefix + "e:a", prefix + "eu:alice", prefix + "events", prefix + "seq"}
			if !slices.Equal(keys, want) {
				t.Fatalf("keys after the end %q, want %q", keys, want)
			}
		})
	}
	// An end by tag drops the tag set's entries of sessions that Redis
	// forgot, and finds the others.
	prefix := redistest.RedisPrefix(t, c)
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	for _, id := range []string{"a", "b"} {
		if err := s.CreateSession(ctx, logout.Session{ID: id, UserID: "u", Created: now, LastSeen: now, Deadline: now, Tags: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Del(ctx, prefix+"s:a").Err(); err != nil { // what Redis does at deadline plus margin
		t.Fatal(err)
	}
	evs, err := s.EndSessions(ctx, logout.Selector{Tag: "x"}, logout.ReasonForced, now)
	if err != nil || len(evs) != 1 || evs[0].SessionID != "b" {
		t.Fatalf("EndSessions(Tag x) = %+v, %v; want b's event", evs, err)
	}
	if n, err := c.Exists(ctx, prefix+"t:x").Result(); err != nil || n != 0 {
		t.Fatalf("t:x still exists (%d, %v)", n, err)
	}
}

// TestUpgradeOfLayout2: sessions written by layout 2 (no user agent,
// address or tags; no seen index) read with those empty, and come in an
// ActiveFirst walk once the first prune has upgraded the data.
func TestUpgradeOfLayout2(t *testing.T) {
	c := redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c)
	s := newStore(t, c, redisstore.Options{Prefix: prefix})
	ctx := t.Context()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []string // ActiveFirst
	const n = 600     // more than a batch of the upgrade
	for i := range n {
		id := fmt.Sprintf("s%03d", i)
		// Pairs share a second of activity, threes a microsecond of
		// creation, one of which the upgrade's batches split.
		sess := logout.Session{ID: id, UserID: fmt.Sprintf("u%d", i%7), Created: base.Add(time.Duration(i/3) * time.Microsecond),
			LastSeen: base.Add(time.Duration(i/2) * time.Second), Deadline: base.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Reverse(want)
	// What layout 2 wrote: no new fields in the hashes, no seen index.
	for i := range n {
		if err := c.HDel(ctx, fmt.Sprintf("%ss:s%03d", prefix, i), "ua", "addr", "tags").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Del(ctx, prefix+"seen").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, prefix+"schema", 2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// A touch before the upgrade puts its session in the index.
	if err := s.TouchSession(ctx, "s000", base.Add(time.Hour), base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"s000"}, want[:n-1]...)
	active := func() []string {
		t.Helper()
		var ids []string
		opts := logout.ListOptions{Order: logout.ActiveFirst, Limit: 100}
		for {
			page, err := s.ListSessions(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sessionIDs(page)...)
			if len(page) < opts.Limit {
				return ids
			}
			opts.After = logout.CursorOf(page[len(page)-1])
		}
	}
	if got := active(); !slices.Equal(got, []string{"s000"}) {
		t.Fatalf("ActiveFirst before the upgrade = %v, want only the touched s000", got)
	}
	if _, err := s.DeleteEvents(ctx, base); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, prefix+"schema").Int(); err != nil || v != 3 {
		t.Fatalf("layout after the upgrade = %d, %v; want 3", v, err)
	}
	if got := active(); !slices.Equal(got, want) {
		t.Fatalf("ActiveFirst after the upgrade = %d sessions %v...; want %d, %v...", len(got), got[:min(5, len(got))], len(want), want[:5])
	}
	x, err := s.Session(ctx, "s001")
	if err != nil || x.UserAgent != "" || x.Address != "" || x.Tags != nil || x.UserID != "u1" {
		t.Fatalf("Session(s001) after the upgrade = %+v, %v; want no device, address or tags", x, err)
	}
	if evs, err := s.EndSessions(ctx, logout.Selector{UserID: "u1"}, logout.ReasonForced, base); err != nil || len(evs) != (n+5)/7 {
		t.Fatalf("EndSessions(u1) after the upgrade ended %d, %v; want %d", len(evs), err, (n+5)/7)
	}
}
