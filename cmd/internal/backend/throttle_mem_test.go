package backend

import (
	"context"
	"slices"
	"sync"
	"time"
)

// memThrottle is a throttleStore in memory, for one process: the tests'
// model of the stores. Each reservation drops a few forgiven counters, as
// the SQL stores do. It holds at most max counters: when full it drops
// every forgiven one and then the soonest forgiven half, which carry the
// least, so that a spray of addresses neither grows memory nor easily
// pushes out a counter that many failures drove up.
type memThrottle struct {
	mu      sync.Mutex
	max     int
	entries map[string]throttleState
}

// newMemThrottle returns a memThrottle of at most max counters.
func newMemThrottle(max int) *memThrottle {
	return &memThrottle{max: max, entries: make(map[string]throttleState)}
}

func (m *memThrottle) reserve(_ context.Context, now time.Time, cs []throttleCounter) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := now.UnixMilli()
	seen := 0
	for k, e := range m.entries { // from a random place
		if e.tat <= ms {
			delete(m.entries, k)
		}
		if seen++; seen == 4*sweepBatch {
			break
		}
	}
	states := make([]throttleState, len(cs))
	for i, c := range cs {
		states[i] = m.entries[c.Key]
	}
	next, wait := reserveAll(cs, states, ms)
	if wait > 0 {
		return time.Duration(wait) * time.Millisecond, nil
	}
	added := 0
	for _, c := range cs {
		if _, ok := m.entries[c.Key]; !ok {
			added++
		}
	}
	if len(m.entries)+added > m.max {
		m.shrink(ms) // before the writes, so that it never drops one of them
	}
	for i, c := range cs {
		m.entries[c.Key] = next[i]
	}
	return 0, nil
}

// shrink drops the forgiven counters and, if more than half of max remain,
// the soonest forgiven ones down to half; m.mu is held. Halving makes the
// sort's cost a constant share of each insertion.
func (m *memThrottle) shrink(now int64) {
	type kv struct {
		key string
		tat int64
	}
	var live []kv
	for k, e := range m.entries {
		if e.tat <= now {
			delete(m.entries, k)
		} else {
			live = append(live, kv{k, e.tat})
		}
	}
	if len(live) <= m.max/2 {
		return
	}
	slices.SortFunc(live, func(a, b kv) int { return int(min(max(a.tat-b.tat, -1), 1)) })
	for _, e := range live[:len(live)-m.max/2] {
		delete(m.entries, e.key)
	}
}

func (m *memThrottle) forgive(_ context.Context, refund, clear []throttleCounter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range refund {
		if e, ok := m.entries[c.Key]; ok {
			e.tat -= c.Rule.Decay.Milliseconds()
			m.entries[c.Key] = e
		}
	}
	for _, c := range clear {
		delete(m.entries, c.Key)
	}
	return nil
}
