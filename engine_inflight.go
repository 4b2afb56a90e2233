package logout

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// Real work is not idleness: a backend request still being served keeps
// its session from ending by idleness (the absolute limit still ends
// it), and the moment it finishes counts as activity. The engine sees
// this through entry.busy: a deadline judged while it is positive is
// judged from now (decideStore, endExpired). For other processes sharing
// the store, [engine.beat] and [Manager.Sweep] write the activity of
// busy sessions every touch interval (writeBusy), so that their sweepers
// see it too. The end of a request counts as activity when a beat of
// [Manager.Run] (at least one a second) or a sweep saw it in flight a
// touch interval or more after the session's last activity (busyLong):
// a shorter request's start, already its activity, is close enough, and
// the request path does not read the clock a second time.

// inflight is the set of entries with requests or [Manager.Busy] tasks
// in flight. Every backend request enters and leaves it, so it is split
// in parts by a hash of the session ID, like the cache, and concurrent
// requests of different sessions rarely share a lock. A request is one
// map assignment and one delete: the entries of the requests are found
// through cuts, and held has only those of Busy tasks.
type inflight [inflightParts]struct {
	mu   sync.Mutex
	held map[*entry]int     // the entries with Busy tasks in flight, and how many
	cuts map[*handle]flight // the requests in flight, by owner, to cut them when their session ends
	_    [40]byte           // one cache line each: requests of other parts do not share it
}

// A flight is a backend request in flight: its session's entry and what
// cancels it. Its key in inflight.cuts, its owner, is the handle its
// context answers for sessionKey, which tells the request apart from
// others of the session (a pointer into its own state, not shared with
// any other request). Keyed so, a request enters and leaves the set
// without an allocation of its own (BenchmarkRequest: 5 allocations
// instead of 7).
type flight struct {
	e      *entry
	cancel context.CancelCauseFunc
}

// ErrSessionEnded is the cause of the context of a backend request that
// was still in flight when its session ended ([context.Cause]): the
// request, and a tunnel it carries, is cut.
var ErrSessionEnded = errors.New("logout: the session ended")

const inflightParts = 16

// part returns the entry's part of the set.
func (eng *engine) inflightPart(e *entry) int {
	return int(maphash.String(eng.seed, e.id) % inflightParts)
}

// busyLong is a flag in entry.busy, above the count: a beat or sweep
// saw work of the entry in flight at least a touch interval after the
// session's last activity (writeBusy). Only then does the end of the
// work count, and read the clock: a shorter request's start, already
// its activity, is within a touch interval of its end, and the deadline
// its response told stays true.
const busyLong = 1 << 30

// enter counts one more piece of work in flight for the session of h,
// which started at nowµ. It returns the session's part of the set, for
// leave. When cancel is not nil, it cuts the request when the session
// ends; owner, then not nil, is the value of the request's context for
// sessionKey, so that the request that ends its own session is not cut,
// and names the request to leave.
func (eng *engine) enter(h handle, nowµ int64, owner *handle, cancel context.CancelCauseFunc) (part int) {
	e := h.e
	part = eng.inflightPart(e)
	p := &eng.inflight[part]
	p.mu.Lock()
	maxStore(&e.started, nowµ)
	e.busy.Add(1)
	if cancel != nil {
		if p.cuts == nil {
			p.cuts = make(map[*handle]flight)
		}
		p.cuts[owner] = flight{e: e, cancel: cancel}
	} else {
		if p.held == nil {
			p.held = make(map[*entry]int)
		}
		p.held[e]++
	}
	p.mu.Unlock()
	return part
}

// cut cancels the requests of e in flight, as its session has ended,
// but the request of ctx, which ended it (a sign-out, a sign-in that
// replaces the session) and answers on.
func (eng *engine) cut(ctx context.Context, e *entry) {
	me, _ := ctx.Value(sessionKey{}).(*handle)
	p := &eng.inflight[eng.inflightPart(e)]
	var cuts []context.CancelCauseFunc
	p.mu.Lock()
	for owner, f := range p.cuts {
		if f.e == e && owner != me {
			cuts = append(cuts, f.cancel)
		}
	}
	p.mu.Unlock()
	for _, cancel := range cuts {
		cancel(ErrSessionEnded)
	}
}

