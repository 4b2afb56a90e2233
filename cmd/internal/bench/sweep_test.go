package bench

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// BenchmarkSweepExpired: each store holds -settings.sessions sessions
// (100 000), all past their deadline, and Manager.Sweep runs until none
// is left. A sweep reads the expired sessions a page of 500 at a time and
// ends each with an EndSessions of its own, which loses to activity that
// another instance wrote meanwhile (Selector.SeenBy), and logs its event
// in the same atomic step; one Sweep ends at most 100 pages.
//
// Each operation is one whole clean-up, the sessions loaded untimed
// before it. Besides ns/op it reports sessions ended per second, the
// store's method calls per operation (calls/op) and, for Redis,
// PostgreSQL and MySQL, what the client sent to the server (trips/op).
func BenchmarkSweepExpired(b *testing.B) {
	n := *settingsSessions
	for _, k := range settingsKinds {
		b.Run(k.name, func(b *testing.B) {
			o := k.open(b)
			counted := &tally{Store: o.store}
			now := sessionsEpoch.Add(time.Hour) // past every deadline of 15 min
			m, err := logout.New(counted, logout.Options{
				Clock:  fakeclock.At(now),
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			var elapsed time.Duration
			var calls, sent int64
			for range b.N {
				b.StopTimer()
				load(b, k.name, o, n)
				c0, t0 := counted.calls.Load(), loadTrips(o.trips)
				start := time.Now()
				b.StartTimer()
				for left := n; left > 0; {
					if err := m.Sweep(b.Context()); err != nil {
						b.Fatal(err)
					}
					if left, err = o.store.CountSessions(b.Context(), logout.ListOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				elapsed += time.Since(start)
				calls += counted.calls.Load() - c0
				sent += loadTrips(o.trips) - t0
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "sessions/s")
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			if o.trips != nil {
				b.ReportMetric(float64(sent)/float64(b.N), "trips/op")
			}
		})
	}
}
