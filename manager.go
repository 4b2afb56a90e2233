package logout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// A Manager enforces idle and absolute timeouts on backend sessions. It
// keeps each session's newest activity in memory and writes it to the
// [Store] at most once per touch interval, so one process is exact and
// processes sharing a store end a session at most one touch interval
// early, never late.
//
// A Manager is safe for concurrent use. Create one with [New]. Its
// methods fall into four groups:
//
//   - Lifecycle, for the program that owns it: [Manager.Run] (with
//     [Manager.Sweep] inside it), [Manager.Flush] at shutdown and
//     [Manager.Ready] for a readiness endpoint.
//   - The HTTP surface, for handlers and pages: [Manager.Handler] and
//     [Manager.Require] as middleware, [Manager.Endpoints] and
//     [Manager.Paths] for the widget's endpoints, [Manager.Check],
//     [Manager.Status] and [Manager.Busy] for a request's session,
//     [Manager.CSRFToken] and [Manager.CheckCSRF], and the answers
//     [Manager.Unauthorized], [Manager.Unavailable] and
//     [Manager.SignInURL].
//   - Sign-in and sign-out, for the application's own sign-in page:
//     [Manager.SignIn], [Manager.WriteSignedIn], [Manager.SignOut], and
//     [Manager.SessionID] with [Manager.Ended] to tell a credential's
//     session and why it ended.
//   - Administration, for the settings and audit pages (package
//     backend): the settings with [Manager.Settings],
//     [Manager.UpdateSettings] and [Manager.ResetSettings] (their form
//     is package settingsform); the queries [Manager.Sessions],
//     [Manager.CountSessions], [Manager.Events], [Manager.QueryEvents]
//     and [Manager.SettingsHistory]; and the actions
//     [Manager.ForceSignOut] and [Manager.EndSessions].
type Manager struct {
	eng   *engine // the sessions: cache, settings, health, work in flight, push subscribers, beat and sweep
	store Store   // for the queries of the log and the history, which the engine's state does not change
	opts  Options
	log   *slog.Logger

	// The HTTP layer's.
	scope   scope // which requests are the backend's, which are passive
	cop     *http.CrossOriginProtection
	paths   Paths
	creds   credentials // the Manager's cookie or the application's sessions
	servers servers     // whose shutdown closes the push streams
}

// New returns a Manager that keeps its state in store. It fails on
// invalid options; it does not touch the store.
func New(store Store, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("logout: nil Store")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Observer != nil {
		store = observe(store, opts.Observer, opts.Clock.Now)
	}
	m := &Manager{
		store: store,
		opts:  opts,
		log:   opts.Logger,
		cop:   http.NewCrossOriginProtection(),
		creds: newCredentials(opts),
	}
	m.paths = m.Paths()
	m.scope = newScope(opts, m.paths)
	m.eng = newEngine(store, opts, m.creds)
	return m, nil
}

// Settings returns the settings in force: the saved ones, or
// [Options.Defaults] when none were saved. They are cached for at most
// [Options.SyncInterval].
func (m *Manager) Settings(ctx context.Context) (Settings, error) {
	s, err := m.eng.currentSettings(ctx, m.eng.now())
	if err != nil {
		return Settings{}, err
	}
	return *s, nil
}

// UpdateSettings validates s and saves it if s.Version is still the
// stored version; it returns the saved settings with their new version.
// by names who saves them (an administrator's user ID, "settings file"),
// for the audit trail: it is stored as [Settings.ChangedBy], with the
// Manager's time as ChangedAt, and the saved version is added to the
// history that [Manager.SettingsHistory] reads, in one step with the
// save. Invalid settings, an empty by, or settings edited from an old
// version ([ErrConflict]) change nothing; after ErrConflict,
// [Manager.Settings] reads the store again, so a caller can retry on the
// newest version. A saved change applies to every session at once.
func (m *Manager) UpdateSettings(ctx context.Context, s Settings, by string) (Settings, error) {
	if by == "" {
		return Settings{}, errors.New("logout: update settings: who saves them is required")
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return m.eng.saveSettings(ctx, s, by)
}

// ResetSettings saves the defaults ([Options.Defaults]) over the settings
// of the given version, as [Manager.UpdateSettings] does.
func (m *Manager) ResetSettings(ctx context.Context, version int64, by string) (Settings, error) {
	s := m.eng.defaults()
	s.Version = version
	return m.UpdateSettings(ctx, s, by)
}

// ForceSignOut ends the sessions that sel selects, as an administrator
// does ([ReasonForced]): one session, one user's, or everyone's but one.
// This process refuses them at once; others sharing the store within
// [Options.SyncInterval] (at once with a [Watcher] store).
func (m *Manager) ForceSignOut(ctx context.Context, sel Selector) ([]Event, error) {
	return m.EndSessions(ctx, sel, ReasonForced)
}

// EndSessions ends the sessions that sel selects for reason, as
// [Manager.ForceSignOut] does for an administrator: [ReasonManual] for a
// user who ends their own other sessions ("sign out everywhere else"), so
// that those devices read that the user signed out.
func (m *Manager) EndSessions(ctx context.Context, sel Selector, reason Reason) ([]Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("logout: end sessions: invalid reason %d", reason)
	}
	return m.eng.endSessions(ctx, sel, reason)
}

