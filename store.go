package logout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// A Store keeps what [Manager]s share: the sessions, the sign-out log and
// the settings, one concern per embedded interface. [New] takes a Store.
// Several Managers in several processes may share one store; then the
// store is the single source of truth.
//
// Implement the three on one type over one database:
// [SessionStore.EndSessions] appends to the log that [EventLog] reads, in
// the same atomic step as it deletes the session. The package storetest
// checks every contract below, one named subtest per rule.
//
// Rules for every method of the three:
//   - Implementations must be safe for concurrent use, by goroutines and
//     by other processes that share the data.
//   - Times are passed in by the Manager (from its clock; a store never
//     reads its own clock to decide anything) already truncated to the
//     microsecond, and must come back equal to them (time.Time.Equal).
//   - The Manager passes only valid Reasons (or 0 in an [EventQuery]:
//     any reason), positive limits, and tags that [User.Tags] allows
//     (printable UTF-8); user agents and addresses are valid UTF-8.
//   - A missing record is reported as [ErrNotFound] (wrapped or not);
//     every other error means the store failed, and should read
//     "mystore: op: cause".
type Store interface {
	SessionStore
	EventLog
	SettingsStore
}

// A SessionStore keeps sessions: the part of a [Store] that requests and
// the sweeper read and write. Its methods follow the rules in [Store]'s
// doc. A session lives from [SessionStore.CreateSession] until
// [SessionStore.EndSessions] deletes it; no other method may create one,
// and none may bring back one that ended.
type SessionStore interface {
	// CreateSession stores a new session. It returns ErrConflict if a
	// session with the same ID exists.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with the given ID, or ErrNotFound.
	// It does not judge expiry: that is the Manager's job.
	Session(ctx context.Context, id string) (Session, error)
	// TouchSession records activity. If seen is not before the stored
	// LastSeen, it sets LastSeen to seen and Deadline to deadline;
	// otherwise it changes nothing (activity never moves back). It
	// returns ErrNotFound, and creates nothing, when the session is gone:
	// a touch must never bring back an ended session.
	TouchSession(ctx context.Context, id string, seen, deadline time.Time) error
	// SetDeadlines stores the deadlines of many sessions at once, after
	// a settings change. For each update whose session exists and whose
	// stored LastSeen equals the update's Seen, it sets the stored
	// Deadline (and its index, which ExpiredSessions reads) to the
	// update's Deadline, and changes nothing else. It skips every other
	// update without error: a session gone stays gone, and one touched
	// meanwhile, by any process, keeps the deadline of that newer write.
	// The check of LastSeen and the write are one atomic step per
	// session. It returns how many sessions it matched (whether or not
	// their Deadline changed).
	//
	// The IDs of updates are distinct. Its cost must be a bounded number
	// of round trips to the database per call, never one per update: one
	// statement, one transaction or one script for a batch of a few
	// hundred (the Manager passes at most 500). On an error some updates
	// may have been applied; the count returned with it is of those
	// known to be. An empty updates is a no-op returning 0.
	SetDeadlines(ctx context.Context, updates []DeadlineUpdate) (int, error)
	// CountSessions returns how many sessions opts selects by its
	// UserID and Address (every session when both are ""), ignoring its
	// Order, After and Limit. Its cost must not grow with the number of
	// sessions beyond a count over an index (a set's size, or SQL's
	// count(*) on an indexed column); never read the sessions themselves
	// to count them.
	CountSessions(ctx context.Context, opts ListOptions) (int, error)
	// ListSessions returns one page of sessions: those that opts.UserID
	// and opts.Address select (every session when both are ""), in
	// opts.Order (see [SessionOrder]; ties by ID, byte by byte as Go
	// compares strings, in the same direction), starting strictly after
	// opts.After (at the first session when After is zero), at most
	// opts.Limit of them. It returns fewer than opts.Limit only when no
	// more sessions follow, and none when opts.Limit is 0 or less. Its
	// cost must grow with opts.Limit, not with all sessions (an index on
	// each order's time and ID, and one on user, Created and ID; a user's
	// or an address's sessions, being few, may be sorted after reading).
	//
	// Pages are not a snapshot: a session created or ended between two
	// calls may or may not appear, and one whose LastSeen or Deadline
	// changes during a walk in [ActiveFirst] or [EndingFirst] order moves
	// in it; any other session that lives through the whole walk appears
	// exactly once.
	ListSessions(ctx context.Context, opts ListOptions) ([]Session, error)
	// ExpiredSessions returns at most limit sessions whose stored
	// Deadline is at or before t, earliest Deadline first. Its cost must
	// grow with the sessions it returns, not with all sessions (an index
	// on Deadline).
	ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]Session, error)
	// EndSessions deletes the sessions that sel selects and appends one
	// Event (reason, at) per deleted session to the log that the
	// [EventLog] of the same Store reads, both in one atomic step per
	// session, and returns those events. Sessions already gone are
	// skipped without error, so of two concurrent calls that select the
	// same session exactly one returns its event. It refuses a sel that
	// fails [Selector.Validate].
	EndSessions(ctx context.Context, sel Selector, reason Reason, at time.Time) ([]Event, error)
}

