package logout

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"net/http"
	"strings"
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
	byID    sync.Map // session ID -> *entry
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
}

// failure is a failed store read and when it ended.
type failure struct {
	at  time.Time
	err error
}

// answers reports whether f ended while a request that arrived at now
// was waiting for it: not before now, and not so long after that the
// clock must have moved back.
func (f *failure) answers(now time.Time, timeout time.Duration) bool {
	return f != nil && !f.at.Before(now) && f.at.Sub(now) <= 2*timeout
}

type cachedSettings struct {
	s      Settings
	synced time.Time
}

const shardCount = 32

type shard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

// entry is a session as this process knows it, cached under the
// credential the browser presents (the cookie's token, or the
// application's session ID), so that the hot path neither decodes nor
// hashes it. The fixed fields never change; the atomics hold Unix
// microseconds.
type entry struct {
	key     string  // the credential as presented
	secret  []byte  // the raw secret, for the CSRF token
	sess    Session // ID, UserID, Roles, Created
	created int64   // sess.Created in Unix microseconds

	seen    atomic.Int64 // newest activity known here
	written atomic.Int64 // newest activity known to be in the store
	synced  atomic.Int64 // clock reading of the last store read
	used    atomic.Int64 // clock reading of the last request
	ended   atomic.Pointer[Event]
	failed  atomic.Pointer[failure] // the last failed store read
	dirty   atomic.Bool             // activity to write that found mu held
	mu      sync.Mutex              // one store round-trip per entry at a time; release with Manager.unlock
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
	m.sweptVersion.Store(-1)
	return m, nil
}

// now reads the clock, truncated to the microsecond that stores keep.
func (m *Manager) now() time.Time { return m.opts.Now().Truncate(time.Microsecond) }

func (m *Manager) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.StoreTimeout)
}

func (m *Manager) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%shardCount]
}

// cached returns the entry cached under a credential, or nil.
func (m *Manager) cached(key string) *entry {
	sh := m.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	return e
}

// cachedID returns the cached entry of a session ID, or nil.
func (m *Manager) cachedID(id string) *entry {
	if e, ok := m.byID.Load(id); ok {
		return e.(*entry)
	}
	return nil
}

