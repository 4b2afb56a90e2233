package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// maxName is the longest table name MySQL and MariaDB accept, in bytes.
const maxName = 64

// maxID is the longest session or user ID the store keeps, in bytes: the
// width of the VARBINARY columns.
const maxID = 255

// maxUserName is the longest user name, or User-Agent, the store keeps,
// in bytes: what a TEXT column holds.
const maxUserName = 1<<16 - 1

// maxAddress is the longest address, and tag, the store keeps, in bytes:
// the width of their VARBINARY columns.
const maxAddress = 255

// Options configure a [Store]. The zero Options are useful: every field
// states its default.
type Options struct {
	// Prefix starts the name of every table of the store, so that it can
	// share a database with an application's own tables: "wp_" gives
	// wp_logout_sessions, wp_logout_events and so on. It may hold ASCII
	// letters, digits, _ and $, at most 41 bytes. Default "": the tables
	// are logout_sessions, logout_events, …
	Prefix string
	// PollInterval is how long [Store.Watch] waits between two reads of
	// the change log, and so about the most that a change made by
	// another instance takes to be announced. Default 100 ms.
	PollInterval time.Duration
	// PollTimeout bounds each read of the change log by [Store.Watch]:
	// a read unanswered as long ends Watch with an error, so that a
	// connection silenced by the network is not waited on for ever.
	// Default 5 s.
	PollTimeout time.Duration
	// PruneBatch is how many events [Store.DeleteEvents] deletes per
	// statement, so that pruning a long log never holds its locks for
	// long. Default 500.
	PruneBatch int
}

func (o Options) withDefaults() (Options, error) {
	if o.PollInterval == 0 {
		o.PollInterval = 100 * time.Millisecond
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = 5 * time.Second
	}
	if o.PruneBatch == 0 {
		o.PruneBatch = 500
	}
	if len(o.Prefix)+longestTable > maxName {
		return o, fmt.Errorf("mysqlstore: Prefix %q is longer than %d bytes", o.Prefix, maxName-longestTable)
	}
	for _, c := range []byte(o.Prefix) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$') {
			return o, fmt.Errorf("mysqlstore: Prefix %q may hold only ASCII letters, digits, _ and $", o.Prefix)
		}
	}
	if o.PollInterval < 0 || o.PollTimeout < 0 {
		return o, errors.New("mysqlstore: PollInterval and PollTimeout must not be negative")
	}
	if o.PruneBatch < 0 {
		return o, errors.New("mysqlstore: PruneBatch must not be negative")
	}
	return o, nil
}

// A Store is a [logout.Store] and [logout.Watcher] kept in MySQL or
// MariaDB. It is safe for concurrent use, and any number of Stores in
// any number of processes may share one set of tables. Make one with
// [New].
type Store struct {
	db      *sql.DB
	prefix  string
	names   *strings.Replacer
	poll    time.Duration
	timeout time.Duration
	batch   int
	q       queries
	// after waits for Watch: time.After, or a test's clock.
	after func(time.Duration) <-chan time.Time
	// returning: the server is MariaDB, which has DELETE … RETURNING.
	returning bool
}

var (
	_ logout.Store   = (*Store)(nil)
	_ logout.Watcher = (*Store)(nil)
)

// New returns a Store on db, a handle opened with the driver
// github.com/go-sql-driver/mysql on a database of its own or shared
// with the application, after creating or upgrading the store's tables
// (see the package doc). It fails when opts are invalid, when the
// database cannot be reached, and with [ErrNewerSchema] when the tables
// are newer than this code. The caller keeps ownership of db and closes
// it after the last use of the Store.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("mysqlstore: New needs a database handle")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	names := namer(opts.Prefix)
	s := &Store{
		db:      db,
		prefix:  opts.Prefix,
		names:   names,
		poll:    opts.PollInterval,
		timeout: opts.PollTimeout,
		batch:   opts.PruneBatch,
		q:       newQueries(names),
		after:   time.After,
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("mysqlstore: server version: %w", err)
	}
	s.returning = strings.Contains(version, "MariaDB")
	return s, nil
}

// queries holds the fixed statements, with the table names in place.
type queries struct {
	createSession, session, sessionExists, touch string
	lockDeadlines, insertTags, tagged, untag     string
	countAll, countUser, expired                 string
	countAddress, countUserAddress               string
	event, deleteEvents                          string
	settings, insertSettings, updateSettings     string
	insertHistory, maxHistory, deleteHistory     string
	nextChange, lastChange, changesAfter         string
	pruneChanges                                 string
}

