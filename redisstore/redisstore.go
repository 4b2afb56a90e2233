package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

const (
	// batch is the most sessions or events one script handles.
	batch = 256
	// deadlineBatch is the most sessions one setDeadlinesScript
	// updates: a page of the Manager's refresh (500) in one script, which
	// keeps the server busy for about a millisecond.
	deadlineBatch = 500
	// eventKeyTTL is how long e:<id> keeps a session's newest event.
	eventKeyTTL = 30 * 24 * time.Hour
)

// Options configure a [Store]. The zero Options are valid: every field
// has a default.
type Options struct {
	// Prefix starts every key, so that several stores, or other data,
	// can share one Redis database. Default "logout:". On Redis Cluster it
	// must hold a hash tag, such as "{logout}:".
	Prefix string
	// Margin is how long Redis keeps a session's key after its stored
	// Deadline, or after the session's last write if that is later, before
	// it expires the key. Default 1h; negative is an error.
	//
	// The stored Deadline is not final: the Manager recomputes deadlines
	// from the current settings, and an administrator may lengthen the
	// lifetime, so a session past its stored Deadline may still be alive
	// until the Manager rewrites it. The margin also leaves the Manager's
	// sweep time to end the session itself and log why, and absorbs skew
	// between the app's clock and the Redis server's. Make it longer than
	// the sweep interval plus that skew.
	Margin time.Duration
	// Channel is the pub/sub channel that changes are announced on.
	// Default Prefix + "changes".
	Channel string
}

// A Store is a [logout.Store] and [logout.Watcher] on Redis. It is safe
// for concurrent use. Create one with [New].
type Store struct {
	client  redis.UniversalClient
	prefix  string
	margin  time.Duration
	channel string

	deadlines, created, seen, events, seq, settings, history, schema string // keys
}

// dataVersion is the version of the data's layout that this package
// writes: 2 added the user's events zsets and the settings history,
// which upgradeScript builds for data written before; 3 added the
// session's user agent, address and tags, the address and tag indexes
// and the seen zset, which backfillSeenScript builds for data of layout 2.
const dataVersion = 3

var (
	_ logout.Store   = (*Store)(nil)
	_ logout.Watcher = (*Store)(nil)
)

// New returns a Store that keeps its data in client. The caller owns the
// client and closes it after the last use of the store. New sends
// nothing to the server.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: new: nil client")
	}
	if opts.Margin < 0 {
		return nil, fmt.Errorf("redisstore: new: negative Margin %v", opts.Margin)
	}
	if opts.Prefix == "" {
		opts.Prefix = "logout:"
	}
	if opts.Margin == 0 {
		opts.Margin = time.Hour
	}
	if opts.Channel == "" {
		opts.Channel = opts.Prefix + "changes"
	}
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		if !hasHashTag(opts.Prefix) {
			return nil, fmt.Errorf("redisstore: new: Prefix %q has no hash tag; a cluster or ring needs one, such as \"{logout}:\"", opts.Prefix)
		}
	}
	p := opts.Prefix
	return &Store{
		client: client, prefix: p, margin: opts.Margin, channel: opts.Channel,
		deadlines: p + "deadlines", created: p + "created", seen: p + "seen", events: p + "events", seq: p + "seq", settings: p + "settings",
		history: p + "history", schema: p + "schema",
	}, nil
}

// hasHashTag reports whether Redis Cluster would hash key by a tag: a
// non-empty part between the first '{' and the next '}'.
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

func (s *Store) sessionKey(id string) string   { return s.prefix + "s:" + id }
func (s *Store) userKey(user string) string    { return s.prefix + "u:" + user }
func (s *Store) addrKey(addr string) string    { return s.prefix + "a:" + addr }
func (s *Store) tagKey(tag string) string      { return s.prefix + "t:" + tag }
func (s *Store) eventKey(id string) string     { return s.prefix + "e:" + id }
func (s *Store) userEventsKey(u string) string { return s.prefix + "eu:" + u }

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// sessionFields are the hash fields that parseSession reads, in order.
// Those from name on are missing from the hashes of sessions that a
// version before them created (name before layout 2; ua, addr and tags
// before layout 3), and read as empty.
var sessionFields = []string{"user", "roles", "created", "last_seen", "deadline", "name", "ua", "addr", "tags"}

