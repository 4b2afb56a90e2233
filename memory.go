package logout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// A MemoryStore is a [Store] that keeps everything in process memory. It
// suits tests and single-process programs that may forget every session
// on restart. The zero MemoryStore is not usable; call [NewMemoryStore].
type MemoryStore struct {
	mu       sync.RWMutex
	sessions map[string]Session
	// order holds the position of every session, and byUser that of each
	// user's, sorted: the indexes of CountSessions and ListSessions.
	order    []Cursor
	byUser   map[string][]Cursor
	events   []Event
	settings Settings
	saved    bool
	history  []Settings // every saved version, oldest first
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: make(map[string]Session), byUser: make(map[string][]Cursor)}
}

var _ Store = (*MemoryStore)(nil)

// CreateSession implements [SessionStore].
func (m *MemoryStore) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; ok {
		return fmt.Errorf("logout: create session: %w", ErrConflict)
	}
	s.Roles, s.Tags = slices.Clone(s.Roles), slices.Clone(s.Tags)
	m.sessions[s.ID] = s
	c := Cursor{Created: s.Created, ID: s.ID}
	m.order = insertCursor(m.order, c)
	m.byUser[s.UserID] = insertCursor(m.byUser[s.UserID], c)
	return nil
}

func compareCursors(a, b Cursor) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return compareStrings(a.ID, b.ID)
}

// insertCursor inserts c into the sorted index idx.
func insertCursor(idx []Cursor, c Cursor) []Cursor {
	i, _ := slices.BinarySearchFunc(idx, c, compareCursors)
	return slices.Insert(idx, i, c)
}

// deleteCursor deletes c from the sorted index idx.
func deleteCursor(idx []Cursor, c Cursor) []Cursor {
	if i, ok := slices.BinarySearchFunc(idx, c, compareCursors); ok {
		return slices.Delete(idx, i, i+1)
	}
	return idx
}

// Session implements [SessionStore].
func (m *MemoryStore) Session(_ context.Context, id string) (Session, error) {
	m.mu.RLock()
	s, ok := m.sessions[id]
	m.mu.RUnlock()
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// TouchSession implements [SessionStore].
func (m *MemoryStore) TouchSession(_ context.Context, id string, seen, deadline time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return ErrNotFound
	}
	if !seen.Before(s.LastSeen) {
		s.LastSeen, s.Deadline = seen, deadline
		m.sessions[id] = s
	}
	return nil
}

// SetDeadlines implements [SessionStore], under the store's lock.
func (m *MemoryStore) SetDeadlines(_ context.Context, updates []DeadlineUpdate) (int, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, u := range updates {
		if s, ok := m.sessions[u.ID]; ok && s.LastSeen.Equal(u.Seen) {
			s.Deadline = u.Deadline
			m.sessions[u.ID] = s
			n++
		}
	}
	return n, nil
}

// CountSessions implements [SessionStore]. A count by address reads
// every session (of the user, when opts names one).
func (m *MemoryStore) CountSessions(_ context.Context, opts ListOptions) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	idx := m.order
	if opts.UserID != "" {
		idx = m.byUser[opts.UserID]
	}
	if opts.Address == "" {
		return len(idx), nil
	}
	n := 0
	for _, c := range idx {
		if m.sessions[c.ID].Address == opts.Address {
			n++
		}
	}
	return n, nil
}

