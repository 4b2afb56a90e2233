package logout

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The engine keeps sessions in sync with the store: a cache of the
// sessions in use (by session ID, in shards), rereads after the sync
// interval, one coalesced write per touch interval, the end of a session
// at its deadline, and the store's health. It never sees an
// *http.Request: the HTTP layer (middleware.go, endpoints.go, signin.go)
// turns a request into a visit and answers with what [Manager.decide]
// returns. sweep.go runs the engine's background work.

// failure is a failed store read and when it ended. A read whose caller
// gave up (a client gone, Run stopped) is no failure of the store, and
// is not kept as one.
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

// shard is one part of the cache. Its map is the only index of the
// entries, by session ID: a request hashes its credential into the ID
// (SHA-256, about 0.1 µs; see [credentials]), and the sweeper, the
// watcher and the sign-outs know the ID. Each key is its entry's id
// string, so it costs a string header, not a copy. (BenchmarkMemory: one
// map instead of a map by credential and a sync.Map by ID, with the
// smaller entry, 168 B per session instead of 497 at 1M sessions.)
type shard struct {
	mu    sync.RWMutex
	m     map[string]*entry
	roles map[string]*roleSet // the role sets of its entries, by roles joined with "\x00"
}

// A roleSet is the roles of a session, shared by the shard's entries of
// the same roles: a pointer rather than a slice in each entry, and no
// copy per session when a store returns new strings on each read
// (BenchmarkMemory: 16 B of entry, and 16 B more when unshared).
type roleSet struct{ roles []string }

// maxRoleSets bounds the role sets a shard shares; past it, new sets are
// not shared. Role sets are few.
const maxRoleSets = 64

// shareRoles returns the shared role set of roles. The caller holds sh.mu.
func (sh *shard) shareRoles(roles []string) *roleSet {
	key := strings.Join(roles, "\x00")
	if rs := sh.roles[key]; rs != nil && slices.Equal(rs.roles, roles) { // not equal if a role holds a NUL
		return rs
	}
	rs := &roleSet{roles: slices.Clip(slices.Clone(roles))} // a handler's append copies
	if _, ok := sh.roles[key]; !ok && len(sh.roles) < maxRoleSets {
		if sh.roles == nil {
			sh.roles = make(map[string]*roleSet)
		}
		sh.roles[key] = rs
	}
	return rs
}

// entry is a session as this process knows it. It keeps no secret (the
// CSRF token is derived from the credential a request presents) and not
// a whole Session, only what a request and the widget need: 128 B
// (BenchmarkMemory). The user's name is behind a pointer, nil when there
// is none: a string would cost every session 16 B (144 instead of 128),
// named or not; a pointer costs only the named ones. The fixed fields
// never change; the atomics hold Unix microseconds.
type entry struct {
	id       string   // Session.ID, also the shard map's key
	userID   string   // Session.UserID
	userName *string  // Session.UserName, for the widget; nil: ""
	roles    *roleSet // Session.Roles; never modified
	created  int64    // Session.Created

	seen    atomic.Int64 // newest activity known here
	written atomic.Int64 // newest activity known to be in the store
	synced  atomic.Int64 // clock reading of the last store read
	used    atomic.Int64 // clock reading of the last request
	ended   atomic.Pointer[Event]
	failed  atomic.Pointer[failure] // the last failed store read
	dirty   atomic.Bool             // activity to write that found mu held
	busy    atomic.Int32            // requests and Busy tasks in flight (inflight.go)
	started atomic.Int64            // clock reading of the newest start of work in flight
	mu      sync.Mutex              // one store round-trip per entry at a time; release with Manager.unlock
}

// now reads the clock, truncated to the microsecond that stores keep.
func (m *Manager) now() time.Time { return m.opts.Now().Truncate(time.Microsecond) }

func (m *Manager) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.StoreTimeout)
}

func (m *Manager) shard(h uint64) *shard { return &m.shards[h%shardCount] }