// parseSession builds a session from the values of sessionFields. It
// reports false if the hash is missing.
func parseSession(id string, v []any) (logout.Session, bool, error) {
	if len(v) != len(sessionFields) || v[0] == nil {
		return logout.Session{}, false, nil
	}
	for i := 5; i < len(v); i++ {
		if v[i] == nil {
			v[i] = "" // an older layout's session
		}
	}
	str := make([]string, len(v))
	for i, x := range v {
		s, ok := x.(string)
		if !ok {
			return logout.Session{}, false, fmt.Errorf("session %q: field %s is %T, not a string", id, sessionFields[i], x)
		}
		str[i] = s
	}
	sess := logout.Session{ID: id, UserID: str[0], UserName: str[5], UserAgent: str[6], Address: str[7]}
	if err := json.Unmarshal([]byte(str[1]), &sess.Roles); err != nil {
		return logout.Session{}, false, fmt.Errorf("session %q: roles: %w", id, err)
	}
	if str[8] != "" {
		if err := json.Unmarshal([]byte(str[8]), &sess.Tags); err != nil {
			return logout.Session{}, false, fmt.Errorf("session %q: tags: %w", id, err)
		}
		if len(sess.Tags) == 0 {
			sess.Tags = nil
		}
	}
	for i, t := range []*time.Time{&sess.Created, &sess.LastSeen, &sess.Deadline} {
		n, err := strconv.ParseInt(str[2+i], 10, 64)
		if err != nil {
			return logout.Session{}, false, fmt.Errorf("session %q: %s: %w", id, sessionFields[2+i], err)
		}
		*t = time.UnixMicro(n).UTC()
	}
	return sess, true, nil
}

// CreateSession implements [logout.Store]. Tags must be valid UTF-8: the
// hash keeps them as JSON, which the scripts decode.
func (s *Store) CreateSession(ctx context.Context, sess logout.Session) error {
	roles, err := json.Marshal(sess.Roles)
	if err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	for _, t := range sess.Tags {
		if !utf8.ValidString(t) {
			return fmt.Errorf("redisstore: create session: tag %q is not valid UTF-8", t)
		}
	}
	tags := []byte("[]")
	if len(sess.Tags) > 0 {
		if tags, err = json.Marshal(sess.Tags); err != nil {
			return fmt.Errorf("redisstore: create session: %w", err)
		}
	}
	n, err := createScript.Run(ctx, s.client, []string{s.sessionKey(sess.ID), s.deadlines, s.created, s.seen},
		s.prefix, sess.ID, sess.UserID, roles, micros(sess.Created), micros(sess.LastSeen),
		micros(sess.Deadline), s.margin.Milliseconds(), sess.UserName, sess.UserAgent, sess.Address, tags).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: create session: %w", err)
	case n == 0:
		return fmt.Errorf("redisstore: create session: %w", logout.ErrConflict)
	}
	return nil
}

// Session implements [logout.Store].
func (s *Store) Session(ctx context.Context, id string) (logout.Session, error) {
	v, err := s.client.HMGet(ctx, s.sessionKey(id), sessionFields...).Result()
	if err != nil {
		return logout.Session{}, fmt.Errorf("redisstore: session: %w", err)
	}
	sess, ok, err := parseSession(id, v)
	switch {
	case err != nil:
		return logout.Session{}, fmt.Errorf("redisstore: session: %w", err)
	case !ok:
		return logout.Session{}, fmt.Errorf("redisstore: session: %w", logout.ErrNotFound)
	}
	return sess, nil
}

// TouchSession implements [logout.Store]. It sets the session's key to
// expire Margin after deadline (or after now, if that is later).
func (s *Store) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	n, err := touchScript.Run(ctx, s.client, []string{s.sessionKey(id), s.deadlines, s.seen},
		s.prefix, id, micros(seen), micros(deadline), s.margin.Milliseconds()).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: touch session: %w", err)
	case n == 0:
		return fmt.Errorf("redisstore: touch session: %w", logout.ErrNotFound)
	}
	return nil
}