// insert caches e, or returns the entry cached meanwhile under its key.
func (m *Manager) insert(e *entry) *entry {
	sh := m.shard(e.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.m[e.key]; old != nil && old.ended.Load() == nil {
		return old
	}
	sh.m[e.key] = e
	m.byID.Store(e.sess.ID, e)
	return e
}

// forget drops e from the cache.
func (m *Manager) forget(e *entry) {
	sh := m.shard(e.key)
	sh.mu.Lock()
	if sh.m[e.key] == e {
		delete(sh.m, e.key)
	}
	sh.mu.Unlock()
	m.byID.CompareAndDelete(e.sess.ID, e)
}

func newEntry(key string, secret []byte, s Session, now time.Time) *entry {
	e := &entry{key: strings.Clone(key), secret: secret,
		sess: Session{ID: s.ID, UserID: s.UserID, Roles: s.Roles, Created: s.Created}, created: s.Created.UnixMicro()}
	e.seen.Store(s.LastSeen.UnixMicro())
	e.written.Store(s.LastSeen.UnixMicro())
	e.synced.Store(now.UnixMicro())
	e.used.Store(now.UnixMicro())
	return e
}

func maxStore(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// session returns the entry's session as of now, with its current deadline.
func (e *entry) session(set *Settings) (Session, Reason) {
	seen := e.seen.Load()
	d, r := e.deadline(set, seen)
	return e.at(seen, d), r
}

// deadline is [Settings.Deadline] in Unix microseconds, for the hot path.
func (e *entry) deadline(set *Settings, seen int64) (int64, Reason) {
	d := seen + set.IdleLifetime(e.sess.Roles).Microseconds()
	if set.AbsoluteLifetime > 0 {
		if a := e.created + set.AbsoluteLifetime.Microseconds(); a <= d {
			return a, ReasonAbsolute
		}
	}
	return d, ReasonIdle
}

// at returns the session with the given activity and deadline.
func (e *entry) at(seen, deadline int64) Session {
	s := e.sess
	s.LastSeen = time.UnixMicro(seen).UTC()
	s.Deadline = time.UnixMicro(deadline).UTC()
	return s
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

// currentSettings returns the cached settings, rereading them when older
// than the sync interval. The result is shared: never modify it.
func (m *Manager) currentSettings(ctx context.Context, now time.Time) (*Settings, error) {
	if c := m.settings.Load(); c != nil && now.Sub(c.synced) < m.opts.SyncInterval && !now.Before(c.synced) {
		return &c.s, nil
	}
	m.settingsMu.Lock()
	defer m.settingsMu.Unlock()
	if c := m.settings.Load(); c != nil && now.Sub(c.synced) < m.opts.SyncInterval && !now.Before(c.synced) {
		return &c.s, nil
	}
	// A read that failed after this request arrived answers it too: during
	// an outage, waiting requests do not queue one store timeout each.
	if f := m.settingsFail.Load(); f.answers(now, m.opts.StoreTimeout) {
		return nil, f.err
	}
	ctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Settings(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		s = m.defaults()
	case err != nil:
		err = fmt.Errorf("%w: settings: %w", ErrUnavailable, err)
		m.settingsFail.Store(&failure{at: m.now(), err: err})
		return nil, err
	}
	m.settingsFail.Store(nil)
	m.storeAnswered()
	c := &cachedSettings{s: s, synced: now}
	m.settings.Store(c)
	return &c.s, nil
}

// UpdateSettings validates s and saves it if s.Version is still the
// stored version; it returns the saved settings with their new version.
// Invalid settings, or settings edited from an old version
// ([ErrConflict]), change nothing. A saved change applies to every session
// at once.
func (m *Manager) UpdateSettings(ctx context.Context, s Settings) (Settings, error) {
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	saved, err := m.store.SaveSettings(sctx, s)
	if err != nil {
		return Settings{}, storeErr("update settings", err)
	}
	m.settings.Store(&cachedSettings{s: saved, synced: m.now()})
	m.log.LogAttrs(ctx, slog.LevelInfo, "logout: settings saved", slog.Int64("version", saved.Version),
		slog.Int64("lifetime_s", secs(saved.Lifetime)), slog.Int64("absolute_s", secs(saved.AbsoluteLifetime)))
	return saved, nil
}

// defaults returns a copy of [Options.Defaults].
func (m *Manager) defaults() Settings {
	s := *m.opts.Defaults
	s.RoleLifetimes = maps.Clone(s.RoleLifetimes)
	return s
}

// ResetSettings saves the defaults ([Options.Defaults]) over the settings
// of the given version, as [Manager.UpdateSettings] does.
func (m *Manager) ResetSettings(ctx context.Context, version int64) (Settings, error) {
	s := m.defaults()
	s.Version = version
	return m.UpdateSettings(ctx, s)
}

// SignIn starts a new session for u and returns it. In the Manager's own
// cookie mode it issues a new random 256-bit token in the cookie, and ends
// the session the request carried before, if any, so that an identifier
// is never reused across a sign-in. With [Options.App], the application
// must have renewed its own session identifier before calling SignIn.
func (m *Manager) SignIn(w http.ResponseWriter, r *http.Request, u User) (Session, error) {
	if u.ID == "" {
		return Session{}, errors.New("logout: sign in: empty user ID")
	}
	ctx := r.Context()
	now := m.now()
	// Never reuse an identifier across a sign-in: end the session the
	// request carried: the one the middleware found (an application has
	// renewed its session ID by now) and the one the request presents.
	if rs := stateOf(r); rs != nil {
		m.endIDs(ctx, rs.sess.ID, ReasonManual, now)
	}
	if old, ok := m.creds.resolve(m.creds.presented(r)); ok && (stateOf(r) == nil || old.id != stateOf(r).sess.ID) {
		m.endIDs(ctx, old.id, ReasonManual, now)
	}
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return Session{}, fmt.Errorf("logout: sign in: %w", err)
	}
	c, key, err := m.creds.issue(w, r)
	if err != nil {
		return Session{}, fmt.Errorf("logout: sign in: %w", err)
	}
	s := Session{ID: c.id, UserID: u.ID, Roles: append([]string(nil), u.Roles...), Created: now, LastSeen: now}
	s.Deadline, _ = set.Deadline(s)
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	if err := m.store.CreateSession(sctx, s); err != nil {
		return Session{}, storeErr("sign in", err)
	}
	m.insert(newEntry(key, c.secret, s, now))
	m.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed in", slog.String("sid", shortID(s.ID)), slog.String("user", u.ID))
	return s, nil
}

// storeErr wraps a store's error for the caller: a conflict or a missing
// record as it is, any other failure as [ErrUnavailable] too, so that
// callers can answer 503 rather than 500.
func storeErr(op string, err error) error {
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("logout: %s: %w", op, err)
	}
	return fmt.Errorf("logout: %s: %w: %w", op, ErrUnavailable, err)
}

// shortID is how a session appears in logs: the first 12 hex digits of
// its ID, itself a SHA-256 of the secret token.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// SignOut ends the request's session by the user's own choice
// ([ReasonManual]) and removes its cookie (or ends the application's
// session). A request with no session is not an error.
func (m *Manager) SignOut(w http.ResponseWriter, r *http.Request) error {
	c, ok := m.creds.resolve(m.creds.presented(r))
	m.creds.drop(w, r)
	if !ok {
		return nil
	}
	_, err := m.endIDs(r.Context(), c.id, ReasonManual, m.now())
	return err
}

// endIDs ends one session by its ID, for sign-in and sign-out.
func (m *Manager) endIDs(ctx context.Context, id string, reason Reason, now time.Time) ([]Event, error) {
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	evs, err := m.store.EndSessions(sctx, Selector{IDs: []string{id}}, reason, now)
	if err != nil {
		return nil, storeErr("end session", err)
	}
	m.ended(ctx, evs)
	return evs, nil
}

// ForceSignOut ends the sessions that sel selects, as an administrator
// does ([ReasonForced]): one session, one user's, or everyone's but one.
// This process refuses them at once; others sharing the store within
// [Options.SyncInterval] (at once with a [Watcher] store).
func (m *Manager) ForceSignOut(ctx context.Context, sel Selector) ([]Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	evs, err := m.store.EndSessions(sctx, sel, ReasonForced, m.now())
	if err != nil {
		return nil, storeErr("force sign-out", err)
	}
	m.ended(ctx, evs)
	return evs, nil
}

// ended marks cached entries, logs and reports sessions that ended.
func (m *Manager) ended(ctx context.Context, evs []Event) {
	for i := range evs {
		ev := evs[i]
		m.markEnded(ev)
		m.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed out", slog.String("sid", shortID(ev.SessionID)),
			slog.String("user", ev.UserID), slog.String("reason", ev.Reason.String()), slog.Time("at", ev.At))
		if m.opts.OnSignOut != nil {
			m.opts.OnSignOut(ctx, ev)
		}
	}
}