// cached returns the entry of the session ID id, or nil. The hot path
// has the ID in a stack buffer, not a string: indexing the map with
// string(id) does not allocate.
func (m *Manager) cached(id []byte) *entry {
	sh := m.shard(maphash.Bytes(m.seed, id))
	sh.mu.RLock()
	e := sh.m[string(id)]
	sh.mu.RUnlock()
	return e
}

// cachedID returns the cached entry of a session ID, or nil.
func (m *Manager) cachedID(id string) *entry {
	sh := m.shard(maphash.String(m.seed, id)) // the same hash as maphash.Bytes of its bytes
	sh.mu.RLock()
	e := sh.m[id]
	sh.mu.RUnlock()
	return e
}

// insert caches e with its roles, or returns the entry cached meanwhile
// under its ID.
func (m *Manager) insert(e *entry, roles []string) *entry {
	sh := m.shard(maphash.String(m.seed, e.id))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.m[e.id]; old != nil && old.ended.Load() == nil {
		return old
	}
	e.roles = sh.shareRoles(roles) // e is not yet seen by others
	sh.m[e.id] = e
	return e
}

// forget drops e from the cache.
func (m *Manager) forget(e *entry) {
	sh := m.shard(maphash.String(m.seed, e.id))
	sh.mu.Lock()
	if sh.m[e.id] == e {
		delete(sh.m, e.id)
	}
	sh.mu.Unlock()
}

// newEntry returns the entry of s, read from the store or just created,
// at now; insert gives it its roles.
func newEntry(s Session, now time.Time) *entry {
	e := &entry{id: s.ID, userID: s.UserID, created: s.Created.UnixMicro()}
	if name := s.UserName; name != "" {
		e.userName = &name // only the name escapes, not s
	}
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
	d := seen + set.IdleLifetime(e.userID, e.roles.roles).Microseconds()
	if set.AbsoluteLifetime > 0 {
		if a := e.created + set.AbsoluteLifetime.Microseconds(); a <= d {
			return a, ReasonAbsolute
		}
	}
	return d, ReasonIdle
}

// at returns the session with the given activity and deadline.
func (e *entry) at(seen, deadline int64) Session {
	var name string
	if e.userName != nil {
		name = *e.userName
	}
	return Session{ID: e.id, UserID: e.userID, UserName: name, Roles: e.roles.roles, Created: time.UnixMicro(e.created).UTC(),
		LastSeen: time.UnixMicro(seen).UTC(), Deadline: time.UnixMicro(deadline).UTC()}
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
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Settings(sctx)
	switch {
	case errors.Is(err, ErrNotFound):
		s = m.defaults()
	case err != nil:
		err = fmt.Errorf("%w: settings: %w", ErrUnavailable, err)
		if ctx.Err() == nil { // the store failed, not a caller that gave up
			m.settingsFail.Store(&failure{at: m.now(), err: err})
		}
		return nil, err
	}
	m.settingsFail.Store(nil)
	m.storeAnswered()
	c := &cachedSettings{s: s, synced: now}
	m.settings.Store(c)
	return &c.s, nil
}

// defaults returns a copy of [Options.Defaults].
func (m *Manager) defaults() Settings {
	s := *m.opts.Defaults
	s.RoleLifetimes = maps.Clone(s.RoleLifetimes)
	return s
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

// ended marks cached entries, logs and reports sessions that ended.
func (m *Manager) ended(ctx context.Context, evs []Event) {
	m.reportEnded(evs)
	for i := range evs {
		ev := evs[i]
		m.markEnded(ctx, ev)
		m.push.end(ev)
		m.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed out", slog.String("sid", shortID(ev.SessionID)),
			slog.String("user", ev.UserID), slog.String("reason", ev.Reason.String()), slog.Time("at", ev.At))
		if m.opts.OnSignOut != nil {
			m.opts.OnSignOut(ctx, ev)
		}
	}
}

func (m *Manager) markEnded(ctx context.Context, ev Event) {
	if e := m.cachedID(ev.SessionID); e != nil {
		e.ended.Store(&ev)
		m.forget(e)
		m.cut(ctx, e)
	}
}