// SetDeadlines implements [logout.SessionStore] with one Lua script per
// 500 updates, each of which checks last_seen and sets the deadline, the
// deadlines index and the key's expiry (Margin after the new deadline,
// as TouchSession does) in one atomic step. A session that Redis has
// expired by itself is skipped. If a later script fails, the sessions
// of the earlier ones stay updated and are counted with the error.
func (s *Store) SetDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (int, error) {
	total := 0
	for chunk := range slices.Chunk(updates, deadlineBatch) {
		args := make([]any, 0, 2+3*len(chunk))
		args = append(args, s.prefix, s.margin.Milliseconds())
		for _, u := range chunk {
			args = append(args, u.ID, micros(u.Seen), micros(u.Deadline))
		}
		n, err := setDeadlinesScript.Run(ctx, s.client, []string{s.deadlines}, args...).Int()
		if err != nil {
			return total, fmt.Errorf("redisstore: set deadlines: %w", err)
		}
		total += n
	}
	return total, nil
}

// CountSessions implements [logout.Store] with ZCARD of the created
// index, the user's or the address's: O(1); for a user at an address,
// ZINTERCARD of the user's and the address's, O(the user's sessions).
// Until a page, a sweep or an end meets them, entries of sessions that
// Redis expired by itself (see [Options.Margin]) are counted.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	var cmd *redis.IntCmd
	switch {
	case opts.UserID != "" && opts.Address != "":
		cmd = s.client.ZInterCard(ctx, 0, s.userKey(opts.UserID), s.addrKey(opts.Address))
	case opts.UserID != "":
		cmd = s.client.ZCard(ctx, s.userKey(opts.UserID))
	case opts.Address != "":
		cmd = s.client.ZCard(ctx, s.addrKey(opts.Address))
	default:
		cmd = s.client.ZCard(ctx, s.created)
	}
	n, err := cmd.Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: count sessions: %w", err)
	}
	return int(n), nil
}

// walkIndex returns the index zset whose order is opts.Order among the
// sessions opts selects, and whether to walk it from its highest member
// down; ok is false when there is none, for a user's or an address's
// sessions in an order by activity or deadline, or a user's at an
// address.
func (s *Store) walkIndex(opts logout.ListOptions) (key string, desc, ok bool) {
	filtered := opts.UserID != "" || opts.Address != ""
	switch opts.Order {
	case logout.ActiveFirst:
		return s.seen, true, !filtered
	case logout.EndingFirst:
		return s.deadlines, false, !filtered
	}
	desc = opts.Order == logout.NewestFirst
	switch {
	case opts.UserID != "" && opts.Address != "":
		return "", false, false
	case opts.UserID != "":
		return s.userKey(opts.UserID), desc, true
	case opts.Address != "":
		return s.addrKey(opts.Address), desc, true
	}
	return s.created, desc, true
}

// ListSessions implements [logout.Store]. It walks the index zset of the
// order (created, from either end, for OldestFirst and NewestFirst; seen
// from its highest member for ActiveFirst; deadlines for EndingFirst; the
// user's or the address's for their sessions by creation) from the cursor
// on, at most [batch] sessions per script, so its cost grows with the
// page; entries of sessions that Redis expired by itself are dropped on
// the way and not returned. The sessions of a user or an address in the
// other orders, and a user's at an address, are read whole from the
// user's or the address's zset and sorted, being few. Times must lie
// within 2^53 µs of 1970 (the years 1685 to 2255), where a zset score is
// exact.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if opts.Limit <= 0 {
		return nil, nil
	}
	key, desc, ok := s.walkIndex(opts)
	if !ok {
		out, err := s.listSorted(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list sessions: %w", err)
		}
		return out, nil
	}
	var after cursor
	if !opts.After.IsZero() {
		after = cursorOf(opts.Order, opts.After.Session())
	}
	var out []logout.Session
	for len(out) < opts.Limit {
		want := min(opts.Limit-len(out), batch)
		page, scanned, err := s.page(ctx, key, after, want, desc)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list sessions: %w", err)
		}
		out = append(out, page...)
		if scanned < want {
			break // the end of the index
		}
		// Go on after the last session returned. The script dropped the
		// expired entries it met, so a window of only those still moves
		// the walk on.
		if n := len(out); n > 0 {
			after = cursorOf(opts.Order, out[n-1])
		}
	}
	return out, nil
}

