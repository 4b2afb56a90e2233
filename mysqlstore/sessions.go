package mysqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// CreateSession implements [logout.Store]. IDs and user IDs longer than
// 255 bytes are refused, and so are user names and User-Agents longer
// than 65,535 bytes, and addresses and tags longer than 255. A session
// with tags is one transaction that enters it in the sessions and its
// tags in session_tags; one without is one statement.
func (s *Store) CreateSession(ctx context.Context, x logout.Session) error {
	if len(x.ID) > maxID || len(x.UserID) > maxID {
		return fmt.Errorf("mysqlstore: create session: ID or user ID longer than %d bytes", maxID)
	}
	if len(x.UserName) > maxUserName || len(x.UserAgent) > maxUserName {
		return fmt.Errorf("mysqlstore: create session: user name or User-Agent longer than %d bytes", maxUserName)
	}
	if len(x.Address) > maxAddress || slices.ContainsFunc(x.Tags, func(t string) bool { return len(t) > maxAddress }) {
		return fmt.Errorf("mysqlstore: create session: address or tag longer than %d bytes", maxAddress)
	}
	roles, err := marshalList(x.Roles)
	if err != nil {
		return fmt.Errorf("mysqlstore: create session: %w", err)
	}
	tags, err := marshalList(x.Tags)
	if err != nil {
		return fmt.Errorf("mysqlstore: create session: %w", err)
	}
	args := []any{x.ID, x.UserID, x.UserName, roles, micros(x.Created), micros(x.LastSeen), micros(x.Deadline), x.UserAgent, x.Address, tags}
	if len(x.Tags) > 0 {
		tagArgs := make([]any, 0, 2*len(x.Tags))
		for _, t := range x.Tags {
			tagArgs = append(tagArgs, t, x.ID)
		}
		insertTags := fmt.Sprintf(s.q.insertTags, strings.TrimSuffix(strings.Repeat("(?, ?), ", len(x.Tags)), ", "))
		err = s.inTx(ctx, false, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.q.createSession, args...); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, insertTags, tagArgs...)
			return err
		})
	} else {
		err = s.createOne(ctx, x, args)
	}
	if isDuplicate(err) {
		return fmt.Errorf("mysqlstore: create session: %w", logout.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("mysqlstore: create session: %w", err)
	}
	return nil
}

// marshalList returns a list of strings, the roles or tags of a session,
// as a JSON array.
func marshalList(list []string) ([]byte, error) {
	if list == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(list)
}

// createOne creates a session without tags in one statement.
func (s *Store) createOne(ctx context.Context, x logout.Session, args []any) error {
	tries := 0
	return retry(ctx, func() error {
		tries++
		_, err := s.db.ExecContext(ctx, s.q.createSession, args...)
		if isDuplicate(err) && tries > 1 {
			// The connection was lost after an earlier try: it may have
			// stored the session. That is a success, not a conflict.
			if got, gerr := s.Session(ctx, x.ID); gerr == nil && sameSession(got, x) {
				return nil
			}
		}
		return err
	})
}

func sameSession(a, b logout.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.UserName == b.UserName && slices.Equal(a.Roles, b.Roles) &&
		a.Created.Equal(b.Created) && a.LastSeen.Equal(b.LastSeen) && a.Deadline.Equal(b.Deadline) &&
		a.UserAgent == b.UserAgent && a.Address == b.Address && slices.Equal(a.Tags, b.Tags)
}

// Session implements [logout.Store].
func (s *Store) Session(ctx context.Context, id string) (logout.Session, error) {
	return queryOne(ctx, s.db, scanSession, "session", s.q.session, id)
}

// TouchSession implements [logout.Store]: one UPDATE, found by the
// primary key, that moves the activity only forward. Only when it
// changes nothing (activity older than the stored one, or the same
// values) does a second read tell whether the session exists.
func (s *Store) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	err := retry(ctx, func() error {
		res, err := s.db.ExecContext(ctx, s.q.touch, micros(seen), micros(deadline), id, micros(seen))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		return s.db.QueryRowContext(ctx, s.q.sessionExists, id).Scan(&one)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mysqlstore: touch session: %w", logout.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mysqlstore: touch session: %w", err)
	}
	return nil
}

// deadlineBatch is how many sessions one statement of SetDeadlines
// names: the Manager's batch of 500 is one.
const deadlineBatch = 500

// SetDeadlines implements [logout.SessionStore] in one transaction per
// 500 updates: it locks the sessions by the primary key and reads their
// LastSeen and Deadline, then writes the deadlines that must change in
// one UPDATE. The lock makes the check and the write one atomic step: a
// concurrent TouchSession waits for the commit and then writes its newer
// activity, or has written it before and the check skips the session.
// The count is of the sessions matched, not only those changed, however
// the connection counts affected rows.
func (s *Store) SetDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (int, error) {
	total := 0
	for batch := range slices.Chunk(updates, deadlineBatch) {
		n, err := s.setDeadlines(ctx, batch)
		if err != nil {
			return total, fmt.Errorf("mysqlstore: set deadlines: %w", err)
		}
		total += n
	}
	return total, nil
}

func (s *Store) setDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (int, error) {
	want := make(map[string]logout.DeadlineUpdate, len(updates))
	ids := make([]any, 0, len(updates))
	for _, u := range updates {
		if len(u.ID) <= maxID {
			want[u.ID] = u
			ids = append(ids, u.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	matched := 0
	err := s.inTx(ctx, true, func(tx *sql.Tx) error {
		matched = 0
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(s.q.lockDeadlines, in(len(ids))), ids...)
		if err != nil {
			return err
		}
		var set []any // id, deadline pairs
		for rows.Next() {
			var id string
			var seen, deadline int64
			if err := rows.Scan(&id, &seen, &deadline); err != nil {
				rows.Close()
				return err
			}
			u, ok := want[id]
			if !ok || seen != micros(u.Seen) {
				continue
			}
			matched++
			if deadline != micros(u.Deadline) {
				set = append(set, id, micros(u.Deadline))
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil || len(set) == 0 {
			return err
		}
		var b strings.Builder
		b.WriteString(s.names.Replace("UPDATE {sessions} FORCE INDEX (PRIMARY) SET deadline = CASE id"))
		args := make([]any, 0, len(set)+len(set)/2)
		for i := 0; i < len(set); i += 2 {
			b.WriteString(" WHEN ? THEN ?")
		}
		args = append(args, set...)
		b.WriteString(" END WHERE id IN (" + in(len(set)/2) + ")")
		for i := 0; i < len(set); i += 2 {
			args = append(args, set[i])
		}
		_, err = tx.ExecContext(ctx, b.String(), args...)
		return err
	})
	return matched, err
}

func scanSession(row scanner) (logout.Session, error) {
	var x logout.Session
	var roles, tags []byte
	var created, seen, deadline int64
	if err := row.Scan(&x.ID, &x.UserID, &x.UserName, &roles, &created, &seen, &deadline, &x.UserAgent, &x.Address, &tags); err != nil {
		return x, err
	}
	if err := json.Unmarshal(roles, &x.Roles); err != nil {
		return x, fmt.Errorf("roles of session: %w", err)
	}
	if err := json.Unmarshal(tags, &x.Tags); err != nil {
		return x, fmt.Errorf("tags of session: %w", err)
	}
	if len(x.Roles) == 0 {
		x.Roles = nil
	}
	if len(x.Tags) == 0 {
		x.Tags = nil
	}
	x.Created, x.LastSeen, x.Deadline = fromMicros(created), fromMicros(seen), fromMicros(deadline)
	return x, nil
}