// errUnknownSession: a cookie that names no session, or a tampered one.
var errUnknownSession = fmt.Errorf("%w: unknown or malformed session token", ErrNoSession)

// errStoreDown answers a front-end request while the store is known to
// be failing, without asking it again.
var errStoreDown = fmt.Errorf("%w: failing, not asked again until it answers a probe", ErrUnavailable)

// A visit is one request as the engine sees it: the engine never sees
// the *http.Request itself.
type visit struct {
	key     string // the credential presented (cookie token or application session ID); not empty
	backend bool   // below the backend prefix
	passive bool   // does not count as activity (polling)
}

// decide is the per-request decision: it returns the visit's cached entry,
// the settings in force and the time it was decided at, recording the
// visit's activity; or ErrNoSession-wrapped errors for an unknown
// credential, an *EndedError for a session that has ended (ending it now
// if its deadline has passed), or an error wrapping ErrUnavailable when
// the store fails. Once the store is known to be failing, a front-end
// visit gets errStoreDown at once: it never waits for the store.
func (m *Manager) decide(ctx context.Context, v visit) (*entry, *Settings, time.Time, error) {
	if !v.backend && m.health.failing() {
		m.probe() // in the background: a backend request or a probe finds out when it answers again
		return nil, nil, time.Time{}, errStoreDown
	}
	e, set, now, err := m.decideStore(ctx, v)
	if err != nil && errors.Is(err, ErrUnavailable) {
		m.storeFailed(err)
	}
	return e, set, now, err
}

func (m *Manager) decideStore(ctx context.Context, v visit) (*entry, *Settings, time.Time, error) {
	now := m.now()
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return nil, nil, now, err
	}
	e, err := m.load(ctx, v.key, now)
	if err != nil {
		return nil, nil, now, err
	}
	nowµ := now.UnixMicro()
	m.holdBusy(e, set, nowµ)
	if d, _ := e.deadline(set, e.seen.Load()); nowµ >= d {
		if err := m.expire(ctx, e, set, now); err != nil {
			return nil, nil, now, err
		}
	}
	if v.backend || set.FrontendActivity {
		e.used.Store(nowµ)
		if !v.passive {
			maxStore(&e.seen, nowµ)
			if nowµ-e.written.Load() >= m.touchInterval(set, e).Microseconds() {
				if err := m.write(ctx, e, set); err != nil {
					return nil, nil, now, err
				}
			} else if obs := m.opts.Observer; obs != nil {
				obs.WriteCoalesced()
			}
		}
	}
	return e, set, now, nil
}

// begin starts the session id for u, after ending the sessions prev
// (those the sign-in request carried), and caches it.
func (m *Manager) begin(ctx context.Context, id string, u User, prev []string, userAgent, addr string) (Session, error) {
	now := m.now()
	for _, id := range prev {
		// Best effort: a store failure shows in CreateSession below.
		_, _ = m.endIDs(ctx, id, ReasonReplaced, now)
	}
	set, err := m.currentSettings(ctx, now)
	if err != nil {
		return Session{}, fmt.Errorf("logout: sign in: %w", err)
	}
	s := Session{
		ID: id, UserID: u.ID, UserName: u.Name, Roles: slices.Clone(u.Roles), Created: now, LastSeen: now,
		UserAgent: userAgent, Address: addr, Tags: slices.Clone(u.Tags),
	}
	s.Deadline, _ = set.Deadline(s)
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	if err := m.store.CreateSession(sctx, s); err != nil {
		return Session{}, storeErr("sign in", err)
	}
	m.insert(newEntry(s, now), s.Roles)
	if obs := m.opts.Observer; obs != nil {
		obs.SessionStarted()
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "logout: signed in", slog.String("sid", shortID(s.ID)), slog.String("user", u.ID))
	if set.MaxSessions > 0 {
		if err := m.trimSessions(ctx, s.UserID, set.MaxSessions, s.ID, now); err != nil {
			// The sign-in stands; the user's next sign-in trims again.
			m.log.LogAttrs(ctx, slog.LevelWarn, "logout: session limit", slog.String("user", u.ID), slog.String("error", err.Error()))
		}
	}
	return s, nil
}

