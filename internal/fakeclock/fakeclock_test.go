package fakeclock

import (
	"sync"
	"testing"
	"time"
)

// TestAfter: a channel of After fires when Advance reaches its time, not
// before, with the time it was due at; the clock moving back fires none.
func TestAfter(t *testing.T) {
	const ms = time.Millisecond
	for _, tt := range []struct {
		name     string
		after    []time.Duration // registered at the start
		advances []time.Duration // then each of these
		fired    [][]int         // the channels fired by the start, then by each advance
		waiting  []int           // Waiters after the start, then after each advance
	}{
		{name: "zero and negative fire at once", after: []time.Duration{0, -time.Second},
			fired: [][]int{{0, 1}}, waiting: []int{0}},
		{name: "not before its time", after: []time.Duration{time.Second}, advances: []time.Duration{999 * ms, ms},
			fired: [][]int{nil, nil, {0}}, waiting: []int{1, 1, 0}},
		{name: "one advance past several", after: []time.Duration{3 * time.Second, time.Second, 2 * time.Second}, advances: []time.Duration{2500 * ms, time.Hour},
			fired: [][]int{nil, {1, 2}, {0}}, waiting: []int{3, 1, 0}},
		{name: "back fires none", after: []time.Duration{time.Second}, advances: []time.Duration{-time.Hour, time.Hour, time.Second},
			fired: [][]int{nil, nil, nil, {0}}, waiting: []int{1, 1, 1, 0}},
		{name: "the same time", after: []time.Duration{time.Second, time.Second}, advances: []time.Duration{time.Second},
			fired: [][]int{nil, {0, 1}}, waiting: []int{2, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			start := c.Now()
			chans := make([]<-chan time.Time, len(tt.after))
			for i, d := range tt.after {
				chans[i] = c.After(d)
			}
			done := make([]bool, len(chans))
			check := func(step int) {
				t.Helper()
				want := map[int]bool{}
				for _, i := range tt.fired[step] {
					want[i] = true
				}
				for i, ch := range chans {
					select {
					case at := <-ch:
						if done[i] {
							t.Fatalf("step %d: channel %d fired twice", step, i)
						}
						done[i] = true
						if !want[i] {
							t.Errorf("step %d: channel %d (after %v) fired at %v, want not yet", step, i, tt.after[i], c.Now().Sub(start))
						}
						if due := start.Add(tt.after[i]); !at.Equal(due) {
							t.Errorf("step %d: channel %d received %v, want its due time %v", step, i, at, due)
						}
					default:
						if want[i] {
							t.Errorf("step %d: channel %d (after %v) did not fire at %v", step, i, tt.after[i], c.Now().Sub(start))
						}
					}
				}
				if got := c.Waiters(); got != tt.waiting[step] {
					t.Errorf("step %d: %d waiters, want %d", step, got, tt.waiting[step])
				}
			}
			check(0)
			for i, d := range tt.advances {
				c.Advance(d)
				check(i + 1)
			}
		})
	}
}

// TestAfterEarliestFirst: one Advance fires the channels in the order of
// their times, so that a goroutine woken by the earlier sees it first.
func TestAfterEarliestFirst(t *testing.T) {
	c := New()
	late, early := c.After(2*time.Second), c.After(time.Second)
	c.Advance(time.Minute)
	a, b := <-early, <-late
	if !a.Before(b) {
		t.Fatalf("early fired with %v, late with %v", a, b)
	}
}

// TestConcurrent: After, Advance, Now and Waiters from many goroutines
// (run with -race); every channel fires once the clock passed it all.
func TestConcurrent(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	chans := make([]<-chan time.Time, 100)
	for i := range chans {
		wg.Go(func() {
			chans[i] = c.After(time.Duration(i+1) * time.Second)
			c.Advance(time.Millisecond)
			_, _ = c.Now(), c.Waiters()
		})
	}
	wg.Wait()
	c.Advance(time.Hour)
	for i, ch := range chans {
		select {
		case <-ch:
		default:
			t.Fatalf("channel %d did not fire an hour later", i)
		}
	}
	if n := c.Waiters(); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}
