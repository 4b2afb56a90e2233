package logout

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The engine keeps sessions in sync with the store: a cache of the
// sessions in use (by session ID, in shards, engine_cache.go), the
// settings in force (engine_settings.go), rereads after the sync
// interval, one coalesced write per touch interval, the end of a session
// at its deadline (this file), the store's health (engine_health.go),
// the work in flight (engine_inflight.go), the push subscribers and the
// sign-outs on close (engine_hub.go, engine_close.go), and the
// background beat and sweep of [Manager.Run] (engine_run.go,
// engine_sweep.go).
//
// It never sees HTTP: no engine file imports net/http, and the files of
// the HTTP layer (middleware.go, endpoints.go, push.go, signin.go, …) and
// of the Manager's API read none of its fields, only call its methods;
// TestEngineSeam keeps both rules. The HTTP layer turns a request into a
// [visit], and the engine answers with a [handle] to the session it let
// in, which the HTTP layer hands back to its methods.

// engine is the Manager's session engine. It is safe for concurrent use.
type engine struct {
	store Store
	opts  Options // with defaults; the engine reads its clock, timeouts and hooks
	log   *slog.Logger
	ids   sessionIDs // the credential mode's map from credential to session ID
	seed  maphash.Seed

	shards       [shardCount]shard
	settings     atomic.Pointer[cachedSettings]
	settingsMu   sync.Mutex
	settingsFail atomic.Pointer[failure]
	sweptVersion atomic.Int64
	health       health
	hub          hub      // push subscribers and sign-outs on close (engine_hub.go, engine_close.go)
	inflight     inflight // sessions with work in flight (engine_inflight.go)
}

// sessionIDs maps a presented credential to its session ID; the
// Manager's [credentials] are one.
type sessionIDs interface {
	// sessionID validates a presented credential and returns its session
	// ID; false for a malformed one. It does not allocate.
	sessionID(key string) ([idLen]byte, bool)
}

// newEngine returns the engine of store under opts, which have their
// defaults.
func newEngine(store Store, opts Options, ids sessionIDs) *engine {
	eng := &engine{store: store, opts: opts, log: opts.Logger, ids: ids, seed: maphash.MakeSeed()}
	for i := range eng.shards {
		eng.shards[i].m = make(map[string]*entry)
	}
	eng.sweptVersion.Store(-1)
	return eng
}

// A handle is the engine's answer to a visit that it let in: the
// session's cache entry and the settings it was decided under. Outside
// the engine's files it is opaque (TestEngineSeam): the HTTP layer keeps
// it for the request and hands it back to the engine's methods, which
// read the session through it.
type handle struct {
	e   *entry
	set *Settings // shared: never modified
	// The session's activity and deadline under set when the engine let
	// the visit in, in Unix microseconds: the session the handle stands
	// for, built only when asked for (session), so that a request holds
	// 16 bytes of it rather than a whole Session (BenchmarkRequestVsBare:
	// 576 B a request instead of 768).
	seen, deadline int64
}

// handleOf returns the handle of e under set, as of now.
func handleOf(e *entry, set *Settings) handle {
	seen := e.seen.Load()
	d, _ := e.deadline(set, seen)
	return handle{e: e, set: set, seen: seen, deadline: d}
}

// valid reports whether h names a session.
func (h handle) valid() bool { return h.e != nil }

// session returns the handle's session, with its activity and deadline
// as the engine let the visit in.
func (h handle) session() Session { return h.e.at(h.seen, h.deadline) }

// sessionID returns the ID of the handle's session.
func (h handle) sessionID() string { return h.e.id }

// deadlineTime returns the handle's deadline: session().Deadline, without
// building the session.
func (h handle) deadlineTime() time.Time { return time.UnixMicro(h.deadline) }

// status describes s, the handle's session, for a page's counter, as
// decided at now.
func (h handle) status(s Session, now time.Time) Status { return statusOf(s, h.set, now) }

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

// now reads the clock, truncated to the microsecond that stores keep.
func (eng *engine) now() time.Time { return eng.opts.Clock.Now().Truncate(time.Microsecond) }