// trimSessions ends userID's oldest sessions beyond limit, never the
// session except (a sign-in's new one, which counts towards the limit),
// with [ReasonLimit]. A sign-in reads the user's sessions after its own
// was stored, so of concurrent sign-ins, in this process or others, the
// last to read trims what all of them created: once they are done the
// user holds at most limit sessions. It counts first, so a user within
// the limit costs one count.
func (m *Manager) trimSessions(ctx context.Context, userID string, limit int, except string, now time.Time) error {
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	n, err := m.store.CountSessions(sctx, ListOptions{UserID: userID})
	if err != nil || n <= limit {
		return err
	}
	list, err := m.store.ListSessions(sctx, ListOptions{UserID: userID, Limit: n})
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
	evs, err := m.store.EndSessions(sctx, Selector{IDs: ids}, ReasonLimit, now)
	m.ended(ctx, evs)
	return err
}

func (m *Manager) touchInterval(set *Settings, e *entry) time.Duration {
	if m.opts.TouchInterval > 0 {
		return m.opts.TouchInterval
	}
	return min(max(set.IdleLifetime(e.userID, e.roles.roles)/100, time.Millisecond), 5*time.Second)
}

func endedErr(ev *Event) error { return &EndedError{Reason: ev.Reason, At: ev.At} }

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// load returns the cached entry of the session that the credential key
// names, reading the store when it has none or when its copy is older
// than the sync interval.
func (m *Manager) load(ctx context.Context, key string, now time.Time) (*entry, error) {
	idBuf, ok := m.creds.sessionID(key)
	if !ok {
		return nil, errUnknownSession
	}
	if e := m.cached(idBuf[:]); e != nil {
		if ev := e.ended.Load(); ev != nil {
			return nil, endedErr(ev)
		}
		if err := m.sync(ctx, e, now, false); err != nil {
			return nil, err
		}
		return e, nil
	}
	id := string(idBuf[:])
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Session(sctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, m.goneErr(sctx, id)
	}
	if err != nil {
		return nil, unavailable("session", err)
	}
	m.storeAnswered()
	return m.insert(newEntry(s, now), s.Roles), nil
}

// goneErr explains a session the store no longer has: why it ended, or
// errUnknownSession when the log has no word of it.
func (m *Manager) goneErr(ctx context.Context, id string) error {
	ev, err := m.store.Event(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return errUnknownSession
	case err != nil:
		return unavailable("event", err)
	}
	return endedErr(&ev)
}

// gone handles an entry whose session the store no longer has: it
// records why it ended, drops it from the cache and returns the error to
// report.
func (m *Manager) gone(ctx context.Context, e *entry) error {
	err := m.goneErr(ctx, e.id)
	var ended *EndedError
	if errors.As(err, &ended) {
		ev := Event{SessionID: e.id, UserID: e.userID, Reason: ended.Reason, At: ended.At}
		e.ended.Store(&ev)
		m.push.end(ev)
		m.cut(ctx, e)
	}
	m.forget(e)
	return err
}

