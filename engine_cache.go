package logout

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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
	about    *about   // Session.UserAgent, Address and Tags; nil: none

	seen    atomic.Int64 // newest activity known here
	written atomic.Int64 // newest activity known to be in the store
	synced  atomic.Int64 // clock reading of the last store read
	used    atomic.Int64 // clock reading of the last request
	ended   atomic.Pointer[Event]
	failed  atomic.Pointer[failure] // the last failed store read
	dirty   atomic.Bool             // activity to write that found mu held
	busy    atomic.Int32            // requests and Busy tasks in flight (engine_inflight.go)
	started atomic.Int64            // clock reading of the newest start of work in flight
	mu      sync.Mutex              // one store round-trip per entry at a time; release with engine.unlock
}

func (eng *engine) shard(h uint64) *shard { return &eng.shards[h%shardCount] }

// cached returns the entry of the session ID id, or nil. The hot path
// has the ID in a stack buffer, not a string: indexing the map with
// string(id) does not allocate.
func (eng *engine) cached(id []byte) *entry {
	sh := eng.shard(maphash.Bytes(eng.seed, id))
	sh.mu.RLock()
	e := sh.m[string(id)]
	sh.mu.RUnlock()
	return e
}

// cachedID returns the cached entry of a session ID, or nil.
func (eng *engine) cachedID(id string) *entry {
	sh := eng.shard(maphash.String(eng.seed, id)) // the same hash as maphash.Bytes of its bytes
	sh.mu.RLock()
	e := sh.m[id]
	sh.mu.RUnlock()
	return e
}

// insert caches e with its roles, or returns the entry cached meanwhile
// under its ID.
func (eng *engine) insert(e *entry, roles []string) *entry {
	sh := eng.shard(maphash.String(eng.seed, e.id))
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
func (eng *engine) forget(e *entry) {
	sh := eng.shard(maphash.String(eng.seed, e.id))
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
	if s.UserAgent != "" || s.Address != "" || len(s.Tags) > 0 {
		e.about = &about{s.UserAgent, s.Address, s.Tags}
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
	s := Session{ID: e.id, UserID: e.userID, UserName: name, Roles: e.roles.roles, Created: time.UnixMicro(e.created).UTC(),
		LastSeen: time.UnixMicro(seen).UTC(), Deadline: time.UnixMicro(deadline).UTC()}
	if a := e.about; a != nil {
		s.UserAgent, s.Address, s.Tags = a.userAgent, a.address, a.tags
	}
	return s
}

// about is what describes a session beyond its user, set at sign-in and
// never changed: kept with the entry, so that the session a request sees
// ([FromContext]) is the stored one. Tags are never modified.
type about struct {
	userAgent, address string
	tags               []string
}
