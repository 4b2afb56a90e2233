package mysqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
	"github.com/gologout/logout/mysqlstore/mysqltest"
	"github.com/gologout/logout/storetest"
)

// BenchmarkCalls measures one call of each kind that the request path,
// the sweeper and the watcher make, on 1000 sessions, one at a time:
// the time of the round trips (two a statement without
// interpolateParams, one with it) and of the commit.
func BenchmarkCalls(b *testing.B) {
	for _, interpolate := range []bool{false, true} {
		cfg := mysqltest.Config(b).Clone()
		cfg.InterpolateParams = interpolate
		db := mysqltest.Open(b, cfg)
		s := newStore(b, db, mysqltest.Prefix(b, db))
		ctx := context.Background()
		base := time.Now().UTC().Truncate(time.Microsecond)
		const n = 1000
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%064x", i)
			x := logout.Session{ID: ids[i], UserID: fmt.Sprint("u", i%50), Roles: []string{"editor"},
				Created: base, LastSeen: base, Deadline: base.Add(15 * time.Minute)}
			if err := s.CreateSession(ctx, x); err != nil {
				b.Fatal(err)
			}
		}
		last := int64(1 << 40) // after the last change: the poll finds nothing
		for _, call := range []struct {
			name string
			op   func(b *testing.B, i int) error
		}{
			{"Session", func(_ *testing.B, i int) error { _, err := s.Session(ctx, ids[i%n]); return err }},
			{"TouchSession", func(_ *testing.B, i int) error {
				seen := base.Add(time.Duration(i) * time.Microsecond)
				return s.TouchSession(ctx, ids[i%n], seen, seen.Add(15*time.Minute))
			}},
			{"Watch poll, nothing new", func(*testing.B, int) error { _, err := mysqlstore.Poll(ctx, s, last); return err }},
			{"EndSessions of one", func(b *testing.B, i int) error {
				id := fmt.Sprintf("end-%d", i)
				if err := s.CreateSession(ctx, logout.Session{ID: id, UserID: "u", Created: base, LastSeen: base, Deadline: base}); err != nil {
					return err
				}
				b.StartTimer()
				evs, err := s.EndSessions(ctx, logout.Selector{IDs: []string{id}, SeenBy: base}, logout.ReasonIdle, base)
				b.StopTimer()
				if err == nil && len(evs) != 1 {
					err = fmt.Errorf("ended %d sessions, want 1", len(evs))
				}
				return err
			}},
		} {
			b.Run(fmt.Sprintf("%s/interpolateParams=%v", call.name, interpolate), func(b *testing.B) {
				if call.name == "EndSessions of one" {
					b.StopTimer() // times only the end, not the sign-in
				}
				for i := range b.N {
					if err := call.op(b, i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkListActiveFirst lists 100,000 sessions in pages of 50 in
// ActiveFirst order (storetest.BenchmarkPages: the first page, the pages
// at half and at 90 % of the way, and a whole walk). A page reads its own
// entries of seen_idx, so every page costs about the same.
func BenchmarkListActiveFirst(b *testing.B) {
	db := mysqltest.MySQL(b)
	prefix := mysqltest.Prefix(b, db)
	s := newStore(b, db, prefix)
	ctx := context.Background()
	// Activity one second apart, with ties: sessions n and n+1 share it.
	if _, err := db.ExecContext(ctx, strings.ReplaceAll(`INSERT INTO `+"`"+prefix+`logout_sessions`+"`"+`
	(id, user_id, roles, created, last_seen, deadline, user_agent, address)
SELECT LPAD(HEX(n), 64, '0'), CONCAT('u', n % 1000), '["editor"]', 1767225600000000, 1767225600000000 + (n DIV 2) * 1000000,
	1767226500000000 + (n DIV 2) * 1000000, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', CONCAT('192.0.2.', n % 250)
FROM {numbers} WHERE n <= 100000`, "{numbers}", numbers)); err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkPages(b, s, 100000, logout.ActiveFirst, nil)
}
