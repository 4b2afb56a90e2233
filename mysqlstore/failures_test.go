package mysqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/storetest"
)

// TestStoreWhateverTheDSN runs the conformance suite on a connection
// whose settings would change the answers of a store that trusted them:
// rows found rather than changed, times parsed in another zone, a session
// time zone other than UTC, interpolated parameters, no strict mode, and
// transactions SERIALIZABLE rather than REPEATABLE READ.
func TestStoreWhateverTheDSN(t *testing.T) {
	cfg := mysqltest.Config(t).Clone()
	cfg.InterpolateParams, cfg.ClientFoundRows, cfg.ParseTime = true, true, true
	cfg.Loc = time.FixedZone("UTC+5", 5*60*60)
	cfg.Params = map[string]string{"time_zone": "'+05:00'", "sql_mode": "''"}
	// MySQL 8 and MariaDB 11.1 call it transaction_isolation, older
	// MariaDB tx_isolation.
	isolation := "transaction_isolation"
	var level string
	if mysqltest.Open(t, cfg).QueryRowContext(t.Context(), "SELECT @@transaction_isolation").Scan(&level) != nil {
		isolation = "tx_isolation"
	}
	cfg.Params[isolation] = "'SERIALIZABLE'"
	db, other := mysqltest.Open(t, cfg), mysqltest.Open(t, cfg)
	if err := db.QueryRowContext(t.Context(), "SELECT @@"+isolation).Scan(&level); err != nil || level != "SERIALIZABLE" {
		t.Fatalf("isolation level %q, %v; want SERIALIZABLE", level, err)
	}
	var prefix string
	storetest.Run(t, func(t *testing.T) logout.Store {
		prefix = mysqltest.Prefix(t, db)
		return newStore(t, db, prefix)
	}, func(t *testing.T) logout.Store {
		return newStore(t, other, prefix)
	})
}

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"deadlock", &mysql.MySQLError{Number: 1213}, true},
		{"lock wait timeout", &mysql.MySQLError{Number: 1205}, true},
		{"connection killed (MariaDB)", &mysql.MySQLError{Number: 1927}, true},
		{"server shutting down", &mysql.MySQLError{Number: 1053}, true},
		{"a bad connection", driver.ErrBadConn, true},
		{"an invalid connection", fmt.Errorf("query: %w", mysql.ErrInvalidConn), true},
		{"a connection cut short", io.ErrUnexpectedEOF, true},
		{"a duplicate key", &mysql.MySQLError{Number: 1062}, false},
		{"a syntax error", &mysql.MySQLError{Number: 1064}, false},
		{"no rows", sql.ErrNoRows, false},
		{"a lost connection at commit, which may have committed", mysqlstore.CommitError(mysql.ErrInvalidConn), false},
		{"a canceled context", context.Canceled, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mysqlstore.Transient(tt.err); got != tt.want {
				t.Fatalf("transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryIsBounded(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name  string
		ctx   context.Context
		errs  []error // of each try; the last repeats
		tries int
	}{
		{"success at once", context.Background(), []error{nil}, 1},
		{"a deadlock, then success", context.Background(), []error{&mysql.MySQLError{Number: 1213}, nil}, 2},
		{"deadlocks every time", context.Background(), []error{&mysql.MySQLError{Number: 1213}}, mysqlstore.MaxTries},
		{"a lasting failure", context.Background(), []error{&mysql.MySQLError{Number: 1064}}, 1},
		{"a lost connection when the context is done", canceled, []error{mysql.ErrInvalidConn}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			err := mysqlstore.Retry(tt.ctx, func() error {
				tries++
				return tt.errs[min(tries, len(tt.errs))-1]
			})
			if want := tt.errs[min(tries, len(tt.errs))-1]; tries != tt.tries || !errors.Is(err, want) && err != want {
				t.Fatalf("retry made %d tries and returned %v, want %d tries", tries, err, tt.tries)
			}
		})
	}
}

// TestKilledConnectionIsTriedAgain kills the connection of an EndSessions
// while it waits for a row lock: the transaction, rolled back by the
// server, is run again on another connection and ends the session once.
func TestKilledConnectionIsTriedAgain(t *testing.T) {
	ways(t, testKilledConnection)
}

func testKilledConnection(t *testing.T, way func(*mysqlstore.Store) *mysqlstore.Store) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	s := way(newStore(t, mysqltest.MySQL(t), prefix))
	create(t, s, "k")
	blocker, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.ExecContext(t.Context(), "SELECT id FROM `"+prefix+"logout_sessions` WHERE id = 'k' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		evs []logout.Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		evs, err := s.EndSessions(context.Background(), logout.Selector{IDs: []string{"k"}}, logout.ReasonForced, time.Unix(0, 0))
		done <- result{evs, err}
	}()
	// waiting returns the connection ID of the EndSessions that waits for
	// the lock, other than not.
	waiting := func(not int64) int64 {
		t.Helper()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		timeout := time.After(5 * time.Second)
		for {
			var id int64
			// The locking read, or MariaDB's DELETE … RETURNING.
			err := db.QueryRowContext(t.Context(), `SELECT ID FROM information_schema.PROCESSLIST
WHERE (INFO LIKE CONCAT('SELECT id, user_id, tags FROM `+"`"+`', ?, 'logout_sessions%FOR UPDATE')
	OR INFO LIKE CONCAT('DELETE FROM `+"`"+`', ?, 'logout_sessions%RETURNING id, user_id, tags')) AND ID <> ?`, prefix, prefix, not).Scan(&id)
			if err == nil {
				return id
			}
			if !errors.Is(err, sql.ErrNoRows) {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				t.Fatalf("EndSessions returned %v, %v while the row was locked", r.evs, r.err)
			case <-timeout:
				t.Fatal("EndSessions did not wait for the lock within 5 s")
			case <-tick.C:
			}
		}
	}
	first := waiting(0)
	if _, err := db.ExecContext(t.Context(), fmt.Sprintf("KILL CONNECTION %d", first)); err != nil {
		t.Fatal(err)
	}
	waiting(first) // tried again, on another connection
	blocker.Rollback()
	r := <-done
	if r.err != nil || len(r.evs) != 1 {
		t.Fatalf("EndSessions = %v, %v; want the end of k", r.evs, r.err)
	}
	if evs, err := s.Events(t.Context(), logout.EventQuery{Limit: 10}); err != nil || len(evs) != 1 {
		t.Fatalf("Events = %v, %v; want one", evs, err)
	}
}