func (eng *engine) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, eng.opts.StoreTimeout)
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

// decide is the per-request decision: it returns the handle of the
// visit's session and the time it was decided at, recording the
// visit's activity; or ErrNoSession-wrapped errors for an unknown
// credential, an *EndedError for a session that has ended (ending it now
// if its deadline has passed), or an error wrapping ErrUnavailable when
// the store fails. Once the store is known to be failing, a front-end
// visit gets errStoreDown at once: it never waits for the store.
func (eng *engine) decide(ctx context.Context, v visit) (handle, time.Time, error) {
	if !v.backend && eng.health.failing() {
		eng.probe() // in the background: a backend request or a probe finds out when it answers again
		return handle{}, time.Time{}, errStoreDown
	}
	e, set, now, err := eng.decideStore(ctx, v)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			eng.storeFailed(err)
		}
		return handle{}, now, err
	}
	return handleOf(e, set), now, nil
}

func (eng *engine) decideStore(ctx context.Context, v visit) (*entry, *Settings, time.Time, error) {
	now := eng.now()
	set, err := eng.currentSettings(ctx, now)
	if err != nil {
		return nil, nil, now, err
	}
	e, err := eng.load(ctx, v.key, now)
	if err != nil {
		return nil, nil, now, err
	}
	nowµ := now.UnixMicro()
	eng.holdBusy(e, set, nowµ)
	if d, _ := e.deadline(set, e.seen.Load()); nowµ >= d {
		if err := eng.expire(ctx, e, set, now); err != nil {
			return nil, nil, now, err
		}
	}
	if v.backend || set.FrontendActivity {
		e.used.Store(nowµ)
		if !v.passive {
			maxStore(&e.seen, nowµ)
			if nowµ-e.written.Load() >= eng.touchInterval(set, e).Microseconds() {
				if err := eng.write(ctx, e, set); err != nil {
					return nil, nil, now, err
				}
			} else if obs := eng.opts.Observer; obs != nil {
				obs.WriteCoalesced()
			}
		}
	}
	return e, set, now, nil
}

