package logout

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// health tracks whether the store is known to be failing, so that
// front-end requests stop waiting for it (see [engine.decide]).
type health struct {
	down    atomic.Bool  // a store call on the request path failed and none has answered since
	probing atomic.Bool  // a probe is running
	probed  atomic.Int64 // clock reading (Unix µs) of the last probe's start
}

func (h *health) failing() bool { return h.down.Load() }

// storeFailed records that a store call on the request path failed.
func (eng *engine) storeFailed(err error) {
	if errors.Is(err, errStoreDown) || eng.health.down.Swap(true) {
		return
	}
	eng.log.LogAttrs(context.Background(), slog.LevelError,
		"logout: store failing: backend requests get 503, front-end requests are served anonymously at once until it answers",
		slog.String("error", err.Error()))
}

// storeAnswered records that a store call on the request path answered.
func (eng *engine) storeAnswered() {
	if eng.health.down.Load() && eng.health.down.Swap(false) {
		eng.log.LogAttrs(context.Background(), slog.LevelInfo, "logout: store answers again")
	}
}

// probe asks the store, in the background, whether it answers again: at
// most one probe at a time and one per sync interval, so that a flood of
// front-end requests during an outage costs the store nothing.
func (eng *engine) probe() {
	now := eng.now().UnixMicro()
	last := eng.health.probed.Load()
	if d := now - last; d >= 0 && d < eng.opts.SyncInterval.Microseconds() {
		return
	}
	if !eng.health.probing.CompareAndSwap(false, true) {
		return
	}
	eng.health.probed.Store(now)
	go func() {
		defer eng.health.probing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), eng.opts.StoreTimeout)
		defer cancel()
		if _, err := eng.store.Settings(ctx); err == nil || errors.Is(err, ErrNotFound) {
			eng.storeAnswered()
		}
	}()
}

// ready is [Manager.Ready].
func (eng *engine) ready(ctx context.Context) error {
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	if _, err := eng.store.Settings(sctx); err != nil && !errors.Is(err, ErrNotFound) {
		return storeErr("ready", err)
	}
	eng.storeAnswered()
	return nil
}
