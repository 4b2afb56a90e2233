package redisstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

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