// sync rereads e from the store if its copy is older than the sync
// interval, or always with force.
func (m *Manager) sync(ctx context.Context, e *entry, now time.Time, force bool) error {
	fresh := func() bool {
		d := now.UnixMicro() - e.synced.Load()
		return d >= 0 && d < m.opts.SyncInterval.Microseconds()
	}
	if !force && fresh() {
		return nil
	}
	e.mu.Lock()
	defer m.unlock(ctx, e)
	if ev := e.ended.Load(); ev != nil {
		return endedErr(ev)
	}
	if !force && fresh() {
		return nil
	}
	if f := e.failed.Load(); f.answers(now, m.opts.StoreTimeout) {
		return f.err // failed after this request arrived: do not queue another timeout
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	s, err := m.store.Session(sctx, e.id)
	if errors.Is(err, ErrNotFound) {
		return m.gone(sctx, e)
	}
	if err != nil {
		err = unavailable("session", err)
		if ctx.Err() == nil { // the store failed, not a caller that gave up
			e.failed.Store(&failure{at: m.now(), err: err})
		}
		return err
	}
	e.failed.Store(nil)
	m.storeAnswered()
	if s.LastSeen.UnixMicro() > e.seen.Load() {
		m.push.wake(e.id) // its push streams tell the browser the new deadline
	}
	maxStore(&e.seen, s.LastSeen.UnixMicro())
	maxStore(&e.written, s.LastSeen.UnixMicro())
	e.synced.Store(now.UnixMicro())
	return nil
}

// write records e's newest activity in the store, unless another request
// is using the entry's store connection right now (the request path never
// queues behind a store call; the next request or the flush writes it).
func (m *Manager) write(ctx context.Context, e *entry, set *Settings) error {
	if !e.mu.TryLock() {
		// The holder writes it when it lets go (unlock): the activity is
		// never left unwritten until some later request.
		e.dirty.Store(true)
		return nil
	}
	err := m.writeLocked(ctx, e, set)
	m.unlock(ctx, e)
	return err
}

// unlock releases e.mu, first writing the activity of requests that
// found it held. A request sets e.dirty only after its TryLock failed,
// so while someone held the lock: either that holder sees the flag here,
// or a later holder does.
func (m *Manager) unlock(ctx context.Context, e *entry) {
	for {
		if e.dirty.Swap(false) && e.ended.Load() == nil {
			// The same rule as on the request path: write when the newest
			// activity is a touch interval past the newest written (this
			// holder may just have written most of it).
			if c := m.settings.Load(); c != nil && e.seen.Load()-e.written.Load() >= m.touchInterval(&c.s, e).Microseconds() {
				// Errors are not this caller's: the activity stays in
				// e.seen and the next request, sweep or flush writes it.
				_ = m.writeLocked(context.WithoutCancel(ctx), e, &c.s)
			}
		}
		e.mu.Unlock()
		if !e.dirty.Load() || !e.mu.TryLock() {
			return
		}
	}
}

// writeLocked is write for a caller that holds e.mu.
func (m *Manager) writeLocked(ctx context.Context, e *entry, set *Settings) error {
	seen := e.seen.Load()
	if seen <= e.written.Load() {
		return nil
	}
	d, _ := e.deadline(set, seen)
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	err := m.store.TouchSession(sctx, e.id, time.UnixMicro(seen).UTC(), time.UnixMicro(d).UTC())
	if errors.Is(err, ErrNotFound) {
		return m.gone(sctx, e)
	}
	if err != nil {
		return unavailable("touch", err)
	}
	maxStore(&e.written, seen)
	return nil
}

// expire handles a session that looks past its deadline: it confirms
// with the store (another process may have seen activity) and ends it,
// returning why. It returns nil when the session turned out to be alive.
func (m *Manager) expire(ctx context.Context, e *entry, set *Settings, now time.Time) error {
	for range 2 {
		if err := m.sync(ctx, e, now, true); err != nil {
			return err
		}
		s, reason := e.session(set)
		if now.Before(s.Deadline) {
			return nil
		}
		if ev := e.ended.Load(); ev != nil {
			return endedErr(ev)
		}
		sctx, cancel := m.storeCtx(ctx)
		evs, err := m.store.EndSessions(sctx, Selector{IDs: []string{s.ID}, SeenBy: s.LastSeen}, reason, s.Deadline)
		cancel()
		if err != nil {
			return unavailable("end session", err)
		}
		if len(evs) > 0 {
			m.ended(ctx, evs)
			return endedErr(&evs[0])
		}
		// Ended meanwhile by another request, or newer activity was
		// written by another process: look again.
	}
	if ev := e.ended.Load(); ev != nil {
		return endedErr(ev)
	}
	s, reason := e.session(set)
	return &EndedError{Reason: reason, At: s.Deadline}
}