// A DeadlineUpdate asks [SessionStore.SetDeadlines] to set the stored
// Deadline of session ID, provided that its stored LastSeen still equals
// Seen, the LastSeen that the new Deadline was computed from.
type DeadlineUpdate struct {
	// ID is the session's ID.
	ID string
	// Seen is the session's LastSeen as the caller read it, to the
	// microsecond: the update applies only while the store holds it.
	Seen time.Time
	// Deadline is the new deadline, computed from Seen.
	Deadline time.Time
}

// An EventLog is the sign-out log of a [Store]: the events that
// [SessionStore.EndSessions] appended, read for the sign-out page, the
// ended-session answers and exports, and pruned by the sweeper. Its
// methods follow the rules in [Store]'s doc.
type EventLog interface {
	// Event returns the newest event of a session, or ErrNotFound.
	Event(ctx context.Context, sessionID string) (Event, error)
	// Events returns the events that q selects (see [EventQuery]), at
	// most q.Limit of them and none when it is 0 or less, newest first:
	// by At, and events with equal At in the reverse of the order they
	// were logged. (At is when the session ended, which for an idle end
	// found late by a sweep is earlier than when it was logged.)
	//
	// Its cost must grow with the events it returns, not with the whole
	// log: an index on At, and one on the user and At. A filter by
	// Reason may read the events of the range that it skips; the store's
	// doc says so.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// DeleteEvents removes the events whose At is before t and says how
	// many.
	DeleteEvents(ctx context.Context, before time.Time) (int, error)
}

// An EventQuery selects events of the sign-out log for [EventLog.Events]
// and [Manager.QueryEvents]: each set field narrows the selection. The
// zero EventQuery selects every event (and [Manager.QueryEvents] reads
// its zero Limit as 100).
type EventQuery struct {
	// Since keeps events whose At is at or after it; zero: no lower bound.
	Since time.Time
	// Until keeps events whose At is before it; zero: no upper bound.
	Until time.Time
	// UserID, when not "", keeps only this user's events.
	UserID string
	// Reason, when not 0, keeps only events of this reason.
	Reason Reason
	// Limit is the most events returned.
	Limit int
}

// Match reports whether q selects e, ignoring Limit; stores that filter
// in Go use it.
func (q EventQuery) Match(e Event) bool {
	return (q.Since.IsZero() || !e.At.Before(q.Since)) && (q.Until.IsZero() || e.At.Before(q.Until)) &&
		(q.UserID == "" || e.UserID == q.UserID) && (q.Reason == 0 || e.Reason == q.Reason)
}

// A SettingsStore keeps the one [Settings] record that administrators
// edit, with a version for optimistic concurrency, and the history of
// every version saved, for audits. Its methods follow the rules in
// [Store]'s doc.
type SettingsStore interface {
	// Settings returns the saved settings with their Version, ChangedBy
	// and ChangedAt, or ErrNotFound when none were ever saved.
	Settings(ctx context.Context) (Settings, error)
	// SaveSettings saves s if s.Version equals the stored version (0 when
	// none is stored) and returns s with its new version, one more than
	// before. In the same atomic step it appends the saved settings (new
	// Version, ChangedBy and ChangedAt included) to the history that
	// [SettingsStore.SettingsHistory] reads: no save is stored without
	// its entry, nor an entry without its save. On a mismatch it changes
	// nothing and returns ErrConflict. Of concurrent saves of one version
	// exactly one succeeds.
	SaveSettings(ctx context.Context, s Settings) (Settings, error)
	// SettingsHistory returns the saved versions that q selects (see
	// [HistoryQuery]), newest (highest Version) first, at most q.Limit
	// of them and none when it is 0 or less, each as SaveSettings
	// returned it. Its cost must grow with the versions it returns or
	// skips, not with the whole history (an index on Version).
	SettingsHistory(ctx context.Context, q HistoryQuery) ([]Settings, error)
	// DeleteSettingsHistory removes the entries whose ChangedAt is before
	// t, except the newest entry (that of the settings in force), and
	// says how many it removed.
	DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error)
}