func (eng *engine) touchInterval(set *Settings, e *entry) time.Duration {
	if eng.opts.TouchInterval > 0 {
		return eng.opts.TouchInterval
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
func (eng *engine) load(ctx context.Context, key string, now time.Time) (*entry, error) {
	idBuf, ok := eng.ids.sessionID(key)
	if !ok {
		return nil, errUnknownSession
	}
	if e := eng.cached(idBuf[:]); e != nil {
		if ev := e.ended.Load(); ev != nil {
			return nil, endedErr(ev)
		}
		if err := eng.sync(ctx, e, now, false); err != nil {
			return nil, err
		}
		return e, nil
	}
	id := string(idBuf[:])
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	s, err := eng.store.Session(sctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, eng.goneErr(sctx, id)
	}
	if err != nil {
		return nil, unavailable("session", err)
	}
	eng.storeAnswered()
	return eng.insert(newEntry(s, now), s.Roles), nil
}

// goneErr explains a session the store no longer has: why it ended, or
// errUnknownSession when the log has no word of it.
func (eng *engine) goneErr(ctx context.Context, id string) error {
	ev, err := eng.store.Event(ctx, id)
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
func (eng *engine) gone(ctx context.Context, e *entry) error {
	err := eng.goneErr(ctx, e.id)
	var ended *EndedError
	if errors.As(err, &ended) {
		ev := Event{SessionID: e.id, UserID: e.userID, Reason: ended.Reason, At: ended.At}
		e.ended.Store(&ev)
		eng.hub.end(ev)
		eng.cut(ctx, e)
	}
	eng.forget(e)
	return err
}

// sync rereads e from the store if its copy is older than the sync
// interval, or always with force.
func (eng *engine) sync(ctx context.Context, e *entry, now time.Time, force bool) error {
	fresh := func() bool {
		d := now.UnixMicro() - e.synced.Load()
		return d >= 0 && d < eng.opts.SyncInterval.Microseconds()
	}
	if !force && fresh() {
		return nil
	}
	e.mu.Lock()
	defer eng.unlock(ctx, e)
	if ev := e.ended.Load(); ev != nil {
		return endedErr(ev)
	}
	if !force && fresh() {
		return nil
	}
	if f := e.failed.Load(); f.answers(now, eng.opts.StoreTimeout) {
		return f.err // failed after this request arrived: do not queue another timeout
	}
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	s, err := eng.store.Session(sctx, e.id)
	if errors.Is(err, ErrNotFound) {
		return eng.gone(sctx, e)
	}
	if err != nil {
		err = unavailable("session", err)
		if ctx.Err() == nil { // the store failed, not a caller that gave up
			e.failed.Store(&failure{at: eng.now(), err: err})
		}
		return err
	}
	e.failed.Store(nil)
	eng.storeAnswered()
	if s.LastSeen.UnixMicro() > e.seen.Load() {
		eng.hub.wake(e.id) // its push streams tell the browser the new deadline
	}
	maxStore(&e.seen, s.LastSeen.UnixMicro())
	maxStore(&e.written, s.LastSeen.UnixMicro())
	e.synced.Store(now.UnixMicro())
	return nil
}

// write records e's newest activity in the store, unless another request
// is using the entry's store connection right now (the request path never
// queues behind a store call; the next request or the flush writes it).
func (eng *engine) write(ctx context.Context, e *entry, set *Settings) error {
	if !e.mu.TryLock() {
		// The holder writes it when it lets go (unlock): the activity is
		// never left unwritten until some later request.
		e.dirty.Store(true)
		return nil
	}
	err := eng.writeLocked(ctx, e, set)
	eng.unlock(ctx, e)
	return err
}

// unlock releases e.mu, first writing the activity of requests that
// found it held. A request sets e.dirty only after its TryLock failed,
// so while someone held the lock: either that holder sees the flag here,
// or a later holder does.
func (eng *engine) unlock(ctx context.Context, e *entry) {
	for {
		if e.dirty.Swap(false) && e.ended.Load() == nil {
			// The same rule as on the request path: write when the newest
			// activity is a touch interval past the newest written (this
			// holder may just have written most of it).
			if c := eng.settings.Load(); c != nil && e.seen.Load()-e.written.Load() >= eng.touchInterval(&c.s, e).Microseconds() {
				// Errors are not this caller's: the activity stays in
				// e.seen and the next request, sweep or flush writes it.
				_ = eng.writeLocked(context.WithoutCancel(ctx), e, &c.s)
			}
		}
		e.mu.Unlock()
		if !e.dirty.Load() || !e.mu.TryLock() {
			return
		}
	}
}

// writeLocked is write for a caller that holds e.mu.
func (eng *engine) writeLocked(ctx context.Context, e *entry, set *Settings) error {
	seen := e.seen.Load()
	if seen <= e.written.Load() {
		return nil
	}
	d, _ := e.deadline(set, seen)
	sctx, cancel := eng.storeCtx(ctx)
	defer cancel()
	err := eng.store.TouchSession(sctx, e.id, time.UnixMicro(seen).UTC(), time.UnixMicro(d).UTC())
	if errors.Is(err, ErrNotFound) {
		return eng.gone(sctx, e)
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
func (eng *engine) expire(ctx context.Context, e *entry, set *Settings, now time.Time) error {
	for range 2 {
		if err := eng.sync(ctx, e, now, true); err != nil {
			return err
		}
		s, reason := e.session(set)
		if now.Before(s.Deadline) {
			return nil
		}
		if ev := e.ended.Load(); ev != nil {
			return endedErr(ev)
		}
		sctx, cancel := eng.storeCtx(ctx)
		evs, err := eng.store.EndSessions(sctx, Selector{IDs: []string{s.ID}, SeenBy: s.LastSeen}, reason, s.Deadline)
		cancel()
		if err != nil {
			return unavailable("end session", err)
		}
		if len(evs) > 0 {
			eng.ended(ctx, evs)
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
