package logout

import "time"

// A Clock is the time of a [Manager]: it reads the time of deadlines,
// activity and logs, and it makes the Manager's background work wait
// (the sweep and the beat of [Manager.Run], the retries of a [Watcher]
// store's watch). Give one in [Options.Clock] to fake time in tests; the
// default is [SystemClock]. Its methods must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed,
	// as [time.After] does; d <= 0 has passed already. The Manager may
	// abandon the channel without reading it.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the [Clock] of the time package: [time.Now] and
// [time.After]. In a [testing/synctest] bubble it is the bubble's fake
// clock.
type SystemClock struct{}

// Now returns [time.Now]().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns [time.After](d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
