package logout

import (
	"context"
	"time"
)

// An Observer is told what a [Manager] does, for metrics: store calls and
// their latency, sign-ins, sign-outs by reason, writes saved by
// coalescing, sweeps. Set it in [Options.Observer]; the package metrics
// implements it for Prometheus.
//
// The Manager calls its methods synchronously, some on the request path
// and from many goroutines at once: implementations must be safe for
// concurrent use, must return quickly (increment a counter, never block
// or call the store) and must not call back into the Manager. Arguments
// carry no session ID, token or user name.
//
// Only what this process does is reported: sessions that another process
// sharing the store ends are counted by that process.
type Observer interface {
	// StoreCall reports a finished call to the [Store]: op names the
	// method, one of [StoreOps], d is how long it took by [Options.Clock],
	// and err is what it returned. [ErrNotFound] and [ErrConflict] are
	// answers, not failures; every other non-nil err is a failure.
	// [Watcher.Watch], which runs for as long as the Manager, is not
	// reported.
	StoreCall(op string, d time.Duration, err error)
	// SessionStarted reports a sign-in: a new session was stored.
	SessionStarted()
	// SessionsEnded reports that n sessions, n > 0, ended for reason
	// through this Manager: a request that found its session expired,
	// the sweeper, a forced sign-out, a sign-out, a re-sign-in that
	// replaced the old session.
	SessionsEnded(reason Reason, n int)
	// WriteCoalesced reports activity that the Manager did not write to
	// the store, because a write less than a touch interval ago covers
	// it ([Options.TouchInterval]): one store write saved.
	WriteCoalesced()
	// SweepFinished reports a [Manager.Sweep] that took d, ended n
	// expired sessions, and failed with err (nil when it did not).
	SweepFinished(d time.Duration, n int, err error)
	// PushSubscribersChanged reports that the number of open push
	// streams (…/events of [Manager.Endpoints]) grew by delta (or
	// shrank, when delta is negative).
	PushSubscribersChanged(delta int)
}

// StoreOps returns the ops that [Observer.StoreCall] reports, one per
// method of [Store], in the order of its methods: "create_session",
// "session", "touch", "set_deadlines", "count_sessions", "list_sessions",
// "expired_sessions", "end_sessions", "event", "events", "delete_events",
// "settings", "save_settings", "settings_history" and
// "delete_settings_history". An exporter initialises its series of each
// from them, so that a rate of failures reads 0, not "no data", before
// the first one. Each call returns a new slice.
func StoreOps() []string {
	return []string{"create_session", "session", "touch", "set_deadlines", "count_sessions", "list_sessions",
		"expired_sessions", "end_sessions", "event", "events", "delete_events",
		"settings", "save_settings", "settings_history", "delete_settings_history"}
}

// observe wraps store so that every call is reported to obs, keeping the
// [Watcher] of a store that is one.
func observe(store Store, obs Observer, now func() time.Time) Store {
	o := &observedStore{Store: store, obs: obs, now: now}
	if w, ok := store.(Watcher); ok {
		return struct {
			*observedStore
			Watcher
		}{o, w}
	}
	return o
}

// observedStore reports each call of its Store to obs.
type observedStore struct {
	Store
	obs Observer
	now func() time.Time
}

// timed calls the store through call and reports it as op. The closure
// does not escape: it costs no allocation.
func timed[T any](s *observedStore, op string, call func() (T, error)) (T, error) {
	start := s.now()
	v, err := call()
	s.obs.StoreCall(op, s.now().Sub(start), err)
	return v, err
}

func (s *observedStore) CreateSession(ctx context.Context, sess Session) error {
	_, err := timed(s, "create_session", func() (struct{}, error) { return struct{}{}, s.Store.CreateSession(ctx, sess) })
	return err
}

func (s *observedStore) Session(ctx context.Context, id string) (Session, error) {
	return timed(s, "session", func() (Session, error) { return s.Store.Session(ctx, id) })
}

func (s *observedStore) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	_, err := timed(s, "touch", func() (struct{}, error) { return struct{}{}, s.Store.TouchSession(ctx, id, seen, deadline) })
	return err
}

func (s *observedStore) SetDeadlines(ctx context.Context, updates []DeadlineUpdate) (int, error) {
	return timed(s, "set_deadlines", func() (int, error) { return s.Store.SetDeadlines(ctx, updates) })
}

func (s *observedStore) CountSessions(ctx context.Context, opts ListOptions) (int, error) {
	return timed(s, "count_sessions", func() (int, error) { return s.Store.CountSessions(ctx, opts) })
}

func (s *observedStore) ListSessions(ctx context.Context, opts ListOptions) ([]Session, error) {
	return timed(s, "list_sessions", func() ([]Session, error) { return s.Store.ListSessions(ctx, opts) })
}

func (s *observedStore) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]Session, error) {
	return timed(s, "expired_sessions", func() ([]Session, error) { return s.Store.ExpiredSessions(ctx, t, limit) })
}

func (s *observedStore) EndSessions(ctx context.Context, sel Selector, reason Reason, at time.Time) ([]Event, error) {
	return timed(s, "end_sessions", func() ([]Event, error) { return s.Store.EndSessions(ctx, sel, reason, at) })
}

func (s *observedStore) Event(ctx context.Context, sessionID string) (Event, error) {
	return timed(s, "event", func() (Event, error) { return s.Store.Event(ctx, sessionID) })
}

func (s *observedStore) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	return timed(s, "events", func() ([]Event, error) { return s.Store.Events(ctx, q) })
}

func (s *observedStore) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	return timed(s, "delete_events", func() (int, error) { return s.Store.DeleteEvents(ctx, before) })
}

func (s *observedStore) Settings(ctx context.Context) (Settings, error) {
	return timed(s, "settings", func() (Settings, error) { return s.Store.Settings(ctx) })
}

func (s *observedStore) SaveSettings(ctx context.Context, set Settings) (Settings, error) {
	return timed(s, "save_settings", func() (Settings, error) { return s.Store.SaveSettings(ctx, set) })
}

func (s *observedStore) SettingsHistory(ctx context.Context, q HistoryQuery) ([]Settings, error) {
	return timed(s, "settings_history", func() ([]Settings, error) { return s.Store.SettingsHistory(ctx, q) })
}

func (s *observedStore) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	return timed(s, "delete_settings_history", func() (int, error) { return s.Store.DeleteSettingsHistory(ctx, before) })
}

// Ready reports whether the store answers: it reads the settings from the
// store (not from the cache), within ctx's deadline and at most
// [Options.StoreTimeout], and returns nil when the store answers (having
// no saved settings is an answer) or an error wrapping [ErrUnavailable].
// It is meant for a readiness endpoint: while it fails, requests that
// need the store fail too. A success tells the Manager that the store
// answers again, as a request's would; a failure is not recorded, since
// the caller's deadline may be shorter than the store's timeout.
func (m *Manager) Ready(ctx context.Context) error { return m.eng.ready(ctx) }
