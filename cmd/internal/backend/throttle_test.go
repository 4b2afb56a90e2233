package backend

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/pgstore/pgtest"
	"github.com/gologout/logout/redisstore/redistest"
)

// A testThrottle is a throttleStore opened for a test, with a count of
// the counters it holds.
type testThrottle struct {
	throttleStore
	size func(t *testing.T) int
}

// throttleStoreKinds opens each throttleStore for the shared table of
// cases. Redis, MySQL and PostgreSQL come from redisstore/redistest,
// mysqlstore/mysqltest and pgstore/pgtest: they skip without the servers
// and fail without them under CI=true.
func throttleStoreKinds() []struct {
	name string
	open func(t *testing.T) testThrottle
} {
	count := func(t *testing.T, row interface{ Scan(...any) error }) int {
		t.Helper()
		var n int
		if err := row.Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return []struct {
		name string
		open func(t *testing.T) testThrottle
	}{
		{"memory", func(t *testing.T) testThrottle {
			s := newMemThrottle(1000)
			return testThrottle{s, func(*testing.T) int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.entries) }}
		}},
		{"sqlite", func(t *testing.T) testThrottle {
			u, err := openUsers(t.Context(), filepath.Join(t.TempDir(), "users.db"), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.close() })
			s, err := newSQLiteThrottle(t.Context(), u.db)
			if err != nil {
				t.Fatal(err)
			}
			return testThrottle{s, func(t *testing.T) int {
				return count(t, u.db.QueryRowContext(t.Context(), `SELECT count(*) FROM signin_throttle`))
			}}
		}},
		{"redis", func(t *testing.T) testThrottle {
			c := redistest.Redis(t)
			prefix := redistest.RedisPrefix(t, c)
			return testThrottle{&redisThrottle{c: c, prefix: prefix}, func(t *testing.T) int {
				keys, _, err := c.Scan(t.Context(), 0, prefix+"*", 10000).Result()
				if err != nil {
					t.Fatal(err)
				}
				return len(keys)
			}}
		}},
		{"mysql", func(t *testing.T) testThrottle {
			db := mysqltest.MySQL(t)
			prefix := mysqltest.Prefix(t, db)
			s, err := newMySQLThrottle(t.Context(), db, prefix)
			if err != nil {
				t.Fatal(err)
			}
			return testThrottle{s, func(t *testing.T) int {
				return count(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM `"+prefix+mysqlThrottleTable+"`"))
			}}
		}},
		{"postgres", func(t *testing.T) testThrottle {
			pool := pgtest.Postgres(t)
			schema := pgtest.PostgresSchema(t, pool)
			s, err := newPGThrottle(t.Context(), pool, schema)
			if err != nil {
				t.Fatal(err)
			}
			return testThrottle{s, func(t *testing.T) int {
				return count(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM `+pgx.Identifier{schema, "signin_throttle"}.Sanitize()))
			}}
		}},
	}
}

// A throttleOp is one step of a throttle case: at a time after the
// case's start, reserve the named counters and want this wait, or
// forgive.
type throttleOp struct {
	at      time.Duration
	reserve []string
	want    time.Duration // with reserve
	refund  []string
	clear   []string
}

// testCounters returns the counters of the cases by name: "a" has 3 free
// attempts and "b" 1, both forgiven one a minute; "slow" has 1, forgiven
// one a day.
func testCounters(names []string) []throttleCounter {
	cs := make([]throttleCounter, len(names))
	for i, n := range names {
		r := throttleRule{Free: 1, Decay: time.Minute}
		switch n {
		case "a":
			r.Free = 3
		case "slow":
			r.Decay = 24 * time.Hour
		}
		cs[i] = throttleCounter{Key: n, Rule: r}
	}
	return cs
}

// reserveOp is a step that reserves the counters names at and wants this
// wait.
func reserveOp(at time.Duration, names []string, want time.Duration) throttleOp {
	return throttleOp{at: at, reserve: names, want: want}
}

func one(name string) []string { return []string{name} }

const s1 = time.Second

// throttleCases are run on every store.
func throttleCases() []struct {
	name string
	ops  []throttleOp
} {
	capped := []throttleOp{reserveOp(0, one("slow"), 0)}
	at, wait := time.Duration(0), time.Second
	for range 14 { // 1 s, 2 s, … 512 s, then 900 s (the cap) each time
		capped = append(capped, reserveOp(at, one("slow"), wait), reserveOp(at+wait, one("slow"), 0))
		at += wait
		wait = min(2*wait, throttleMax)
	}
	return []struct {
		name string
		ops  []throttleOp
	}{
		{"free attempts at once, then doubling waits", []throttleOp{
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(0, one("a"), s1),
			reserveOp(999*time.Millisecond, one("a"), time.Millisecond),
			reserveOp(s1, one("a"), 0),
			reserveOp(s1, one("a"), 2*s1),
			reserveOp(3*s1, one("a"), 0),
			reserveOp(3*s1, one("a"), 4*s1),
		}},
		{"a refused attempt is not counted", []throttleOp{
			reserveOp(0, one("b"), 0),
			reserveOp(0, one("b"), s1), reserveOp(0, one("b"), s1), reserveOp(500*time.Millisecond, one("b"), 500*time.Millisecond),
			reserveOp(s1, one("b"), 0),
			reserveOp(s1, one("b"), 2*s1),
		}},
		{"time forgives one attempt per Decay", []throttleOp{
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(time.Minute-s1, one("a"), 0), // three still count, and their wait of 1 s is over
			reserveOp(time.Minute-s1, one("a"), 2*s1),
			reserveOp(2*time.Minute, one("a"), 0), // two still count
			reserveOp(2*time.Minute, one("a"), s1),
			reserveOp(10*time.Minute, one("a"), 0), reserveOp(10*time.Minute, one("a"), 0), reserveOp(10*time.Minute, one("a"), 0),
			reserveOp(10*time.Minute, one("a"), s1),
		}},
		{"the wait stops at throttleMax", capped},
		{"an attempt one counter refuses counts on none", []throttleOp{
			reserveOp(0, []string{"b", "a"}, 0),
			reserveOp(0, []string{"b", "a"}, s1), // b refuses: a does not count it
			reserveOp(0, []string{"b", "a"}, s1),
			reserveOp(0, []string{"a"}, 0), // a has counted one of its three
			reserveOp(0, []string{"a"}, 0),
			reserveOp(0, []string{"a"}, s1),
			reserveOp(s1, []string{"a", "b"}, 0),
		}},
		{"the longest wait is returned", []throttleOp{
			reserveOp(0, []string{"a", "b"}, 0),
			reserveOp(0, []string{"a", "b"}, s1),
			reserveOp(s1, []string{"a", "b"}, 0),
			reserveOp(s1, []string{"a"}, 0), // a: 3 counted, b: 2
			reserveOp(s1, []string{"a", "b"}, 2*s1),
			reserveOp(1500*time.Millisecond, []string{"b", "a"}, 1500*time.Millisecond),
			reserveOp(2*s1, []string{"a", "b"}, s1),
			reserveOp(3*s1, []string{"a", "b"}, 0),
		}},
		{"a refund takes one attempt back", []throttleOp{
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(0, one("a"), s1),
			{refund: one("a")},
			reserveOp(0, one("a"), 0),
			reserveOp(0, one("a"), s1),
		}},
		{"clear forgets a counter", []throttleOp{
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(0, one("b"), 0),
			reserveOp(0, []string{"a", "b"}, s1),
			{clear: one("a")},
			reserveOp(0, one("b"), s1),
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(0, one("a"), s1),
		}},
		{"forgiving missing counters leaves them missing", []throttleOp{
			{refund: one("a"), clear: one("b")},
			reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0), reserveOp(0, one("a"), 0),
			reserveOp(0, one("a"), s1),
		}},
	}
}

// TestThrottleStores runs the same cases on the memory, SQLite, Redis,
// MySQL and PostgreSQL stores: the Go arithmetic, the Lua script and the
// SQL statement must agree to the millisecond.
func TestThrottleStores(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, kind := range throttleStoreKinds() {
		t.Run(kind.name, func(t *testing.T) {
			for _, tc := range throttleCases() {
				t.Run(tc.name, func(t *testing.T) {
					s := kind.open(t)
					for i, op := range tc.ops {
						if op.reserve == nil {
							if err := s.forgive(t.Context(), testCounters(op.refund), testCounters(op.clear)); err != nil {
								t.Fatalf("step %d: forgive: %v", i+1, err)
							}
							continue
						}
						got, err := s.reserve(t.Context(), start.Add(op.at), testCounters(op.reserve))
						if err != nil {
							t.Fatalf("step %d: reserve: %v", i+1, err)
						}
						if got != op.want {
							t.Fatalf("step %d: reserve %v at +%v: got %v, want %v", i+1, op.reserve, op.at, got, op.want)
						}
					}
				})
			}
			t.Run("concurrent attempts", func(t *testing.T) {
				// b allows one attempt, so one of 32 concurrent
				// attempts on a and b is counted, on both; a then
				// allows its two others.
				s := kind.open(t)
				var wg sync.WaitGroup
				var mu sync.Mutex
				counted := 0
				for range 32 {
					wg.Go(func() {
						wait, err := s.reserve(context.Background(), start, testCounters([]string{"a", "b"}))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						defer mu.Unlock()
						if wait == 0 {
							counted++
						}
					})
				}
				wg.Wait()
				if counted != 1 {
					t.Errorf("32 concurrent attempts on a and b: counted %d, want 1", counted)
				}
				for i, want := range []time.Duration{0, 0, s1} {
					if got, err := s.reserve(t.Context(), start, testCounters(one("a"))); err != nil || got != want {
						t.Errorf("attempt %d on a alone: got %v (%v), want %v", i+1, got, err, want)
					}
				}
			})
		})
	}
}

// TestThrottleExpiry checks that counters leave the store once forgiven:
// memory, SQLite, MySQL and PostgreSQL drop them on later reservations,
// Redis expires them by itself when their debt is paid.
func TestThrottleExpiry(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	rule := throttleRule{Free: 3, Decay: time.Minute}
	for _, kind := range throttleStoreKinds() {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.open(t)
			for i := range 20 {
				if _, err := s.reserve(t.Context(), start, []throttleCounter{{"old" + strconv.Itoa(i), rule}}); err != nil {
					t.Fatal(err)
				}
			}
			if r, ok := s.throttleStore.(*redisThrottle); ok {
				ttl, err := r.c.(*redis.Client).PTTL(t.Context(), r.prefix+"old0").Result()
				if err != nil || ttl <= 0 || ttl > time.Minute {
					t.Errorf("TTL of a counter with one minute of debt: got %v (%v), want up to 1m", ttl, err)
				}
				return
			}
			later := start.Add(time.Hour)
			for i := range 2 { // each deletes up to sweepBatch forgiven counters
				if _, err := s.reserve(t.Context(), later, []throttleCounter{{"new" + strconv.Itoa(i), rule}}); err != nil {
					t.Fatal(err)
				}
			}
			if n := s.size(t); n != 2 {
				t.Errorf("counters after 20 of 22 were forgiven: got %d, want 2", n)
			}
		})
	}
}

// TestMemThrottleBounded sprays a memory store with many more keys than
// it holds: it stays within its bound, and a counter that failures drove
// up stays too.
func TestMemThrottleBounded(t *testing.T) {
	s := newMemThrottle(100)
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	rule := throttleRule{Free: 3, Decay: time.Minute}
	hot := []throttleCounter{{"a:admin", rule}}
	for range 5 {
		s.reserve(t.Context(), now, hot)
	}
	for i := range 10000 {
		s.reserve(t.Context(), now.Add(time.Duration(i)*time.Millisecond), []throttleCounter{{"ip:" + strconv.Itoa(i), rule}})
		if len(s.entries) > 100 {
			t.Fatalf("after %d keys: %d entries, want at most 100", i+1, len(s.entries))
		}
	}
	if _, ok := s.entries["a:admin"]; !ok {
		t.Error("the spray evicted the counter of the attacked account")
	}
}

// failingThrottle is a throttleStore whose server is down.
type failingThrottle struct{}

func (failingThrottle) reserve(context.Context, time.Time, []throttleCounter) (time.Duration, error) {
	return 0, errors.New("connection refused")
}

func (failingThrottle) forgive(context.Context, []throttleCounter, []throttleCounter) error {
	return errors.New("connection refused")
}

// TestSignInThrottleUnavailable checks that sign-in fails closed: when
// the counts cannot be kept, no password is checked and the answer is
// 503.
func TestSignInThrottleUnavailable(t *testing.T) {
	a, err := New(t.Context(), Config{
		DataDir: t.TempDir(), BcryptCost: bcrypt.MinCost, AdminPassword: "admin-password-1",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.limit.store = failingThrottle{}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(srv.URL + a.SignInPath())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if tok == nil {
		t.Fatal("no csrf_token in the sign-in page")
	}
	res, err = c.PostForm(srv.URL+a.SignInPath(), url.Values{"csrf_token": {string(tok[1])}, "username": {"admin"}, "password": {"admin-password-1"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("sign-in without its counts: got %d, want 503", res.StatusCode)
	}
}
