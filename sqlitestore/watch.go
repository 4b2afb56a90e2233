package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gologout/logout"
)

// The change log. SQLite has no notifications between processes, so
// every change that watchers must hear is a row of the table changes,
// written in the transaction of the change: one row per ended session
// (kind ended), or one row of kind all for an end too large to list, and
// one row per settings save. seq is AUTOINCREMENT and the file has one
// writer at a time, so rows are numbered in commit order and without
// gaps (a rolled-back transaction gives its numbers back): a reader that
// finds a gap after the last row it read knows that rows were pruned
// before it read them, and announces All.
//
// [Store.Watch] asks SQLite every PollInterval whether another connection
// committed to the file (PRAGMA data_version, answered without reading a
// page), and reads the rows after the last one it read only then.
const (
	// maxListed is how many IDs an end lists at the most; a larger end
	// is one row of kind all, which costs the watchers a reread instead.
	maxListed = 1000
	// keepChanges is how many rows of the change log are kept; a watcher
	// that falls further behind hears All.
	keepChanges = 5000
	// pruneEvery: the transaction that writes a row whose number is a
	// multiple of it prunes the log, pruneEvery rows at a time.
	pruneEvery = 500
	// pollLimit is how many rows Watch reads at a time.
	pollLimit = 500
	// endedPerChange is how many IDs one Change lists at the most.
	endedPerChange = 500
)

// The kinds of rows of the change log.
const (
	kindEnded    = "ended"
	kindSettings = "settings"
	kindAll      = "all"
)

const (
	insertChangeQuery = `INSERT INTO changes (kind) VALUES (?)`
	insertEndedQuery  = `INSERT INTO changes (kind, session_id) SELECT 'ended', value FROM json_each(?) ORDER BY key`
	pruneChangesQuery = `DELETE FROM changes WHERE seq <= ?`
	lastChangeQuery   = `SELECT coalesce(max(seq), 0) FROM changes`
	changesAfterQuery = `SELECT seq, kind, session_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`
)

// logChanges writes to the change log, in tx, a row of kind, or, for
// kindEnded, the rows that announce the end of the sessions of ended; it
// prunes the log when the numbers it took cross a multiple of
// pruneEvery.
func logChanges(ctx context.Context, tx *sql.Tx, kind string, ended []logout.Event) error {
	var (
		res sql.Result
		err error
	)
	switch {
	case kind == kindEnded && len(ended) <= maxListed:
		ids := make([]string, len(ended))
		for i, e := range ended {
			ids[i] = e.SessionID
		}
		b, jerr := json.Marshal(ids)
		if jerr != nil {
			return jerr
		}
		res, err = tx.ExecContext(ctx, insertEndedQuery, string(b))
	case kind == kindEnded:
		res, err = tx.ExecContext(ctx, insertChangeQuery, kindAll)
	default:
		res, err = tx.ExecContext(ctx, insertChangeQuery, kind)
	}
	if err != nil {
		return err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if first := last - n + 1; last > keepChanges && (first-1)/pruneEvery != last/pruneEvery {
		_, err = tx.ExecContext(ctx, pruneChangesQuery, last-keepChanges)
	}
	return err
}

// Watch implements [logout.Watcher] for every Store on the file, in this
// process or another. It opens a read-only connection of its own, which
// it holds until it returns, reads the number of the last change, calls
// fn with All set, and from then on asks SQLite every
// [Options.PollInterval] whether another connection wrote to the file
// (PRAGMA data_version, which costs no read of the file). Only then does
// it read the change log after the last row it read, and call fn, on
// Watch's goroutine, in the order of the log: with Settings set after a
// [Store.SaveSettings], with Ended after a [Store.EndSessions] (up to 500
// IDs a Change; an end of more than 1000 sessions as All). Rows pruned
// before Watch read them are announced as one All.
//
// Watch returns ctx.Err() when ctx is done, or an error as soon as a
// read fails, so that the caller listens again rather than miss changes.
func (s *Store) Watch(ctx context.Context, fn func(logout.Change)) (err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		} else if err != nil {
			err = fmt.Errorf("sqlitestore: watch: %w", err)
		}
	}()
	// A connection of its own: data_version changes with the commits of
	// other connections only, and this one never writes.
	db, err := sql.Open("sqlite", s.readDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var version, last int64
	if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&version); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, lastChangeQuery).Scan(&last); err != nil {
		return err
	}
	fn(logout.Change{All: true}) // changes made before were not read
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			return err
		}
		if v == version {
			continue
		}
		version = v
		for {
			n, err := readChanges(ctx, conn, &last, fn)
			if err != nil {
				return err
			}
			if n < pollLimit {
				break
			}
		}
	}
}

// readChanges reads up to pollLimit rows of the change log after *last,
// calls fn for them, moves *last on and says how many rows it read.
func readChanges(ctx context.Context, conn *sql.Conn, last *int64, fn func(logout.Change)) (int, error) {
	rows, err := conn.QueryContext(ctx, changesAfterQuery, *last, pollLimit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		n      int
		ended  []string
		missed bool
	)
	flush := func() {
		if len(ended) > 0 {
			fn(logout.Change{Ended: ended})
			ended = nil
		}
	}
	for rows.Next() {
		var (
			seq  int64
			kind string
			id   sql.NullString
		)
		if err := rows.Scan(&seq, &kind, &id); err != nil {
			return n, err
		}
		n++
		if seq != *last+1 && !missed {
			missed = true
			flush()
			fn(logout.Change{All: true})
		}
		*last = seq
		switch kind {
		case kindEnded:
			if id.Valid {
				if ended = append(ended, id.String); len(ended) == endedPerChange {
					flush()
				}
			}
		case kindSettings:
			flush()
			fn(logout.Change{Settings: true})
		case kindAll:
			flush()
			fn(logout.Change{All: true})
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	flush()
	return n, rows.Close()
}
