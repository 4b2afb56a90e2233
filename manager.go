package logout

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A Manager enforces idle and absolute timeouts on backend sessions. It
// keeps each session's newest activity in memory and writes it to the
// [Store] at most once per touch interval, so one process is exact and
// processes sharing a store end a session at most one touch interval
// early, never late.
//
// A Manager is safe for concurrent use. Create one with [New].
type Manager struct {
	store   Store
	opts    Options
	log     *slog.Logger
	seed    maphash.Seed
	shards  [shardCount]shard
	noStore []string
	passive map[string]bool
	cop     *http.CrossOriginProtection
	paths   Paths
	creds   credentials // the Manager's cookie or the application's sessions

	settings     atomic.Pointer[cachedSettings]
	settingsMu   sync.Mutex
	settingsFail atomic.Pointer[failure]
	sweptVersion atomic.Int64
	health       health
	push         hub      // push streams and sign-out on close (push.go, closing.go)
	inflight     inflight // sessions with work in flight (inflight.go)
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
		store = observe(store, opts.Observer, opts.Now)
	}
	m := &Manager{
		store:   store,
		opts:    opts,
		log:     opts.Logger,
		seed:    maphash.MakeSeed(),
		noStore: []string{"no-store"},
		passive: make(map[string]bool),
		cop:     http.NewCrossOriginProtection(),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*entry)
	}
	for _, p := range opts.PassivePaths {
		m.passive[p] = true
	}
	m.paths = m.Paths()
	m.creds = newCredentials(opts)
	m.passive[m.paths.Status] = true
	m.passive[m.paths.Events] = true
	m.sweptVersion.Store(-1)
	return m, nil
}

// Settings returns the settings in force: the saved ones, or
// [Options.Defaults] when none were saved. They are cached for at most
// [Options.SyncInterval].
func (m *Manager) Settings(ctx context.Context) (Settings, error) {
	s, err := m.currentSettings(ctx, m.now())
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
// version ([ErrConflict]) change nothing. A saved change applies to
// every session at once.
func (m *Manager) UpdateSettings(ctx context.Context, s Settings, by string) (Settings, error) {
	if by == "" {
		return Settings{}, errors.New("logout: update settings: who saves them is required")
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	s.ChangedBy, s.ChangedAt = by, m.now()
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	saved, err := m.store.SaveSettings(sctx, s)
	if err != nil {
		return Settings{}, storeErr("update settings", err)
	}
	m.settings.Store(&cachedSettings{s: saved, synced: m.now()})
	m.push.wakeAll(false)
	m.log.LogAttrs(ctx, slog.LevelInfo, "logout: settings saved", slog.Int64("version", saved.Version), slog.String("by", by),
		slog.Int64("lifetime_s", secs(saved.Lifetime)), slog.Int64("absolute_s", secs(saved.AbsoluteLifetime)))
	return saved, nil
}

// ResetSettings saves the defaults ([Options.Defaults]) over the settings
// of the given version, as [Manager.UpdateSettings] does.
func (m *Manager) ResetSettings(ctx context.Context, version int64, by string) (Settings, error) {
	s := m.defaults()
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
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	evs, err := m.store.EndSessions(sctx, sel, reason, m.now())
	if err != nil {
		return nil, storeErr("end sessions", err)
	}
	m.ended(ctx, evs)
	return evs, nil
}

// defaultListLimit is the page size of [Manager.Sessions] when
// [ListOptions.Limit] is 0.
const defaultListLimit = 100

// Sessions returns one page of the sessions in the store: those that
// opts selects, in opts.Order, starting after opts.After, at most
// opts.Limit of them (100 when 0; a negative Limit or an unknown Order is
// an error). Each comes with its newest activity and its deadline under
// the current settings; sessions past their deadline that no sweep has
// ended yet are included. The order is that of the times as stored,
// which lag this process's activity by at most [Options.TouchInterval].
// Read the next page with After set to [CursorOf] the last session; a
// page shorter than the limit is the last.
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
	now := m.now()
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return nil, err
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	list, err := m.store.ListSessions(sctx, opts)
	if err != nil {
		return nil, storeErr("list sessions", err)
	}
	// The cursor of the next page is that of the stored times: keep
	// them in the returned sessions' order, and report fresher ones.
	for i, s := range list {
		if e := m.cachedID(s.ID); e != nil {
			if seen := time.UnixMicro(e.seen.Load()).UTC(); seen.After(s.LastSeen) {
				s.LastSeen = seen
			}
		}
		s.Deadline, _ = set.Deadline(s)
		list[i] = s
	}
	return list, nil
}

// CountSessions returns how many sessions in the store opts selects by
// its UserID and Address (all when both are ""), without reading them.
// Sessions past their deadline that no sweep has ended yet are counted.
func (m *Manager) CountSessions(ctx context.Context, opts ListOptions) (int, error) {
	sctx, cancel := m.storeCtx(ctx)
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
	sctx, cancel := m.storeCtx(ctx)
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
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	e, err := m.store.Event(sctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Event{}, storeErr("ended", err)
	}
	return e, err
}