const sessionCols = "id, user_id, user_name, roles, created, last_seen, deadline, user_agent, address, tags"

func newQueries(names *strings.Replacer) queries {
	r := strings.NewReplacer("{cols}", sessionCols)
	q := func(sql string) string { return names.Replace(r.Replace(sql)) }
	return queries{
		createSession: q(`INSERT INTO {sessions} ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		insertTags:    q(`INSERT IGNORE INTO {session_tags} (tag, session_id) VALUES %s`),
		tagged:        q(`SELECT session_id FROM {session_tags} WHERE tag = ?`),
		untag:         q(`DELETE FROM {session_tags} WHERE session_id IN (%s)`),
		session:       q(`SELECT {cols} FROM {sessions} WHERE id = ?`),
		sessionExists: q(`SELECT 1 FROM {sessions} WHERE id = ?`),
		touch:         q(`UPDATE {sessions} SET last_seen = ?, deadline = ? WHERE id = ? AND last_seen <= ?`),
		// SetDeadlines locks the rows of a batch, in the order of the
		// primary key as every locking read does, and reads what the
		// check needs.
		lockDeadlines: q(`SELECT id, last_seen, deadline FROM {sessions} FORCE INDEX (PRIMARY) WHERE id IN (%s) FOR UPDATE`),
		countAll:      q(`SELECT COUNT(*) FROM {sessions}`),
		countUser:     q(`SELECT COUNT(*) FROM {sessions} WHERE user_id = ?`),
		// address_idx (address, user_id) serves both, index only.
		countAddress:     q(`SELECT COUNT(*) FROM {sessions} FORCE INDEX (address_idx) WHERE address = ?`),
		countUserAddress: q(`SELECT COUNT(*) FROM {sessions} FORCE INDEX (address_idx) WHERE address = ? AND user_id = ?`),
		expired:          q(`SELECT {cols} FROM {sessions} FORCE INDEX (deadline_idx) WHERE deadline <= ? ORDER BY deadline, id LIMIT ?`),
		event:            q(`SELECT session_id, user_id, reason, at FROM {events} WHERE session_id = ? ORDER BY id DESC LIMIT 1`),
		deleteEvents:     q(`DELETE FROM {events} WHERE at < ? ORDER BY at, id LIMIT ?`),
		settings:         q(`SELECT version, doc FROM {settings} WHERE id = 1`),
		insertSettings:   q(`INSERT INTO {settings} (id, version, doc) VALUES (1, 1, ?)`),
		updateSettings:   q(`UPDATE {settings} SET version = version + 1, doc = ? WHERE id = 1 AND version = ?`),
		insertHistory:    q(`INSERT INTO {settings_history} (version, changed_at, doc) VALUES (?, ?, ?)`),
		maxHistory:       q(`SELECT COALESCE(MAX(version), 0) FROM {settings_history}`),
		// NULL, an unknown time, is before every time.
		deleteHistory: q(`DELETE FROM {settings_history} WHERE (changed_at IS NULL OR changed_at < ?) AND version < ?`),
		// The change log's numbers come from one row, updated in the
		// transaction that logs the change and locked until it commits:
		// numbers are handed out in commit order and without gaps.
		nextChange:   q(`UPDATE {change_seq} SET n = LAST_INSERT_ID(n + ?) WHERE id = 1`),
		lastChange:   q(`SELECT n FROM {change_seq} WHERE id = 1`),
		changesAfter: q(`SELECT id, kind, ended FROM {changes} WHERE id > ? ORDER BY id LIMIT ?`),
		pruneChanges: q(`DELETE FROM {changes} WHERE id <= ?`),
	}
}

// in returns n comma-separated placeholders.
func in(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// queryOne runs query, tried again as [retry] says, and returns its one
// row read by scan: [logout.ErrNotFound] when there is none. Errors read
// "mysqlstore: op: cause".
func queryOne[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), op, query string, args ...any) (T, error) {
	var x T
	err := retry(ctx, func() error {
		var err error
		x, err = scan(db.QueryRowContext(ctx, query, args...))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = logout.ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("mysqlstore: %s: %w", op, err)
	}
	return x, nil
}

// queryAll runs query, tried again as [retry] says, and returns its rows
// read by scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := retry(ctx, func() error {
		out = out[:0]
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			x, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, x)
		}
		return rows.Err()
	})
	return out, err
}

// A scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }
