package logout

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// sweepBatch is how many expired sessions a sweep reads at a time.
const sweepBatch = 500

// Run ends expired sessions every [Options.SweepInterval], prunes the
// sign-out log, listens to a [Watcher] store, beats at most every second
// for the push streams, requests in flight and sign-out on close, and on
// return (when ctx is done) closes the push streams and writes all
// pending activity with [Manager.Flush], returning Flush's error (nil
// when everything was written). Cancel ctx only after the HTTP server has
// shut down, so that the last requests' activity is flushed too (the
// server's shutdown closes the push streams itself). Requests are checked whether or not Run runs; it
// keeps the store and the log exact for sessions that make no more
// requests.
func (m *Manager) Run(ctx context.Context) error {
	if w, ok := m.store.(Watcher); ok {
		go m.watch(ctx, w)
	}
	go m.tend(ctx)
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		if err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "logout: sweep", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.StoreTimeout)
			defer cancel()
			return m.Flush(fctx)
		case <-t.C:
		}
	}
}

func (m *Manager) watch(ctx context.Context, w Watcher) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.Watch(ctx, func(c Change) {
			defer m.push.changed(c) // after the caches are dropped
			if c.All {
				m.dropCaches()
				backoff = 100 * time.Millisecond // listening again
				return
			}
			if c.Settings {
				m.settings.Store(nil)
			}
			for _, id := range c.Ended {
				if e := m.cachedID(id); e != nil {
					e.synced.Store(0) // reread before its next use
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		m.log.LogAttrs(ctx, slog.LevelWarn, "logout: watch store changes", slog.Any("error", err))
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// dropCaches makes every cached state be reread before its next use.
func (m *Manager) dropCaches() {
	m.settings.Store(nil)
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			e.synced.Store(0)
		}
		sh.mu.RUnlock()
	}
}

// Sweep ends the sessions whose deadline has passed under the current
// settings, refreshes stored deadlines after a settings change, writes
// pending activity of sessions idle in this process and forgets them, and
// prunes the sign-out log and the settings history older than
// [Settings.Retention] (or [Options.EventRetention] when that is 0; the
// entry of the settings in force stays). [Manager.Run] calls it; tests
// may call it directly. It reports to [Options.Observer].
func (m *Manager) Sweep(ctx context.Context) error {
	obs := m.opts.Observer
	if obs == nil {
		_, err := m.sweep(ctx)
		return err
	}
	start := m.opts.Now()
	n, err := m.sweep(ctx)
	obs.SweepFinished(m.opts.Now().Sub(start), n, err)
	return err
}

// sweep is Sweep; it returns how many expired sessions it ended.
func (m *Manager) sweep(ctx context.Context) (int, error) {
	now := m.now()
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return 0, err
	}
	var errs []error
	if m.sweptVersion.Load() != set.Version {
		if err := m.refreshDeadlines(ctx, set, now); err != nil {
			errs = append(errs, err)
		} else {
			m.sweptVersion.Store(set.Version)
		}
	}
	errs = append(errs, m.writeBusy(ctx, now), m.closeDue(ctx, now))
	n, err := m.endExpired(ctx, set, now)
	errs = append(errs, err, m.evict(ctx, set, now))
	retention := m.opts.EventRetention
	if set.Retention > 0 {
		retention = set.Retention
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	if _, err := m.store.DeleteEvents(sctx, now.Add(-retention)); err != nil {
		errs = append(errs, err)
	}
	if _, err := m.store.DeleteSettingsHistory(sctx, now.Add(-retention)); err != nil {
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
func (m *Manager) refreshDeadlines(ctx context.Context, set *Settings, now time.Time) error {
	opts := ListOptions{Limit: sweepBatch}
	updates := make([]DeadlineUpdate, 0, sweepBatch)
	var perUser map[string]int
	if set.MaxSessions > 0 {
		perUser = make(map[string]int)
	}
	for {
		sctx, cancel := m.storeCtx(ctx)
		list, err := m.store.ListSessions(sctx, opts)
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
			sctx, cancel := m.storeCtx(ctx)
			_, err := m.store.SetDeadlines(sctx, updates)
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
			errs = append(errs, m.trimSessions(ctx, user, set.MaxSessions, "", now))
		}
	}
	return errors.Join(errs...)
}

// endExpired ends the sessions past their deadline and says how many.
func (m *Manager) endExpired(ctx context.Context, set *Settings, now time.Time) (int, error) {
	n := 0
	for range 100 { // bounded: at most 100 batches per sweep
		sctx, cancel := m.storeCtx(ctx)
		list, err := m.store.ExpiredSessions(sctx, now, sweepBatch)
		cancel()
		if err != nil {
			return n, err
		}
		for _, s := range list {
			if e := m.cachedID(s.ID); e != nil {
				m.holdBusy(e, set, now.UnixMicro())
				if seen := time.UnixMicro(e.seen.Load()).UTC(); seen.After(s.LastSeen) {
					s.LastSeen = seen
				}
			}
			d, reason := set.Deadline(s)
			sctx, cancel := m.storeCtx(ctx)
			if now.Before(d) {
				// Alive: newer activity here, or longer lifetimes now.
				err = m.store.TouchSession(sctx, s.ID, s.LastSeen, d)
				if errors.Is(err, ErrNotFound) {
					err = nil
				}
			} else {
				var evs []Event
				evs, err = m.store.EndSessions(sctx, Selector{IDs: []string{s.ID}, SeenBy: s.LastSeen}, reason, d)
				m.ended(ctx, evs)
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
func (m *Manager) evict(ctx context.Context, set *Settings, now time.Time) error {
	idle := max(4*m.opts.SyncInterval, time.Minute).Microseconds()
	var stale []*entry
	for i := range m.shards {
		sh := &m.shards[i]
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
		if err := m.flushEntry(ctx, e, set); err != nil {
			errs = append(errs, err)
			continue
		}
		m.forget(e)
	}
	return errors.Join(errs...)
}

func (m *Manager) flushEntry(ctx context.Context, e *entry, set *Settings) error {
	e.mu.Lock()
	err := m.writeLocked(ctx, e, set)
	m.unlock(ctx, e)
	var ended *EndedError
	if errors.As(err, &ended) || errors.Is(err, ErrNoSession) {
		return nil
	}
	return err
}

// Flush writes the activity that this process has seen but not yet
// written to the store, for a clean shutdown: without it a restart may
// end sessions up to one touch interval early.
func (m *Manager) Flush(ctx context.Context) error {
	set, err := m.currentSettings(ctx, m.now())
	if err != nil {
		return err
	}
	var all []*entry
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			all = append(all, e)
		}
		sh.mu.RUnlock()
	}
	var errs []error
	for _, e := range all {
		errs = append(errs, m.flushEntry(ctx, e, set))
	}
	return errors.Join(errs...)
}
