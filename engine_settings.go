package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"
)

// cachedSettings is the settings in force and when they were read.
type cachedSettings struct {
	s      Settings
	synced time.Time
}

// currentSettings returns the cached settings, rereading them when older
// than the sync interval. The result is shared: never modify it.
func (eng *engine) currentSettings(ctx context.Context, now time.Time) (*Settings, error) {
	if c := eng.settings.Load(); c != nil && now.Sub(c.synced) < eng.opts.SyncInterval && !now.Before(c.synced) {
		return &c.s, nil
	}
	eng.settingsMu.Lock()
	defer eng.settingsMu.Unlock()
	if c := eng.settings.Load(); c != nil && now.Sub(c.synced) < eng.opts.SyncInterval && !now.Before(c.synced) {
		return &c.s, nil
	}
	// A read that failed after this request arrived answers it too: during
	// an outage, waiting requests do not queue one store timeout each.
	if f := eng.settingsFail.Load(); f.answers(now, eng.opts.StoreTimeout) {
		return nil, f.err
	}
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	s, err := eng.store.Settings(sctx)
	switch {
	case errors.Is(err, ErrNotFound):
		s = eng.defaults()
	case err != nil:
		err = fmt.Errorf("%w: settings: %w", ErrUnavailable, err)
		if ctx.Err() == nil { // the store failed, not a caller that gave up
			eng.settingsFail.Store(&failure{at: eng.now(), err: err})
		}
		return nil, err
	}
	eng.settingsFail.Store(nil)
	eng.storeAnswered()
	c := &cachedSettings{s: s, synced: now}
	eng.settings.Store(c)
	return &c.s, nil
}

// defaults returns a copy of [Options.Defaults].
func (eng *engine) defaults() Settings {
	s := *eng.opts.Defaults
	s.RoleLifetimes = maps.Clone(s.RoleLifetimes)
	return s
}

// saveSettings saves s, valid, as by saves them, and applies the saved
// settings at once; see [Manager.UpdateSettings].
func (eng *engine) saveSettings(ctx context.Context, s Settings, by string) (Settings, error) {
	s.ChangedBy, s.ChangedAt = by, eng.now()
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	saved, err := eng.store.SaveSettings(sctx, s)
	if errors.Is(err, ErrConflict) {
		eng.settings.Store(nil) // another saved first: the next read is the store's
	}
	if err != nil {
		return Settings{}, storeErr("update settings", err)
	}
	eng.settings.Store(&cachedSettings{s: saved, synced: eng.now()})
	eng.hub.wakeAll(false)
	eng.log.LogAttrs(ctx, slog.LevelInfo, "logout: settings saved", slog.Int64("version", saved.Version), slog.String("by", by),
		slog.Int64("lifetime_s", secs(saved.Lifetime)), slog.Int64("absolute_s", secs(saved.AbsoluteLifetime)))
	return saved, nil
}
