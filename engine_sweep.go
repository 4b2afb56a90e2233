package logout

import (
	"context"
	"errors"
	"time"
)

// sweepBatch is how many expired sessions a sweep reads at a time.
const sweepBatch = 500

// sweep is Sweep; it returns how many expired sessions it ended.
func (eng *engine) sweep(ctx context.Context) (int, error) {
	now := eng.now()
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return 0, err
	}
	var errs []error
	if eng.sweptVersion.Load() != set.Version {
		if err := eng.refreshDeadlines(ctx, set, now); err != nil {
			errs = append(errs, err)
		} else {
			eng.sweptVersion.Store(set.Version)
		}
	}
	errs = append(errs, eng.writeBusy(ctx, now), eng.closeDue(ctx, now))
	n, err := eng.endExpired(ctx, set, now)
	errs = append(errs, err, eng.evict(ctx, set, now))
	retention := eng.opts.EventRetention
	if set.Retention > 0 {
		retention = set.Retention
	}
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	if _, err := eng.store.DeleteEvents(sctx, now.Add(-retention)); err != nil {
		errs = append(errs, err)
	}
	if _, err := eng.store.DeleteSettingsHistory(sctx, now.Add(-retention)); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// refreshDeadlines rewrites every stored deadline under new settings,
// so that the store's deadline index stays true. It reads the sessions a
// page of sweepBatch at a time and writes the deadlines that differ with
// one SetDeadlines per page: two store round trips per page, each bounded
// by the store timeout. A session touched meanwhile keeps the deadline of
// that touch (SetDeadlines checks LastSeen).
//
// Under a session limit it also counts each user's sessions on the way,
// and then ends the oldest sessions of those above it: a limit lowered
// by a settings change holds for the sessions that exist, not only from
// each user's next sign-in.
func (eng *engine) refreshDeadlines(ctx context.Context, set *Settings, now time.Time) error {
	opts := ListOptions{Limit: sweepBatch}
	updates := make([]DeadlineUpdate, 0, sweepBatch)
	var perUser map[string]int
	if set.MaxSessions > 0 {
		perUser = make(map[string]int)
	}
	for {
		sctx, cancel := eng.storeCtx(ctx)
		list, err := eng.store.ListSessions(sctx, opts)
		cancel()
		if err != nil {
			return err
		}
		updates = updates[:0]
		for _, s := range list {
			if perUser != nil {
				perUser[s.UserID]++
			}
			if d, _ := set.Deadline(s); !d.Equal(s.Deadline) {
				updates = append(updates, DeadlineUpdate{ID: s.ID, Seen: s.LastSeen, Deadline: d})
			}
		}
		if len(updates) > 0 {
			sctx, cancel := eng.storeCtx(ctx)
			_, err := eng.store.SetDeadlines(sctx, updates)
			cancel()
			if err != nil {
				return err
			}
		}
		if len(list) < sweepBatch {
			break
		}
		opts.After = CursorOf(list[len(list)-1])
	}
	var errs []error
	for user, n := range perUser {
		if n > set.MaxSessions {
			errs = append(errs, eng.trimSessions(ctx, user, set.MaxSessions, "", now))
		}
	}
	return errors.Join(errs...)
}

// endExpired ends the sessions past their deadline and says how many.
func (eng *engine) endExpired(ctx context.Context, set *Settings, now time.Time) (int, error) {
	n := 0
	for range 100 { // bounded: at most 100 batches per sweep
		sctx, cancel := eng.storeCtx(ctx)
		list, err := eng.store.ExpiredSessions(sctx, now, sweepBatch)
		cancel()
		if err != nil {
			return n, err
		}
		for _, s := range list {
			if e := eng.cachedID(s.ID); e != nil {
				eng.holdBusy(e, set, now.UnixMicro())
				if seen := time.UnixMicro(e.seen.Load()).UTC(); seen.After(s.LastSeen) {
					s.LastSeen = seen
				}
			}
			d, reason := set.Deadline(s)
			sctx, cancel := eng.storeCtx(ctx)
			if now.Before(d) {
				// Alive: newer activity here, or longer lifetimes now.
				err = eng.store.TouchSession(sctx, s.ID, s.LastSeen, d)
				if errors.Is(err, ErrNotFound) {
					err = nil
				}
			} else {
				var evs []Event
				evs, err = eng.store.EndSessions(sctx, Selector{IDs: []string{s.ID}, SeenBy: s.LastSeen}, reason, d)
				eng.ended(ctx, evs)
				n += len(evs)
			}
			cancel()
			if err != nil {
				return n, err
			}
		}
		if len(list) < sweepBatch {
			return n, nil
		}
	}
	return n, nil
}

// evict writes the pending activity of entries unused for a while and
// forgets them, so the cache holds only sessions in use.
func (eng *engine) evict(ctx context.Context, set *Settings, now time.Time) error {
	idle := max(4*eng.opts.SyncInterval, time.Minute).Microseconds()
	var stale []*entry
	for i := range eng.shards {
		sh := &eng.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if now.UnixMicro()-e.used.Load() > idle && e.busy.Load() == 0 {
				stale = append(stale, e)
			}
		}
		sh.mu.RUnlock()
	}
	var errs []error
	for _, e := range stale {
		if err := eng.flushEntry(ctx, e, set); err != nil {
			errs = append(errs, err)
			continue
		}
		eng.forget(e)
	}
	return errors.Join(errs...)
}

func (eng *engine) flushEntry(ctx context.Context, e *entry, set *Settings) error {
	e.mu.Lock()
	err := eng.writeLocked(ctx, e, set)
	eng.unlock(ctx, e)
	var ended *EndedError
	if errors.As(err, &ended) || errors.Is(err, ErrNoSession) {
		return nil
	}
	return err
}

// sweepObserved is [Manager.Sweep]: a sweep, reported to the Observer.
func (eng *engine) sweepObserved(ctx context.Context) error {
	obs := eng.opts.Observer
	if obs == nil {
		_, err := eng.sweep(ctx)
		return err
	}
	start := eng.opts.Clock.Now()
	n, err := eng.sweep(ctx)
	obs.SweepFinished(eng.opts.Clock.Now().Sub(start), n, err)
	return err
}

// flush is [Manager.Flush].
func (eng *engine) flush(ctx context.Context) error {
	set, err := eng.currentSettings(ctx, eng.now())
	if err != nil {
		return err
	}
	var all []*entry
	for i := range eng.shards {
		sh := &eng.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			all = append(all, e)
		}
		sh.mu.RUnlock()
	}
	var errs []error
	for _, e := range all {
		errs = append(errs, eng.flushEntry(ctx, e, set))
	}
	return errors.Join(errs...)
}