// ListSessions implements [SessionStore]. Orders other than OldestFirst,
// and a filter by address, read and sort every session (of the user, when
// opts names one): the memory store is for tests and small programs.
func (m *MemoryStore) ListSessions(_ context.Context, opts ListOptions) ([]Session, error) {
	if opts.Limit <= 0 {
		return nil, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	idx := m.order
	if opts.UserID != "" {
		idx = m.byUser[opts.UserID]
	}
	if opts.Order != OldestFirst || opts.Address != "" {
		after := opts.After.Session()
		var out []Session
		for _, c := range idx {
			s := m.sessions[c.ID]
			if (opts.Address == "" || s.Address == opts.Address) && (opts.After.IsZero() || opts.Order.Compare(s, after) > 0) {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, opts.Order.Compare)
		return out[:min(opts.Limit, len(out))], nil
	}
	start := 0
	if !opts.After.IsZero() {
		i, found := slices.BinarySearchFunc(idx, opts.After, compareCursors)
		if found {
			i++
		}
		start = i
	}
	page := idx[start:min(start+opts.Limit, len(idx))]
	out := make([]Session, len(page))
	for i, c := range page {
		out[i] = m.sessions[c.ID]
	}
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ExpiredSessions implements [SessionStore]. It scans every session:
// the memory store is for tests and small programs.
func (m *MemoryStore) ExpiredSessions(_ context.Context, t time.Time, limit int) ([]Session, error) {
	m.mu.RLock()
	var out []Session
	for _, s := range m.sessions {
		if !s.Deadline.After(t) {
			out = append(out, s)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

// EndSessions implements [SessionStore].
func (m *MemoryStore) EndSessions(_ context.Context, sel Selector, reason Reason, at time.Time) ([]Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ended []Session
	end := func(s Session) {
		if !sel.Match(s) {
			return
		}
		delete(m.sessions, s.ID)
		ended = append(ended, s)
	}
	switch {
	case len(sel.IDs) > 0:
		for _, id := range sel.IDs {
			if s, ok := m.sessions[id]; ok {
				end(s)
			}
		}
	case sel.UserID != "":
		for _, c := range slices.Clone(m.byUser[sel.UserID]) {
			end(m.sessions[c.ID])
		}
	default:
		for _, s := range m.sessions {
			end(s)
		}
	}
	m.unindex(ended)
	out := make([]Event, len(ended))
	for i, s := range ended {
		out[i] = Event{SessionID: s.ID, UserID: s.UserID, Reason: reason, At: at}
	}
	m.events = append(m.events, out...)
	return out, nil
}

// unindex drops the ended sessions, already deleted from m.sessions, from
// the indexes: one at a time when they are few, in one pass when many.
func (m *MemoryStore) unindex(ended []Session) {
	if len(ended) <= 16 {
		for _, s := range ended {
			c := Cursor{Created: s.Created, ID: s.ID}
			m.order = deleteCursor(m.order, c)
			m.setUser(s.UserID, deleteCursor(m.byUser[s.UserID], c))
		}
		return
	}
	gone := func(c Cursor) bool { _, ok := m.sessions[c.ID]; return !ok }
	m.order = slices.DeleteFunc(m.order, gone)
	users := make(map[string]bool)
	for _, s := range ended {
		users[s.UserID] = true
	}
	for u := range users {
		m.setUser(u, slices.DeleteFunc(m.byUser[u], gone))
	}
}

func (m *MemoryStore) setUser(userID string, idx []Cursor) {
	if len(idx) == 0 {
		delete(m.byUser, userID)
		return
	}
	m.byUser[userID] = idx
}

// Event implements [EventLog].
func (m *MemoryStore) Event(_ context.Context, sessionID string) (Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := len(m.events) - 1; i >= 0; i-- {
		if m.events[i].SessionID == sessionID {
			return m.events[i], nil
		}
	}
	return Event{}, ErrNotFound
}

// Events implements [EventLog]. It reads the whole log: the memory store
// is for tests and small programs.
func (m *MemoryStore) Events(_ context.Context, q EventQuery) ([]Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	m.mu.RLock()
	var out []Event
	for i := len(m.events) - 1; i >= 0; i-- { // newest logged first, kept for equal At by the stable sort
		if q.Match(m.events[i]) {
			out = append(out, m.events[i])
		}
	}
	m.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b Event) int { return b.At.Compare(a.At) })
	return out[:min(q.Limit, len(out))], nil
}

// DeleteEvents implements [EventLog].
func (m *MemoryStore) DeleteEvents(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.events)
	m.events = slices.DeleteFunc(m.events, func(e Event) bool { return e.At.Before(before) })
	return n - len(m.events), nil
}

// Settings implements [SettingsStore].
func (m *MemoryStore) Settings(context.Context) (Settings, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.saved {
		return Settings{}, ErrNotFound
	}
	return m.settings, nil
}

// SaveSettings implements [SettingsStore].
func (m *MemoryStore) SaveSettings(_ context.Context, s Settings) (Settings, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Version != m.settings.Version {
		return Settings{}, fmt.Errorf("logout: save settings: version %d, stored %d: %w", s.Version, m.settings.Version, ErrConflict)
	}
	s.Version++
	s.RoleLifetimes, s.UserLifetimes = maps.Clone(s.RoleLifetimes), maps.Clone(s.UserLifetimes)
	m.settings, m.saved = s, true
	m.history = append(m.history, s)
	return s, nil
}

// SettingsHistory implements [SettingsStore].
func (m *MemoryStore) SettingsHistory(_ context.Context, q HistoryQuery) ([]Settings, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Settings
	for i := len(m.history) - 1; i >= 0 && len(out) < q.Limit; i-- {
		if q.Match(m.history[i]) {
			out = append(out, m.history[i])
		}
	}
	return out, nil
}

// DeleteSettingsHistory implements [SettingsStore].
func (m *MemoryStore) DeleteSettingsHistory(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.history) == 0 {
		return 0, nil
	}
	n := len(m.history)
	last := m.history[n-1]
	m.history = append(slices.DeleteFunc(m.history[:n-1], func(s Settings) bool { return s.ChangedAt.Before(before) }), last)
	return n - len(m.history), nil
}
