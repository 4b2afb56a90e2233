package logout

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Real work is not idleness: a backend request still being served keeps
// its session from ending by idleness (the absolute limit still ends
// it), and the moment it finishes counts as activity. The engine sees
// this through entry.busy: a deadline judged while it is positive is
// judged from now (decideStore, endExpired). For other processes sharing
// the store, [Manager.tend] and [Manager.Sweep] write the activity of
// busy sessions every touch interval (writeBusy), so that their sweepers
// see it too.

// inflight is the set of entries with requests or [Manager.Busy] tasks
// in flight.
type inflight struct {
	mu sync.Mutex
	m  map[*entry]struct{}
}

// enter counts one more piece of work in flight for e.
func (f *inflight) enter(e *entry) {
	f.mu.Lock()
	if e.busy.Add(1) == 1 {
		if f.m == nil {
			f.m = make(map[*entry]struct{})
		}
		f.m[e] = struct{}{}
	}
	f.mu.Unlock()
}

// snapshot returns the entries in flight.
func (f *inflight) snapshot() []*entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := make([]*entry, 0, len(f.m))
	for e := range f.m {
		list = append(list, e)
	}
	return list
}

// leave ends one piece of work in flight for e: its end is activity.
// A store failure is not the caller's: the activity stays in e.seen for
// the next write.
func (m *Manager) leave(ctx context.Context, e *entry) {
	m.inflight.mu.Lock()
	if e.busy.Add(-1) == 0 {
		delete(m.inflight.m, e)
	}
	m.inflight.mu.Unlock()
	if e.ended.Load() != nil {
		return
	}
	nowµ := m.now().UnixMicro()
	maxStore(&e.seen, nowµ)
	maxStore(&e.used, nowµ)
	if c := m.settings.Load(); c != nil && nowµ-e.written.Load() >= m.touchInterval(&c.s, e).Microseconds() {
		_ = m.write(context.WithoutCancel(ctx), e, &c.s)
	}
}

// Busy marks long work of r's session as activity until done is called,
// for work that outlives the request that started it (an export that
// runs on after the response): until then, the session does not end by
// idleness (its absolute limit still ends it), and the call of done
// counts as activity. Calls of done after the first do nothing. For a
// request without a signed-in session (one that did not go through
// [Manager.Handler]), done does nothing.
//
// A backend request is already busy while [Manager.Handler] serves it;
// Busy is for what goes on after it returns.
func (m *Manager) Busy(r *http.Request) (done func()) {
	rs := stateOf(r)
	if rs == nil || rs.e == nil {
		return func() {}
	}
	e := rs.e
	m.inflight.enter(e)
	ctx := context.WithoutCancel(r.Context())
	return sync.OnceFunc(func() { m.leave(ctx, e) })
}

// writeBusy records now as the activity of every session with work in
// flight, and writes it to the store every touch interval.
func (m *Manager) writeBusy(ctx context.Context, now time.Time) error {
	list := m.inflight.snapshot()
	if len(list) == 0 {
		return nil
	}
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return err
	}
	nowµ := now.UnixMicro()
	var errs []error
	for _, e := range list {
		if e.ended.Load() != nil {
			continue
		}
		maxStore(&e.seen, nowµ)
		maxStore(&e.used, nowµ)
		if nowµ-e.written.Load() >= m.touchInterval(set, e).Microseconds() {
			errs = append(errs, m.write(ctx, e, set))
		}
	}
	return errors.Join(errs...)
}

// holdBusy counts work in flight on e as activity up to now.
func holdBusy(e *entry, nowµ int64) {
	if e.busy.Load() > 0 {
		maxStore(&e.seen, nowµ)
	}
}
