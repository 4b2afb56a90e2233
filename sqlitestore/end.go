package sqlitestore

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

// An endBatch logs and then deletes some of the sessions that a selector
// chooses.
type endBatch struct {
	logSQL    string // takes reason and at, then args
	deleteSQL string // takes args
	args      []any
}

// untagQuery deletes the tags of the sessions ended, whose IDs it takes
// as a JSON array: a lookup in session_tags_session per ID.
const untagQuery = `DELETE FROM session_tags WHERE session_id IN (SELECT value FROM json_each(?))`

// maxIDs is the most session IDs bound in one statement, well below
// SQLite's limit on parameters.
const maxIDs = 500

// endBatches returns the statements that end the sessions sel selects: one
// batch, or one per maxIDs IDs.
func endBatches(sel logout.Selector) []endBatch {
	var (
		also     string
		alsoArgs []any
	)
	if sel.Except != "" {
		also, alsoArgs = also+` AND id <> ?`, append(alsoArgs, sel.Except)
	}
	if !sel.SeenBy.IsZero() {
		also, alsoArgs = also+` AND last_seen <= ?`, append(alsoArgs, micros(sel.SeenBy))
	}
	batch := func(cond string, args ...any) endBatch {
		cond += also
		return endBatch{
			logSQL: `INSERT INTO events (session_id, user_id, reason, at)
SELECT id, user_id, ?, ? FROM sessions WHERE ` + cond + ` RETURNING session_id, user_id`,
			deleteSQL: `DELETE FROM sessions WHERE ` + cond,
			args:      append(args, alsoArgs...),
		}
	}
	switch {
	case sel.All:
		return []endBatch{batch(`1`)}
	case sel.UserID != "":
		return []endBatch{batch(`user_id = ?`, sel.UserID)}
	case sel.Tag != "":
		return []endBatch{batch(`id IN (SELECT session_id FROM session_tags WHERE tag = ?)`, sel.Tag)}
	}
	var out []endBatch
	for ids := range slices.Chunk(sel.IDs, maxIDs) {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		out = append(out, batch(`id IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)`, args...))
	}
	return out
}

// EndSessions implements [logout.Store]. It logs and deletes the selected
// sessions and their tags, and enters their IDs in the change log that
// [Store.Watch] reads, in one transaction. It refuses an invalid sel or
// reason.
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) (_ []logout.Event, err error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("sqlitestore: end sessions: invalid reason %d", uint8(reason))
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: end sessions: %w", err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var out []logout.Event
	for _, b := range endBatches(sel) {
		if out, err = endBatchTx(ctx, tx, b, reason, at, out); err != nil {
			return nil, err
		}
	}
	if len(out) > 0 {
		if err := logChanges(ctx, tx, kindEnded, out); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// endBatchTx runs b in tx and appends the events it logged to out.
func endBatchTx(ctx context.Context, tx *sql.Tx, b endBatch, reason logout.Reason, at time.Time, out []logout.Event) ([]logout.Event, error) {
	// Log first, then delete the same rows: the transaction holds the
	// write lock, so both statements see the same sessions.
	rows, err := tx.QueryContext(ctx, b.logSQL, append([]any{reason.String(), micros(at)}, b.args...)...)
	if err != nil {
		return nil, err
	}
	n := len(out)
	for rows.Next() {
		e := logout.Event{Reason: reason, At: fromMicros(micros(at))}
		if err := rows.Scan(&e.SessionID, &e.UserID); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	ended := out[n:]
	if len(ended) == 0 {
		return out, nil
	}
	res, err := tx.ExecContext(ctx, b.deleteSQL, b.args...)
	if err != nil {
		return nil, err
	}
	if d, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if d != int64(len(ended)) {
		return nil, fmt.Errorf("logged %d sessions but deleted %d", len(ended), d)
	}
	ids := make([]string, len(ended))
	for i, e := range ended {
		ids[i] = e.SessionID
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, untagQuery, string(list)); err != nil {
		return nil, err
	}
	return out, nil
}