// listSorted returns the page of ListSessions for the sessions of a user,
// or of an address, in any order: it reads them all, from the user's
// zset or else the address's, and sorts them.
func (s *Store) listSorted(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	key := s.addrKey(opts.Address)
	if opts.UserID != "" {
		key = s.userKey(opts.UserID)
	}
	var (
		all   []logout.Session
		after cursor
	)
	for {
		page, scanned, err := s.page(ctx, key, after, batch, false)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if scanned < batch {
			break
		}
		if n := len(all); n > 0 {
			after = cursorOf(logout.OldestFirst, all[n-1])
		}
	}
	start := opts.After.Session()
	all = slices.DeleteFunc(all, func(x logout.Session) bool {
		return (opts.Address != "" && x.Address != opts.Address) ||
			(!opts.After.IsZero() && opts.Order.Compare(x, start) <= 0)
	})
	slices.SortFunc(all, opts.Order.Compare)
	return all[:min(len(all), opts.Limit)], nil
}

// A cursor is a position in an index zset: a score and a member, or none
// (the zero cursor) for the first member.
type cursor struct{ score, id string }

// cursorOf returns the position of x in the index of order o.
func cursorOf(o logout.SessionOrder, x logout.Session) cursor {
	t, _ := o.Key(x)
	return cursor{micros(t), x.ID}
}

// page runs pageScript on the index zset key: up to want sessions after
// the cursor, and how many members it read (expired ones included).
func (s *Store) page(ctx context.Context, key string, after cursor, want int, desc bool) ([]logout.Session, int, error) {
	dir := "0"
	if desc {
		dir = "1"
	}
	res, err := pageScript.Run(ctx, s.client, []string{key, s.deadlines, s.created, s.seen},
		s.prefix, after.score, after.id, want, dir).Slice()
	if err != nil {
		return nil, 0, err
	}
	out, err := parseRows(res[1:])
	scanned, _ := res[0].(int64)
	return out, int(scanned), err
}

// parseRows parses the session rows of a script's reply.
func parseRows(rows []any) ([]logout.Session, error) {
	var out []logout.Session
	for _, r := range rows {
		row, _ := r.([]any)
		if len(row) != 1+len(sessionFields) {
			return nil, fmt.Errorf("bad script reply %v", r)
		}
		id, _ := row[0].(string)
		sess, ok, err := parseSession(id, row[1:])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, sess)
		}
	}
	return out, nil
}

// scan calls fn with pages of at most batch session IDs from an index
// zset (deadlines, or a user's), as ZSCAN returns them, or from a set (a
// tag's) as SSCAN does: every session that exists for the whole scan comes
// at least once.
func (s *Store) scan(ctx context.Context, index string, set bool, fn func(ids []string) error) error {
	var cursor uint64
	for {
		var ids []string
		var next uint64
		if set {
			var err error
			if ids, next, err = s.client.SScan(ctx, index, cursor, "", batch).Result(); err != nil {
				return err
			}
		} else {
			kv, n, err := s.client.ZScan(ctx, index, cursor, "", batch).Result()
			if err != nil {
				return err
			}
			for i := 0; i < len(kv); i += 2 {
				ids = append(ids, kv[i])
			}
			next = n
		}
		for page := range slices.Chunk(ids, batch) {
			if err := fn(page); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ExpiredSessions implements [logout.Store]. It reads the deadlines index
// from its low end; entries of sessions that Redis has already expired
// are dropped on the way and not returned.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	var out []logout.Session
	seen := make(map[string]bool)
	for offset := 0; len(out) < limit; {
		want := min(limit-len(out), batch)
		res, err := expiredScript.Run(ctx, s.client, []string{s.deadlines, s.created, s.seen},
			s.prefix, micros(t), offset, want).Slice()
		if err != nil {
			return nil, fmt.Errorf("redisstore: expired sessions: %w", err)
		}
		scanned, _ := res[0].(int64)
		page, err := parseRows(res[1:])
		if err != nil {
			return nil, fmt.Errorf("redisstore: expired sessions: %w", err)
		}
		offset += len(page)
		for _, x := range page {
			// A session touched between two batches may come twice.
			if !seen[x.ID] {
				seen[x.ID] = true
				out = append(out, x)
			}
		}
		if int(scanned) < want {
			break
		}
	}
	return out, nil
}

// EndSessions implements [logout.Store]. It ends the selected sessions in
// batches of scripts; each session is deleted, dropped from the indexes
// and logged in one atomic step. Ending a user's or all sessions scans
// the user's index or the deadlines index, by tag the tag's set: sessions
// created meanwhile may or may not be ended. If it fails midway, it returns the events of the
// sessions it did end along with the error. reason must be valid.
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("redisstore: end sessions: invalid reason %v", reason)
	}
	seenBy := ""
	if !sel.SeenBy.IsZero() {
		seenBy = micros(sel.SeenBy)
	}
	var out []logout.Event
	end := func(ids []string) error {
		args := append([]any{s.prefix, s.channel, reason.String(), micros(at), seenBy, sel.Except,
			sel.UserID, eventKeyTTL.Milliseconds(), sel.Tag}, toAny(ids)...)
		res, err := endScript.Run(ctx, s.client, []string{s.deadlines, s.events, s.seq, s.created, s.seen}, args...).StringSlice()
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(res); i += 2 {
			out = append(out, logout.Event{SessionID: res[i], UserID: res[i+1], Reason: reason, At: at})
		}
		return nil
	}
	var err error
	switch {
	case len(sel.IDs) > 0:
		for page := range slices.Chunk(sel.IDs, batch) {
			if err = end(page); err != nil {
				break
			}
		}
	case sel.UserID != "":
		err = s.scan(ctx, s.userKey(sel.UserID), false, end)
	case sel.Tag != "":
		err = s.scan(ctx, s.tagKey(sel.Tag), true, end)
	default:
		err = s.scan(ctx, s.deadlines, false, end)
	}
	if err != nil {
		// The sessions in out did end: report them with the error.
		return out, fmt.Errorf("redisstore: end sessions: %w", err)
	}
	return out, nil
}

