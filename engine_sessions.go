package logout

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gologout/logout/internal/logid"
)

// endIDs ends one session by its ID, for sign-in and sign-out.
func (eng *engine) endIDs(ctx context.Context, id string, reason Reason, now time.Time) ([]Event, error) {
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	evs, err := eng.store.EndSessions(sctx, Selector{IDs: []string{id}}, reason, now)
	if err != nil {
		return nil, storeErr("end session", err)
	}
	eng.ended(ctx, evs)
	return evs, nil
}

// ended marks cached entries, logs and reports sessions that ended.
func (eng *engine) ended(ctx context.Context, evs []Event) {
	eng.reportEnded(evs)
	for i := range evs {
		ev := evs[i]
		eng.markEnded(ctx, ev)
		eng.hub.end(ev)
		eng.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed out", logid.Attr(ev.SessionID),
			slog.String("user", ev.UserID), slog.String("reason", ev.Reason.String()), slog.Time("at", ev.At))
		if eng.opts.OnSignOut != nil {
			eng.opts.OnSignOut(ctx, ev)
		}
	}
}

func (eng *engine) markEnded(ctx context.Context, ev Event) {
	if e := eng.cachedID(ev.SessionID); e != nil {
		e.ended.Store(&ev)
		eng.forget(e)
		eng.cut(ctx, e)
	}
}

// begin starts the session id for u, after ending the sessions prev
// (those the sign-in request carried), and caches it. It returns the
// session and its handle.
func (eng *engine) begin(ctx context.Context, id string, u User, prev []string, userAgent, addr string) (Session, handle, error) {
	now := eng.now()
	for _, id := range prev {
		// Best effort: a store failure shows in CreateSession below.
		_, _ = eng.endIDs(ctx, id, ReasonReplaced, now)
	}
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return Session{}, handle{}, fmt.Errorf("logout: sign in: %w", err)
	}
	s := Session{
		ID: id, UserID: u.ID, UserName: u.Name, Roles: slices.Clone(u.Roles), Created: now, LastSeen: now,
		UserAgent: userAgent, Address: addr, Tags: slices.Clone(u.Tags),
	}
	s.Deadline, _ = set.Deadline(s)
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	if err := eng.store.CreateSession(sctx, s); err != nil {
		return Session{}, handle{}, storeErr("sign in", err)
	}
	e := eng.insert(newEntry(s, now), s.Roles)
	if obs := eng.opts.Observer; obs != nil {
		obs.SessionStarted()
	}
	eng.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed in", logid.Attr(s.ID), slog.String("user", u.ID))
	if set.MaxSessions > 0 {
		if err := eng.trimSessions(ctx, s.UserID, set.MaxSessions, s.ID, now); err != nil {
			// The sign-in stands; the user's next sign-in trims again.
			eng.log.LogAttrs(ctx, slog.LevelWarn, "logout: session limit", slog.String("user", u.ID), slog.String("error", err.Error()))
		}
	}
	return s, handleOf(e, set), nil
}

// trimSessions ends userID's oldest sessions beyond limit, never the
// session except (a sign-in's new one, which counts towards the limit),
// with [ReasonLimit]. A sign-in reads the user's sessions after its own
// was stored, so of concurrent sign-ins, in this process or others, the
// last to read trims what all of them created: once they are done the
// user holds at most limit sessions. It counts first, so a user within
// the limit costs one count.
func (eng *engine) trimSessions(ctx context.Context, userID string, limit int, except string, now time.Time) error {
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	n, err := eng.store.CountSessions(sctx, ListOptions{UserID: userID})
	if err != nil || n <= limit {
		return err
	}
	list, err := eng.store.ListSessions(sctx, ListOptions{UserID: userID, Limit: n})
	if err != nil {
		return err
	}
	room := limit
	if except != "" {
		list = slices.DeleteFunc(list, func(x Session) bool { return x.ID == except })
		room--
	}
	var ids []string
	for _, x := range list[:max(len(list)-room, 0)] { // oldest first
		ids = append(ids, x.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	evs, err := eng.store.EndSessions(sctx, Selector{IDs: ids}, ReasonLimit, now)
	eng.ended(ctx, evs)
	return err
}

// endSessions ends the sessions that sel selects for reason, at now.
func (eng *engine) endSessions(ctx context.Context, sel Selector, reason Reason) ([]Event, error) {
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	evs, err := eng.store.EndSessions(sctx, sel, reason, eng.now())
	if err != nil {
		return nil, storeErr("end sessions", err)
	}
	eng.ended(ctx, evs)
	return evs, nil
}

// sessions returns a page of the stored sessions that opts selects (its
// Limit set), each with the newest activity known here and its deadline
// under the current settings, but for the time that opts.Order sorts by,
// which stays as stored; see [Manager.Sessions].
func (eng *engine) sessions(ctx context.Context, opts ListOptions) ([]Session, error) {
	now := eng.now()
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return nil, err
	}
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	list, err := eng.store.ListSessions(sctx, opts)
	if err != nil {
		return nil, storeErr("list sessions", err)
	}
	// The next page starts at CursorOf the last session: the time the
	// order sorts by stays as stored.
	for i, s := range list {
		stored := s
		if e := eng.cachedID(s.ID); e != nil {
			if seen := time.UnixMicro(e.seen.Load()).UTC(); seen.After(s.LastSeen) {
				s.LastSeen = seen
			}
		}
		s.Deadline, _ = set.Deadline(s)
		switch opts.Order {
		case ActiveFirst:
			s.LastSeen = stored.LastSeen
		case EndingFirst:
			s.Deadline = stored.Deadline
		}
		list[i] = s
	}
	return list, nil
}

// reportEnded tells the Observer, if any, of sessions that ended: one
// call per run of events with the same reason.
func (eng *engine) reportEnded(evs []Event) {
	obs := eng.opts.Observer
	if obs == nil {
		return
	}
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].Reason == evs[i].Reason {
			j++
		}
		obs.SessionsEnded(evs[i].Reason, j-i)
		i = j
	}
}
