package logout

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gologout/logout/internal/logid"
)

// Sign-out on close ([Settings.SignOutOnClose]): when the last push
// stream of a session closes because the browser went away, the hub
// notes the time; a new stream of the session or any backend request of
// it cancels that; once [Settings.CloseGrace] has passed, closeDue ends
// the session ([ReasonClosed]) unless activity was written after the
// close, by any process sharing the store (Selector.SeenBy).

// closed notes that the last push stream of session id closed, when
// sign-out on close is on.
func (eng *engine) closed(id string) {
	c := eng.settings.Load()
	if c == nil || !c.s.SignOutOnClose {
		return
	}
	h := &eng.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[id]) > 0 {
		return
	}
	if h.closing == nil {
		h.closing = make(map[string]time.Time)
	}
	if _, ok := h.closing[id]; !ok {
		h.nClosing.Add(1)
	}
	h.closing[id] = eng.now()
}

// cancelClose cancels the pending sign-out on close of session id, for
// a backend request of it.
func (eng *engine) cancelClose(id string) { eng.hub.cancelClose(id) }

func (h *hub) cancelClose(id string) {
	if h.nClosing.Load() == 0 {
		return
	}
	h.mu.Lock()
	h.cancelCloseLocked(id)
	h.mu.Unlock()
}

func (h *hub) cancelCloseLocked(id string) {
	if _, ok := h.closing[id]; ok {
		delete(h.closing, id)
		h.nClosing.Add(-1)
	}
}

// closeDue ends the sessions whose close grace is over at now.
func (eng *engine) closeDue(ctx context.Context, now time.Time) error {
	h := &eng.hub
	if h.nClosing.Load() == 0 {
		return nil
	}
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return err
	}
	type due struct {
		id string
		at time.Time
	}
	var list []due
	h.mu.Lock()
	for id, at := range h.closing {
		if !set.SignOutOnClose || !now.Before(at.Add(set.closeGrace())) {
			list = append(list, due{id, at})
			delete(h.closing, id)
			h.nClosing.Add(-1)
		}
	}
	h.mu.Unlock()
	if !set.SignOutOnClose {
		return nil // turned off meanwhile: every pending sign-out is dropped
	}
	var errs []error
	for _, d := range list {
		if e := eng.cachedID(d.id); e != nil && e.busy.Load() > 0 {
			continue // work in flight: not closed
		}
		sctx, cancel := eng.storeCtx(ctx)
		evs, err := eng.store.EndSessions(sctx, Selector{IDs: []string{d.id}, SeenBy: d.at}, ReasonClosed, now)
		cancel()
		if err != nil {
			errs = append(errs, storeErr("sign out on close", err))
			continue
		}
		if len(evs) == 0 {
			eng.log.LogAttrs(ctx, slog.LevelDebug, "logout: kept on close: activity after the close, or already ended",
				logid.Attr(d.id))
		}
		eng.ended(ctx, evs)
	}
	return errors.Join(errs...)
}