// TestConcurrentWriters runs ends of every kind, deadline batches,
// touches and sign-ins at once through two handles, as several instances
// would: every call succeeds (deadlocks, if any, are tried again), and
// each session ends once.
func TestConcurrentWriters(t *testing.T) {
	ways(t, testConcurrentWriters)
}

func testConcurrentWriters(t *testing.T, way func(*mysqlstore.Store) *mysqlstore.Store) {
	db := mysqltest.MySQL(t)
	prefix := mysqltest.Prefix(t, db)
	stores := []*mysqlstore.Store{way(newStore(t, db, prefix)), way(newStore(t, mysqltest.MySQL(t), prefix))}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var created []string
	newSession := func(s *mysqlstore.Store, i int) {
		id := fmt.Sprintf("s%05d", i)
		x := logout.Session{ID: id, UserID: fmt.Sprintf("u%d", i%5), Created: base, LastSeen: base, Deadline: base.Add(time.Hour)}
		if err := s.CreateSession(context.Background(), x); err != nil {
			t.Error(err)
		}
		mu.Lock()
		created = append(created, id)
		mu.Unlock()
	}
	for i := range 300 {
		newSession(stores[i%2], i)
	}
	deadlocks := func() (n int64) {
		db.QueryRowContext(t.Context(), "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'").Scan(&n)
		return n
	}
	before := deadlocks()
	pick := func(r *rand.Rand, n int) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for range n {
			out = append(out, created[r.IntN(len(created))])
		}
		return out
	}
	var wg sync.WaitGroup
	var ended sync.Map // session ID: times ended
	for w := range 8 {
		s := stores[w%2]
		r := rand.New(rand.NewPCG(uint64(w), 1))
		wg.Go(func() {
			for i := range 40 {
				var err error
				var evs []logout.Event
				switch w {
				case 0, 1: // ends by ID, one and many
					evs, err = s.EndSessions(context.Background(), logout.Selector{IDs: pick(r, 1+i%7)}, logout.ReasonForced, base)
				case 2: // ends by user
					evs, err = s.EndSessions(context.Background(), logout.Selector{UserID: fmt.Sprintf("u%d", i%5), Except: pick(r, 1)[0]}, logout.ReasonForced, base)
				case 3: // everyone but one, once in a while
					if i%10 == 9 {
						evs, err = s.EndSessions(context.Background(), logout.Selector{All: true, Except: pick(r, 1)[0]}, logout.ReasonForced, base)
					}
				case 4, 5: // deadline batches
					var ups []logout.DeadlineUpdate
					for _, id := range pick(r, 50) {
						ups = append(ups, logout.DeadlineUpdate{ID: id, Seen: base, Deadline: base.Add(time.Duration(i) * time.Minute)})
					}
					_, err = s.SetDeadlines(context.Background(), ups)
				case 6: // touches
					for _, id := range pick(r, 5) {
						if err = s.TouchSession(context.Background(), id, base.Add(time.Second), base.Add(2*time.Hour)); errors.Is(err, logout.ErrNotFound) {
							err = nil
						}
					}
				case 7: // sign-ins
					newSession(s, 1000+i)
				}
				if err != nil {
					t.Errorf("worker %d, round %d: %v", w, i, err)
				}
				for _, e := range evs {
					n, _ := ended.LoadOrStore(e.SessionID, new(int))
					*n.(*int)++
				}
			}
		})
	}
	wg.Wait()
	var logged []string
	evs, err := stores[0].Events(context.Background(), logout.EventQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		logged = append(logged, e.SessionID)
	}
	slices.Sort(logged)
	if len(slices.Compact(slices.Clone(logged))) != len(logged) {
		t.Fatal("a session was logged as ended more than once")
	}
	ended.Range(func(id, n any) bool {
		if *n.(*int) != 1 {
			t.Errorf("session %s: %d events returned, want 1", id, *n.(*int))
		}
		if _, found := slices.BinarySearch(logged, id.(string)); !found {
			t.Errorf("session %s: ended but not logged", id)
		}
		if _, err := stores[1].Session(context.Background(), id.(string)); !errors.Is(err, logout.ErrNotFound) {
			t.Errorf("session %s: ended but still there (%v)", id, err)
		}
		return true
	})
	// Every locking statement goes by the primary key in ascending
	// order: none should deadlock. The count is the server's, and other
	// tests may share the server, so it is shown, not checked.
	t.Logf("%d sessions ended; the server counted %d deadlocks meanwhile", len(logged), deadlocks()-before)
}
