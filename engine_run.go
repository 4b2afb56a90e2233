package logout

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// run is [Manager.Run]: the sweep every [Options.SweepInterval], the
// beat and the watch of a [Watcher] store, and a flush at the end. Every
// wait is on [Options.Clock], so a fake clock drives them.
func (eng *engine) run(ctx context.Context) error {
	if w, ok := eng.store.(Watcher); ok {
		go eng.watch(ctx, w)
	}
	go eng.beat(ctx)
	for {
		if err := eng.sweepObserved(ctx); err != nil && ctx.Err() == nil {
			eng.log.LogAttrs(ctx, slog.LevelWarn, "logout: sweep", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eng.opts.StoreTimeout)
			defer cancel()
			return eng.flush(fctx)
		case <-eng.opts.Clock.After(eng.opts.SweepInterval):
		}
	}
}

// beat is the engine's beat while [Manager.Run] runs: every
// [Options.SyncInterval] (at most 1 s, at least as often as
// [Options.PushPing]) it writes the activity of requests in flight,
// ends the sessions whose close grace is over, and wakes the push
// streams: each [Options.PushPing] with a ping, and on every beat when
// the store is no [Watcher], so that they reread it. One goroutine and
// one timer at a time whatever the number of streams; a beat waits its
// interval on [Options.Clock] after the previous one's work. When ctx is
// done it closes the streams.
func (eng *engine) beat(ctx context.Context) {
	every := min(eng.opts.SyncInterval, eng.opts.PushPing, time.Second)
	pingEvery := max(int(eng.opts.PushPing/every), 1)
	_, watched := eng.store.(Watcher)
	defer eng.hub.closeAll()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-eng.opts.Clock.After(every):
		}
		now := eng.now()
		if err := errors.Join(eng.writeBusy(ctx, now), eng.closeDue(ctx, now)); err != nil && ctx.Err() == nil {
			eng.log.LogAttrs(ctx, slog.LevelWarn, "logout: beat", slog.String("error", err.Error()))
		}
		ping := n%pingEvery == 0
		if ping || !watched {
			eng.hub.wakeAll(ping)
		}
	}
}

// watch listens to the store's announcements of changes made by other
// processes, and drops what they make stale.
func (eng *engine) watch(ctx context.Context, w Watcher) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.Watch(ctx, func(c Change) {
			defer eng.hub.changed(c) // after the caches are dropped
			if c.All {
				eng.dropCaches()
				backoff = 100 * time.Millisecond // listening again
				return
			}
			if c.Settings {
				eng.settings.Store(nil)
			}
			for _, id := range c.Ended {
				if e := eng.cachedID(id); e != nil {
					e.synced.Store(0) // reread before its next use
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		eng.log.LogAttrs(ctx, slog.LevelWarn, "logout: watch store changes", slog.Any("error", err))
		select {
		case <-ctx.Done():
		case <-eng.opts.Clock.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// dropCaches makes every cached state be reread before its next use.
func (eng *engine) dropCaches() {
	eng.settings.Store(nil)
	for i := range eng.shards {
		sh := &eng.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			e.synced.Store(0)
		}
		sh.mu.RUnlock()
	}
}