func (m *Manager) markEnded(ev Event) {
	if e := m.cachedID(ev.SessionID); e != nil {
		e.ended.Store(&ev)
		m.forget(e)
	}
}

// defaultListLimit is the page size of [Manager.Sessions] when
// [ListOptions.Limit] is 0.
const defaultListLimit = 100

// Sessions returns one page of the sessions in the store: those of
// opts.UserID, or of all users when it is "", ordered by Created, then
// ID, starting after opts.After, at most opts.Limit of them (100 when
// 0; a negative Limit is an error). Each comes with its newest activity
// and its deadline under the current settings; sessions past their
// deadline that no sweep has ended yet are included. Read the next page
// with After set to [CursorOf] the last session; a page shorter than the
// limit is the last.
func (m *Manager) Sessions(ctx context.Context, opts ListOptions) ([]Session, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("logout: list sessions: negative limit %d", opts.Limit)
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

// CountSessions returns how many sessions userID has in the store, or
// how many there are in all when userID is "", without reading them.
// Sessions past their deadline that no sweep has ended yet are counted.
func (m *Manager) CountSessions(ctx context.Context, userID string) (int, error) {
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	n, err := m.store.CountSessions(sctx, userID)
	if err != nil {
		return 0, storeErr("count sessions", err)
	}
	return n, nil
}

// Events returns at most limit entries of the sign-out log, newest first.
func (m *Manager) Events(ctx context.Context, limit int) ([]Event, error) {
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	evs, err := m.store.Events(sctx, limit)
	if err != nil {
		return nil, storeErr("events", err)
	}
	return evs, nil
}
