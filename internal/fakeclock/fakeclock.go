// Package fakeclock is a clock that tests move by hand, for the Now
// options of the project's packages, so that tests cross deadlines
// without sleeping.
package fakeclock

import (
	"sync"
	"time"
)

// A Clock is a fake clock, safe for concurrent use. Make one with [New].
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock that reads 2026-11-25 09:00:00 UTC until moved.
func New() *Clock { return &Clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d, backwards when d is negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
