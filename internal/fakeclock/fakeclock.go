// Package fakeclock is a clock that tests move by hand, for the clocks
// of the project's packages (logout.Options.Clock, and the Now options
// of others), so that tests cross deadlines and fire the Manager's
// timers without sleeping.
package fakeclock

import (
	"slices"
	"sync"
	"time"
)

// A Clock is a fake clock, safe for concurrent use. Make one with [New].
// It implements logout.Clock: [Clock.After] waits for [Clock.Advance].
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter // in no order
}

// A waiter is a channel of After, due at at.
type waiter struct {
	at time.Time
	c  chan time.Time
}

// New returns a Clock that reads 2026-11-25 09:00:00 UTC until moved.
func New() *Clock { return At(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)) }

// At returns a Clock that reads t until moved.
func At(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// After returns a channel that receives the time when [Clock.Advance]
// moves the clock to d from now or past it: at once when d <= 0. The
// channel has room for its one value, so nothing blocks on a channel
// that is never read; one never fired is kept until it fires.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.t.Add(d)
	if d <= 0 {
		ch <- at
		return ch
	}
	c.waiters = append(c.waiters, waiter{at, ch})
	return ch
}

// Advance moves the clock by d, backwards when d is negative, and fires
// the channels of [Clock.After] that are then due, earliest first, each
// with the time it was due at.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	var due []waiter
	c.waiters = slices.DeleteFunc(c.waiters, func(w waiter) bool {
		if w.at.After(c.t) {
			return false
		}
		due = append(due, w)
		return true
	})
	slices.SortStableFunc(due, func(a, b waiter) int { return a.at.Compare(b.at) })
	for _, w := range due {
		w.c <- w.at // never blocks: the channel holds one value and gets one
	}
}

// Waiters returns how many channels of [Clock.After] wait to fire, so
// that a test outside a [testing/synctest] bubble can wait for a
// goroutine to start waiting before it moves the clock.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