// eventJSON is the stored form of an event.
type eventJSON struct {
	Seq     int64  `json:"seq"`
	Session string `json:"session"`
	User    string `json:"user"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"`
}

func parseEvent(b string) (logout.Event, error) {
	e, _, err := parseEventSeq(b)
	return e, err
}

// parseEventSeq parses an event and its sequence number, the order in
// which events were logged.
func parseEventSeq(b string) (logout.Event, int64, error) {
	var j eventJSON
	if err := json.Unmarshal([]byte(b), &j); err != nil {
		return logout.Event{}, 0, fmt.Errorf("event %q: %w", b, err)
	}
	r, err := logout.ParseReason(j.Reason)
	if err != nil {
		return logout.Event{}, 0, fmt.Errorf("event %q: %w", b, err)
	}
	return logout.Event{SessionID: j.Session, UserID: j.User, Reason: r, At: time.UnixMicro(j.At).UTC()}, j.Seq, nil
}

// Event implements [logout.Store]. A session's event is found for 30 days
// after it was logged, or until [Store.DeleteEvents] removes it.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	b, err := s.client.Get(ctx, s.eventKey(sessionID)).Result()
	if errors.Is(err, redis.Nil) {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", err)
	}
	e, err := parseEvent(b)
	if err != nil {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", err)
	}
	return e, nil
}

// Events implements [logout.EventLog]. It reads the events zset, or the
// user's (eu:<user>), both scored by At, from Until down to Since, a page
// of at most [batch] events per ZREVRANGEBYSCORE, so its cost grows with
// the events returned; a filter by reason is applied as the pages come,
// so it also reads the events of the range that it skips. Redis orders
// members of equal score by their text, not by when they were logged, so
// it reads on to the end of the last time it returns and sorts events of
// equal At by their sequence number, newest logged first.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	key := s.events
	if q.UserID != "" {
		key = s.userEventsKey(q.UserID)
	}
	rng := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: batch}
	if !q.Until.IsZero() {
		rng.Max = "(" + micros(q.Until)
	}
	if !q.Since.IsZero() {
		rng.Min = micros(q.Since)
	}
	type seqEvent struct {
		logout.Event
		seq int64
	}
	var out []seqEvent
	for {
		bs, err := s.client.ZRevRangeByScore(ctx, key, rng).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: events: %w", err)
		}
		done := false
		for _, b := range bs {
			e, seq, err := parseEventSeq(b)
			if err != nil {
				return nil, fmt.Errorf("redisstore: events: %w", err)
			}
			if n := len(out); n >= q.Limit && !e.At.Equal(out[n-1].At) {
				done = true // past the last time returned
				break
			}
			if q.Match(e) {
				out = append(out, seqEvent{e, seq})
			}
		}
		if done || len(bs) < batch {
			break
		}
		rng.Offset += batch
	}
	slices.SortStableFunc(out, func(a, b seqEvent) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	evs := make([]logout.Event, 0, min(len(out), q.Limit))
	for _, e := range out[:min(len(out), q.Limit)] {
		evs = append(evs, e.Event)
	}
	return evs, nil
}

