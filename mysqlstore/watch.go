package mysqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gologout/logout"
)

// The change log. MySQL has no LISTEN/NOTIFY, so every change that
// watchers must hear is a row of the table changes, written in the
// transaction of the change, and [Store.Watch] reads the rows after the
// last one it read, every PollInterval. The rows are numbered by the one
// row of change_seq, which the writing transaction updates and so locks
// until it commits: numbers follow the commit order, and a rolled-back
// transaction gives its number back, so a reader that sees row n has
// seen every row before it, or they were pruned. A missing number thus
// means rows pruned before they were read, and Watch announces All.
const (
	// endedPerRow is how many IDs one row of the change log lists.
	endedPerRow = 500
	// maxListed is how many IDs an end lists at the most; a larger end
	// is announced as All, which costs the watchers a reread instead of
	// reading the IDs.
	maxListed = 10 * endedPerRow
	// pollLimit is how many rows Watch reads at a time.
	pollLimit = 100
	// keepChanges is how many rows of the change log are kept; a watcher
	// that falls further behind hears All.
	keepChanges = 1000
	// pruneEvery: the transaction that writes a row whose number is a
	// multiple of it prunes the log after its commit.
	pruneEvery = 100
)

// The kinds of rows of the change log.
const (
	kindSettings = "settings"
	kindEnded    = "ended"
	kindAll      = "all"
)

// A change is a row of the change log to be.
type change struct {
	kind  string
	ended []string
}

// endedChanges returns the rows that announce the end of the sessions of
// evs.
func endedChanges(evs []logout.Event) []change {
	if len(evs) > maxListed {
		return []change{{kind: kindAll}}
	}
	var out []change
	for i := 0; i < len(evs); i += endedPerRow {
		c := change{kind: kindEnded}
		for _, e := range evs[i:min(i+endedPerRow, len(evs))] {
			c.ended = append(c.ended, e.SessionID)
		}
		out = append(out, c)
	}
	return out
}

// A span is the numbers of the rows that one transaction wrote to the
// change log, first to last; the zero span is none.
type span struct{ first, last int64 }

// logChanges writes cs to the change log in tx: it takes len(cs) numbers
// from change_seq, which locks its row until tx ends, and inserts the
// rows.
func (s *Store) logChanges(ctx context.Context, tx *sql.Tx, cs []change) (span, error) {
	res, err := tx.ExecContext(ctx, s.q.nextChange, len(cs))
	if err != nil {
		return span{}, err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return span{}, err
	}
	sp := span{first: last - int64(len(cs)) + 1, last: last}
	args := make([]any, 0, 3*len(cs))
	for i, c := range cs {
		var ended any // NULL but for kindEnded
		if c.kind == kindEnded {
			b, err := json.Marshal(c.ended)
			if err != nil {
				return span{}, err
			}
			ended = b
		}
		args = append(args, sp.first+int64(i), c.kind, ended)
	}
	_, err = tx.ExecContext(ctx, s.names.Replace(`INSERT INTO {changes} (id, kind, ended) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(cs)), ", ")), args...)
	return sp, err
}

// pruneChanges deletes the rows of the change log older than the newest
// keepChanges, when the committed span sp holds a multiple of
// pruneEvery: so about one write in pruneEvery prunes, pruneEvery rows at
// a time. It is best effort: rows it fails to delete are deleted by the
// next prune.
func (s *Store) pruneChanges(ctx context.Context, sp span) {
	if sp.last == 0 || sp.last/pruneEvery == (sp.first-1)/pruneEvery || sp.last <= keepChanges {
		return
	}
	s.db.ExecContext(ctx, s.q.pruneChanges, sp.last-keepChanges)
}

// errPollTimeout cancels a read of the change log unanswered within
// [Options.PollTimeout].
var errPollTimeout = errors.New("no answer")

// Watch implements [logout.Watcher]. It reads the number of the last
// change, calls fn with All set, and from then on reads the change log
// every [Options.PollInterval], each read one query on an index that
// returns the new rows (none, mostly), and calls fn, on Watch's
// goroutine, once per row: with Settings set after a [Store.SaveSettings],
// with Ended after a [Store.EndSessions] (a large end as several Changes,
// an end of more than 5000 sessions as All). Rows pruned before Watch
// read them are announced as one All. Watch holds no connection between
// reads.
//
// Watch returns ctx.Err() when ctx is done, or an error as soon as a
// read fails, after the tries that [Store] makes of every read, or is
// unanswered for [Options.PollTimeout], so that the caller listens
// again (and rereads what it holds) rather than miss changes.
func (s *Store) Watch(ctx context.Context, fn func(logout.Change)) error {
	var last int64
	err := s.bounded(ctx, func(ctx context.Context) error {
		return retry(ctx, func() error { return s.db.QueryRowContext(ctx, s.q.lastChange).Scan(&last) })
	})
	if err != nil {
		return watchErr(ctx, err)
	}
	// Changes made before were not read.
	fn(logout.Change{All: true})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.after(s.poll):
		}
		for {
			var rows []changeRow
			err := s.bounded(ctx, func(ctx context.Context) error {
				var err error
				rows, err = s.changesAfter(ctx, last)
				return err
			})
			if err != nil {
				return watchErr(ctx, err)
			}
			missed := false
			for _, r := range rows {
				if r.id != last+1 && !missed {
					missed = true
					fn(logout.Change{All: true})
				}
				last = r.id
				if c, ok := r.change(); ok {
					fn(c)
				}
			}
			if len(rows) < pollLimit {
				break
			}
		}
	}
}

// bounded runs op with a context that ends when ctx does or, by the
// store's clock, PollTimeout later.
func (s *Store) bounded(ctx context.Context, op func(context.Context) error) error {
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-s.after(s.timeout):
			cancel(errPollTimeout)
		case <-done:
		}
	}()
	err := op(bctx)
	if err != nil && context.Cause(bctx) == errPollTimeout {
		// err is the cancellation: say why.
		return fmt.Errorf("%w within %v", errPollTimeout, s.timeout)
	}
	return err
}

// A changeRow is a row of the change log as read.
type changeRow struct {
	id    int64
	kind  string
	ended []byte
}

// change returns what r announces; ok is false for a row it cannot
// read, which is skipped.
func (r changeRow) change() (logout.Change, bool) {
	switch r.kind {
	case kindSettings:
		return logout.Change{Settings: true}, true
	case kindAll:
		return logout.Change{All: true}, true
	case kindEnded:
		var ids []string
		if json.Unmarshal(r.ended, &ids) != nil || len(ids) == 0 {
			return logout.Change{}, false
		}
		return logout.Change{Ended: ids}, true
	}
	return logout.Change{}, false
}

// changesAfter reads up to pollLimit rows of the change log after last.
func (s *Store) changesAfter(ctx context.Context, last int64) ([]changeRow, error) {
	return queryAll(ctx, s.db, func(row scanner) (r changeRow, err error) {
		err = row.Scan(&r.id, &r.kind, &r.ended)
		return r, err
	}, s.q.changesAfter, last, pollLimit)
}

func watchErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("mysqlstore: watch: %w", err)
}
