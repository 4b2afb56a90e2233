package logout

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// health tracks whether the store is known to be failing, so that
// front-end requests stop waiting for it (see [Manager.check]).
type health struct {
	down    atomic.Bool  // a store call on the request path failed and none has answered since
	probing atomic.Bool  // a probe is running
	probed  atomic.Int64 // clock reading (Unix µs) of the last probe's start
}

func (h *health) failing() bool { return h.down.Load() }

// storeFailed records that a store call on the request path failed.
func (m *Manager) storeFailed(err error) {
	if errors.Is(err, errStoreDown) || m.health.down.Swap(true) {
		return
	}
	m.log.LogAttrs(context.Background(), slog.LevelError,
		"logout: store failing: backend requests get 503, front-end requests are served anonymously at once until it answers",
		slog.String("error", err.Error()))
}

// storeAnswered records that a store call on the request path answered.
func (m *Manager) storeAnswered() {
	if m.health.down.Load() && m.health.down.Swap(false) {
		m.log.LogAttrs(context.Background(), slog.LevelInfo, "logout: store answers again")
	}
}

// probe asks the store, in the background, whether it answers again: at
// most one probe at a time and one per sync interval, so that a flood of
// front-end requests during an outage costs the store nothing.
func (m *Manager) probe() {
	now := m.now().UnixMicro()
	last := m.health.probed.Load()
	if d := now - last; d >= 0 && d < m.opts.SyncInterval.Microseconds() {
		return
	}
	if !m.health.probing.CompareAndSwap(false, true) {
		return
	}
	m.health.probed.Store(now)
	go func() {
		defer m.health.probing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.StoreTimeout)
		defer cancel()
		if _, err := m.store.Settings(ctx); err == nil || errors.Is(err, ErrNotFound) {
			m.storeAnswered()
		}
	}()
}