// A HistoryQuery selects saved versions of the settings for
// [SettingsStore.SettingsHistory] and [Manager.SettingsHistory]; each set
// field narrows the selection. The zero HistoryQuery selects every
// version (and [Manager.SettingsHistory] reads its zero Limit as 100).
type HistoryQuery struct {
	// Since keeps versions whose ChangedAt is at or after it; zero: no
	// lower bound.
	Since time.Time
	// Until keeps versions whose ChangedAt is before it; zero: no upper
	// bound.
	Until time.Time
	// Before, when more than 0, keeps versions whose Version is less
	// than it: the next page after a version, or the version before one.
	Before int64
	// Limit is the most versions returned.
	Limit int
}

// Match reports whether q selects s, ignoring Limit; stores that filter
// in Go use it.
func (q HistoryQuery) Match(s Settings) bool {
	return (q.Since.IsZero() || !s.ChangedAt.Before(q.Since)) && (q.Until.IsZero() || s.ChangedAt.Before(q.Until)) &&
		(q.Before <= 0 || s.Version < q.Before)
}

// ListOptions choose a page of sessions for [SessionStore.ListSessions] and
// [Manager.Sessions]. To read the next page, set After to [CursorOf] the
// last session of this one, and stop after a page shorter than Limit.
// The zero ListOptions asks [Manager.Sessions] for the first 100 sessions
// of all users, oldest sign-in first.
type ListOptions struct {
	// UserID, when not "", keeps only this user's sessions.
	UserID string
	// Address, when not "", keeps only the sessions whose
	// [Session.Address] is exactly this.
	Address string
	// Order is the order of the sessions; the zero Order is OldestFirst.
	Order SessionOrder
	// After is where the page starts: strictly after this position in
	// Order. The zero Cursor starts at the first session.
	After Cursor
	// Limit is the most sessions on the page. [Manager.Sessions] reads 0
	// as 100 and refuses a negative Limit; a Store returns none for 0 or
	// less.
	Limit int
}

// A SessionOrder is an order of sessions in [ListOptions]: by one of their
// times, then by ID in the same direction.
type SessionOrder uint8

// The orders of sessions. Stores keep none of these numbers.
const (
	// OldestFirst orders by Created, the earliest sign-in first.
	OldestFirst SessionOrder = iota
	// NewestFirst orders by Created, the latest sign-in first.
	NewestFirst
	// ActiveFirst orders by LastSeen as stored, the latest activity first.
	ActiveFirst
	// EndingFirst orders by Deadline as stored, the earliest first.
	EndingFirst
)

// Valid reports whether o is one of the defined orders.
func (o SessionOrder) Valid() bool { return o <= EndingFirst }

// Key returns the time of s that o orders by, and whether o puts later
// times first.
func (o SessionOrder) Key(s Session) (t time.Time, descending bool) {
	switch o {
	case NewestFirst:
		return s.Created, true
	case ActiveFirst:
		return s.LastSeen, true
	case EndingFirst:
		return s.Deadline, false
	}
	return s.Created, false
}

// Compare orders a before b as o does: -1, 0 or +1.
func (o SessionOrder) Compare(a, b Session) int {
	ta, desc := o.Key(a)
	tb, _ := o.Key(b)
	c := ta.Compare(tb)
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if desc {
		return -c
	}
	return c
}

// A Cursor is a position in an order of sessions: that of a session with
// these times and this ID, whether or not it still exists. Each order
// reads its own time and the ID (see [SessionOrder]); [CursorOf] fills
// them all. The zero Cursor is the position before the first session.
type Cursor struct {
	// Created, LastSeen and Deadline are the session's times, to the
	// microsecond.
	Created, LastSeen, Deadline time.Time
	// ID is the session's ID; among sessions of the same time, IDs order
	// byte by byte.
	ID string
}