// DeleteEvents implements [logout.Store]. It removes the events in
// batches; if it fails midway, the count it returns with the error is of
// those removed.
//
// It also upgrades data written by a version of this package before the
// event queries, once: it adds the logged events to their user's zsets
// and seeds the settings history, a batch at a time.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	if err := s.upgrade(ctx); err != nil {
		return 0, fmt.Errorf("redisstore: delete events: %w", err)
	}
	total := 0
	for {
		n, err := deleteEventsScript.Run(ctx, s.client, []string{s.events}, s.prefix, micros(before), batch).Int()
		if err != nil {
			return total, fmt.Errorf("redisstore: delete events: %w", err)
		}
		if total += n; n < batch {
			return total, nil
		}
	}
}

// upgrade brings the data to dataVersion: upgradeScript to layout 2,
// then backfillSeenScript to layout 3, each a batch at a time. Once the
// data is at dataVersion it costs one GET.
func (s *Store) upgrade(ctx context.Context) error {
	v, err := s.client.Get(ctx, s.schema).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for start := 0; v < 2; start += batch {
		n, err := upgradeScript.Run(ctx, s.client, []string{s.events, s.schema, s.settings, s.history},
			s.prefix, start, batch, 2).Int()
		if err != nil {
			return fmt.Errorf("upgrade to layout 2: %w", err)
		}
		if n < batch {
			break
		}
	}
	for after := (cursor{}); v < 3; {
		res, err := backfillSeenScript.Run(ctx, s.client, []string{s.created, s.seen, s.schema},
			s.prefix, after.score, after.id, batch, 3).Slice()
		if err != nil {
			return fmt.Errorf("upgrade to layout 3: %w", err)
		}
		if n, _ := res[0].(int64); n < batch {
			break
		}
		after.score, _ = res[1].(string)
		after.id, _ = res[2].(string)
	}
	return nil
}

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	v, err := s.client.HMGet(ctx, s.settings, "version", "json").Result()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", err)
	}
	ver, _ := v[0].(string)
	b, _ := v[1].(string)
	if ver == "" || b == "" {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", logout.ErrNotFound)
	}
	var st logout.Settings
	if err := json.Unmarshal([]byte(b), &st); err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", err)
	}
	if st.Version, err = strconv.ParseInt(ver, 10, 64); err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: version: %w", err)
	}
	return st, nil
}

// SaveSettings implements [logout.Store]: one script saves the settings
// and appends them to the history. A successful save is announced to
// watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	want := st.Version
	st.Version++
	b, err := json.Marshal(st)
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: %w", err)
	}
	res, err := saveSettingsScript.Run(ctx, s.client, []string{s.settings, s.history}, s.channel, want, b).Int64Slice()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: %w", err)
	}
	if len(res) != 2 {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: bad script reply %v", res)
	}
	if res[0] == 0 {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: version %d, stored %d: %w", want, res[1], logout.ErrConflict)
	}
	st.Version = res[1]
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the history
// zset, scored by version, downwards from Before, [batch] entries at a
// time; a filter by time reads the entries it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rng := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: batch}
	if q.Before > 0 {
		rng.Max = "(" + strconv.FormatInt(q.Before, 10)
	}
	var out []logout.Settings
	for len(out) < q.Limit {
		docs, err := s.client.ZRevRangeByScoreWithScores(ctx, s.history, rng).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: settings history: %w", err)
		}
		for _, z := range docs {
			var st logout.Settings
			doc, _ := z.Member.(string)
			if err := json.Unmarshal([]byte(doc), &st); err != nil {
				return nil, fmt.Errorf("redisstore: settings history: %w", err)
			}
			st.Version = int64(z.Score)
			if q.Match(st) && len(out) < q.Limit {
				out = append(out, st)
			}
		}
		if len(docs) < batch {
			break
		}
		rng.Offset += batch
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore] with one script
// that reads the whole history: one entry per save.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	n, err := deleteHistoryScript.Run(ctx, s.client, []string{s.history}, micros(before)).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete settings history: %w", err)
	}
	return n, nil
}