// defaultListLimit is the page size of [Manager.Sessions] when
// [ListOptions.Limit] is 0.
const defaultListLimit = 100

// Sessions returns one page of the sessions in the store: those that
// opts selects, in opts.Order, starting after opts.After, at most
// opts.Limit of them (100 when 0; a negative Limit or an unknown Order is
// an error). Each comes with its newest activity and its deadline under
// the current settings, except the time that opts.Order sorts by, which
// is the stored one, so that the pages follow each other: in ActiveFirst
// order LastSeen may lag this process's activity by up to
// [Options.TouchInterval], and in EndingFirst order Deadline may be that
// of the settings before a change until the next sweep. Sessions past
// their deadline that no sweep has ended yet are included. Read the next
// page with After set to [CursorOf] the last session; a page shorter than
// the limit is the last.
func (m *Manager) Sessions(ctx context.Context, opts ListOptions) ([]Session, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("logout: list sessions: negative limit %d", opts.Limit)
	}
	if !opts.Order.Valid() {
		return nil, fmt.Errorf("logout: list sessions: unknown order %d", opts.Order)
	}
	if opts.Limit == 0 {
		opts.Limit = defaultListLimit
	}
	return m.eng.sessions(ctx, opts)
}

// CountSessions returns how many sessions in the store opts selects by
// its UserID and Address (all when both are ""), without reading them.
// Sessions past their deadline that no sweep has ended yet are counted.
func (m *Manager) CountSessions(ctx context.Context, opts ListOptions) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	defer cancel()
	n, err := m.store.CountSessions(sctx, opts)
	if err != nil {
		return 0, storeErr("count sessions", err)
	}
	return n, nil
}

// Events returns at most limit entries of the sign-out log, newest first;
// [Manager.QueryEvents] filters them.
func (m *Manager) Events(ctx context.Context, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	defer cancel()
	evs, err := m.store.Events(sctx, EventQuery{Limit: limit})
	if err != nil {
		return nil, storeErr("events", err)
	}
	return evs, nil
}

// SessionID returns the ID under which the store keeps the session of a
// credential: the Manager's cookie token, or with [Options.App] the
// application's session key. It returns "" for a credential that is
// malformed. The two kinds of credential are separate key spaces: no
// value is a credential of both kinds for the same ID.
func (m *Manager) SessionID(credential string) string {
	id, ok := m.creds.sessionID(credential)
	if !ok {
		return ""
	}
	return string(id[:])
}

// Ended returns the sign-out log's entry of the session of a credential
// (see [Manager.SessionID]): when and why it ended. It returns an error
// wrapping [ErrNotFound] when that session has not ended, never existed or
// its entry was pruned, or the credential is malformed.
func (m *Manager) Ended(ctx context.Context, credential string) (Event, error) {
	id := m.SessionID(credential)
	if id == "" {
		return Event{}, fmt.Errorf("logout: ended: %w", ErrNotFound)
	}
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	defer cancel()
	e, err := m.store.Event(sctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Event{}, storeErr("ended", err)
	}
	return e, err
}

// Run ends expired sessions every [Options.SweepInterval], prunes the
// sign-out log, listens to a [Watcher] store, beats at most every second
// for the push streams, requests in flight and sign-out on close, and on
// return (when ctx is done) closes the push streams and writes all
// pending activity with [Manager.Flush], returning Flush's error (nil
// when everything was written). Cancel ctx only after the HTTP server has
// shut down, so that the last requests' activity is flushed too (the
// server's shutdown closes the push streams itself). Requests are checked whether or not Run runs; it
// keeps the store and the log exact for sessions that make no more
// requests. It waits on [Options.Clock]: each interval is counted from
// the end of the previous round's work, and a fake clock moves it.
func (m *Manager) Run(ctx context.Context) error { return m.eng.run(ctx) }

// Sweep ends the sessions whose deadline has passed under the current
// settings, refreshes stored deadlines after a settings change, writes
// pending activity of sessions idle in this process and forgets them, and
// prunes the sign-out log and the settings history older than
// [Settings.Retention] (or [Options.EventRetention] when that is 0; the
// entry of the settings in force stays). [Manager.Run] calls it; tests
// may call it directly. It reports to [Options.Observer].
func (m *Manager) Sweep(ctx context.Context) error { return m.eng.sweepObserved(ctx) }

// Flush writes the activity that this process has seen but not yet
// written to the store, for a clean shutdown: without it a restart may
// end sessions up to one touch interval early.
func (m *Manager) Flush(ctx context.Context) error { return m.eng.flush(ctx) }
