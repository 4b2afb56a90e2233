package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gologout/logout"
)

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
