package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gologout/logout"
)

// touchQuery moves last_seen and deadline only forward, and matches the
// row whenever it exists, so that no change still counts one row.
const touchQuery = `UPDATE sessions SET
	deadline  = CASE WHEN last_seen <= ?2 THEN ?3 ELSE deadline END,
	last_seen = max(last_seen, ?2)
WHERE id = ?1`

// setDeadlineQuery sets one session's deadline if its last_seen is still
// the one the deadline was computed from; served by the primary key.
const setDeadlineQuery = `UPDATE sessions SET deadline = ?3 WHERE id = ?1 AND last_seen = ?2`

func scanSession(row scanner) (logout.Session, error) {
	var (
		x                       logout.Session
		roles, tags             string
		created, seen, deadline int64
	)
	if err := row.Scan(&x.ID, &x.UserID, &x.UserName, &roles, &created, &seen, &deadline, &x.UserAgent, &x.Address, &tags); err != nil {
		return logout.Session{}, err
	}
	var err error
	if x.Roles, err = decodeList(roles); err != nil {
		return logout.Session{}, fmt.Errorf("session %q: decode roles: %w", x.ID, err)
	}
	if x.Tags, err = decodeList(tags); err != nil {
		return logout.Session{}, fmt.Errorf("session %q: decode tags: %w", x.ID, err)
	}
	x.Created, x.LastSeen, x.Deadline = fromMicros(created), fromMicros(seen), fromMicros(deadline)
	return x, nil
}

func querySessions(ctx context.Context, db *sql.DB, query string, args ...any) (_ []logout.Session, err error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	var out []logout.Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// insertTagsQuery enters the tags of a session, a JSON array, in
// session_tags.
const insertTagsQuery = `INSERT OR IGNORE INTO session_tags (tag, session_id) SELECT value, ? FROM json_each(?)`

// CreateSession implements [logout.Store]. A taken ID is
// [logout.ErrConflict]. A session with tags is one transaction that
// enters it in sessions and its tags in session_tags; one without is one
// statement.
func (s *Store) CreateSession(ctx context.Context, x logout.Session) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: create session: %w", err)
		}
	}()
	roles, err := encodeList(x.Roles)
	if err != nil {
		return err
	}
	tags, err := encodeList(x.Tags)
	if err != nil {
		return err
	}
	insert := s.createSession
	var tx *sql.Tx
	if len(x.Tags) > 0 {
		if tx, err = s.w.BeginTx(ctx, nil); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tx.Rollback()
			}
		}()
		insert = tx.StmtContext(ctx, insert)
	}
	res, err := insert.ExecContext(ctx, x.ID, x.UserID, x.UserName, roles,
		micros(x.Created), micros(x.LastSeen), micros(x.Deadline), x.UserAgent, x.Address, tags)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("ID taken: %w", logout.ErrConflict)
	}
	if tx == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, insertTagsQuery, x.ID, tags); err != nil {
		return err
	}
	return tx.Commit()
}

// Session implements [logout.Store].
func (s *Store) Session(ctx context.Context, id string) (logout.Session, error) {
	x, err := scanSession(s.getSession.QueryRowContext(ctx, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return logout.Session{}, logout.ErrNotFound
	case err != nil:
		return logout.Session{}, fmt.Errorf("sqlitestore: session: %w", err)
	}
	return x, nil
}

// TouchSession implements [logout.Store].
func (s *Store) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	res, err := s.touchSession.ExecContext(ctx, id, micros(seen), micros(deadline))
	if err != nil {
		return fmt.Errorf("sqlitestore: touch session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: touch session: %w", err)
	}
	if n == 0 {
		return logout.ErrNotFound
	}
	return nil
}

// SetDeadlines implements [logout.SessionStore]: one transaction on the
// write connection runs a prepared UPDATE per session, each served by the
// primary key, so the batch costs one commit. It is all or nothing: on
// an error no update is applied and the count is 0.
func (s *Store) SetDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (_ int, err error) {
	if len(updates) == 0 {
		return 0, nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: set deadlines: %w", err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	st := tx.StmtContext(ctx, s.setDeadline)
	n := 0
	for _, u := range updates {
		res, err := st.ExecContext(ctx, u.ID, micros(u.Seen), micros(u.Deadline))
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}