// snapshot returns the entries in flight, each once.
func (f *inflight) snapshot() []*entry {
	var list []*entry
	seen := make(map[*entry]bool)
	add := func(e *entry) {
		if !seen[e] {
			seen[e] = true
			list = append(list, e)
		}
	}
	for i := range f {
		p := &f[i]
		p.mu.Lock()
		for e := range p.held {
			add(e)
		}
		for _, fl := range p.cuts {
			add(fl.e)
		}
		p.mu.Unlock()
	}
	return list
}

// markLong flags e as long work, if it is still in flight.
func (eng *engine) markLong(e *entry) bool {
	p := &eng.inflight[eng.inflightPart(e)]
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.busy.Load()&^busyLong == 0 {
		return false
	}
	e.busy.Or(busyLong)
	return true
}

// leave ends one piece of work in flight for the session of h, which
// enter counted in part, with owner (nil when enter had no cancel). When
// it was the last, and a beat saw it in flight (or exact is set, for
// [Manager.Busy]), its end is activity. A store failure is not the
// caller's: the activity stays in e.seen for the next write.
func (eng *engine) leave(ctx context.Context, h handle, part int, owner *handle, exact bool) {
	e := h.e
	p := &eng.inflight[part]
	p.mu.Lock()
	if owner != nil {
		delete(p.cuts, owner)
	} else if p.held[e]--; p.held[e] == 0 {
		delete(p.held, e)
	}
	n := e.busy.Add(-1)
	last := n&^busyLong == 0
	if last {
		e.busy.And(^int32(busyLong))
	}
	p.mu.Unlock()
	if !last || (n&busyLong == 0 && !exact) || e.ended.Load() != nil {
		return
	}
	nowµ := eng.now().UnixMicro()
	maxStore(&e.seen, nowµ)
	maxStore(&e.used, nowµ)
	if c := eng.settings.Load(); c != nil && nowµ-e.written.Load() >= eng.touchInterval(&c.s, e).Microseconds() {
		_ = eng.write(context.WithoutCancel(ctx), e, &c.s)
	}
}

// busyLimit is how long work in flight holds e's session after the
// newest piece of it started: Options.BusyLimit, or by default four of
// the session's idle lifetimes (an hour-long upload under the default
// 15 minutes), so that a tunnel left open ends its session at most five
// lifetimes after it opened.
func (eng *engine) busyLimit(set *Settings, e *entry) time.Duration {
	if eng.opts.BusyLimit > 0 {
		return eng.opts.BusyLimit
	}
	return 4 * set.IdleLifetime(e.userID, e.roles.roles)
}

// writeBusy records now as the activity of every session with work in
// flight, and writes it to the store every touch interval.
func (eng *engine) writeBusy(ctx context.Context, now time.Time) error {
	list := eng.inflight.snapshot()
	if len(list) == 0 {
		return nil
	}
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return err
	}
	nowµ := now.UnixMicro()
	var errs []error
	for _, e := range list {
		ti := eng.touchInterval(set, e).Microseconds()
		// Work that began less than a touch interval ago is covered by
		// its start: the deadline its response told stays the deadline.
		if e.ended.Load() != nil || nowµ-e.seen.Load() < ti || !eng.markLong(e) {
			continue
		}
		at := min(nowµ, e.started.Load()+eng.busyLimit(set, e).Microseconds())
		maxStore(&e.seen, at)
		maxStore(&e.used, at)
		if nowµ-e.written.Load() >= ti {
			errs = append(errs, eng.write(ctx, e, set))
		}
	}
	return errors.Join(errs...)
}

// holdBusy counts work in flight on e as activity up to now, but not
// past limitµ after the start of its newest piece: a request that never
// ends (a tunnel) holds its session one limit, not for ever.
func (eng *engine) holdBusy(e *entry, set *Settings, nowµ int64) {
	if e.busy.Load() > 0 {
		maxStore(&e.seen, min(nowµ, e.started.Load()+eng.busyLimit(set, e).Microseconds()))
	}
}

// hold marks long work of the session of h as activity until the
// returned func is called; see [Manager.Busy].
func (eng *engine) hold(ctx context.Context, h handle) (done func()) {
	part := eng.enter(h, eng.now().UnixMicro(), nil, nil)
	return sync.OnceFunc(func() { eng.leave(ctx, h, part, nil, true) })
}