// CursorOf returns the position of s, for [ListOptions.After]: the next
// page starts after s.
func CursorOf(s Session) Cursor {
	return Cursor{Created: s.Created, LastSeen: s.LastSeen, Deadline: s.Deadline, ID: s.ID}
}

// IsZero reports whether c is the zero Cursor, which starts at the first
// session.
func (c Cursor) IsZero() bool {
	return c.Created.IsZero() && c.LastSeen.IsZero() && c.Deadline.IsZero() && c.ID == ""
}

// Session returns the session that stands at c, with only the fields that
// orders read set: compare it with [SessionOrder.Compare].
func (c Cursor) Session() Session {
	return Session{ID: c.ID, Created: c.Created, LastSeen: c.LastSeen, Deadline: c.Deadline}
}

// A Selector chooses the sessions that [SessionStore.EndSessions] ends: exactly
// one of IDs, UserID, All and Tag is set.
type Selector struct {
	// IDs selects these sessions.
	IDs []string
	// UserID selects every session of this user.
	UserID string
	// All selects every session.
	All bool
	// Tag selects every session carrying this tag ([Session.Tags]).
	Tag string
	// Except keeps this session out of the selection ("sign out everyone
	// else"). Optional.
	Except string
	// SeenBy, when not zero, keeps only sessions whose stored LastSeen is
	// at or before it: an idle sign-out then loses to activity written
	// meanwhile by another process. Optional.
	SeenBy time.Time
}

// Validate reports whether exactly one of IDs, UserID, All and Tag is
// set, with no empty ID among IDs.
func (sel Selector) Validate() error {
	n := 0
	if len(sel.IDs) > 0 {
		n++
	}
	for _, id := range sel.IDs {
		if id == "" {
			return errors.New("logout: selector has an empty session ID")
		}
	}
	if sel.UserID != "" {
		n++
	}
	if sel.All {
		n++
	}
	if sel.Tag != "" {
		n++
	}
	if n != 1 {
		return errors.New("logout: selector must set exactly one of IDs, UserID, All and Tag")
	}
	return nil
}

// Match reports whether sel selects s; stores that filter in Go use it.
func (sel Selector) Match(s Session) bool {
	if s.ID == sel.Except && sel.Except != "" {
		return false
	}
	if !sel.SeenBy.IsZero() && s.LastSeen.After(sel.SeenBy) {
		return false
	}
	switch {
	case sel.All:
		return true
	case sel.UserID != "":
		return s.UserID == sel.UserID
	case sel.Tag != "":
		return slices.Contains(s.Tags, sel.Tag)
	default:
		for _, id := range sel.IDs {
			if id == s.ID {
				return true
			}
		}
		return false
	}
}

// A Watcher is a [Store] that announces changes made through it by any
// process sharing it (Redis pub/sub, PostgreSQL LISTEN/NOTIFY). A [Manager]
// whose store is a Watcher drops its cached state as soon as another
// process changes it; without one it still rereads the store at least
// every [Options.SyncInterval]. A Store need not be a Watcher.
type Watcher interface {
	// Watch calls fn for every change until ctx is done, then returns
	// ctx.Err(). Once it listens, it calls fn with a Change whose All is
	// set (what changed before was missed); from then on, every
	// successful [SettingsStore.SaveSettings] and every
	// [SessionStore.EndSessions] that ended sessions, by any Store value
	// on the same data in any process, is announced to fn: Settings, or
	// the ended IDs in Ended (in one or more Changes), or All when a
	// change is too large to list. Changes made one after another
	// through one Store value are announced in that order. Other methods
	// announce nothing.
	//
	// It returns early with an error if it cannot listen or stops
	// listening; the Manager then retries with backoff. It calls fn from
	// one goroutine at a time; fn must not block for long.
	Watch(ctx context.Context, fn func(Change)) error
}

// A Change is what a [Watcher] announces.
type Change struct {
	// Settings is true when the settings were saved.
	Settings bool
	// Ended lists the IDs of sessions that were ended.
	Ended []string
	// All means anything may have changed: a Watcher sends it once it
	// listens (changes made before were missed) and when a change is too
	// large to announce in detail. The Manager then rereads everything.
	All bool
}
