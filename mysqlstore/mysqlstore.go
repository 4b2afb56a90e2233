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

// CountSessions implements [logout.Store] with COUNT(*): over the index
// on (user_id, created, id) for a user, on (address, user_id) for an
// address with or without a user, over the smallest index of the table
// (InnoDB keeps no row count) for all.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	query, args := s.q.countAll, []any(nil)
	switch {
	case opts.Address != "" && opts.UserID != "":
		query, args = s.q.countUserAddress, []any{opts.Address, opts.UserID}
	case opts.Address != "":
		query, args = s.q.countAddress, []any{opts.Address}
	case opts.UserID != "":
		query, args = s.q.countUser, []any{opts.UserID}
	}
	var n int
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: count sessions: %w", err)
	}
	return n, nil
}

// orderIndexes are the column that each order of ListSessions reads, and
// the index on it and id.
var orderIndexes = [...]struct{ col, index string }{
	logout.OldestFirst: {"created", "created_idx"},
	logout.NewestFirst: {"created", "created_idx"},
	logout.ActiveFirst: {"last_seen", "seen_idx"},
	logout.EndingFirst: {"deadline", "deadline_idx"},
}

// listQuery returns the statement and arguments of ListSessions for
// opts. Of all sessions, it walks the index of the order's column and id,
// forwards or backwards, from the cursor on: the OR of two ranges of the
// index, which MySQL and MariaDB read as index ranges (the row comparison
// (col, id) > (?, ?) they would not). A user's sessions are read from
// the index on (user_id, created, id), an address's from the one on
// (address, user_id); being few, they are sorted for the orders that the
// index does not give. The index is forced: for a user with many sessions
// MariaDB would rather look the user up (ref) and filter by the cursor,
// reading every session of the user before it.
func (s *Store) listQuery(opts logout.ListOptions) (string, []any) {
	o := orderIndexes[opts.Order]
	index := o.index
	switch {
	case opts.Address != "":
		index = "address_idx"
	case opts.UserID != "":
		index = "user_created_idx"
	}
	t, desc := opts.Order.Key(opts.After.Session())
	var b strings.Builder
	var args []any
	b.WriteString(s.names.Replace(`SELECT ` + sessionCols + ` FROM {sessions} FORCE INDEX (` + index + `) WHERE TRUE`))
	if opts.UserID != "" {
		b.WriteString(` AND user_id = ?`)
		args = append(args, opts.UserID)
	}
	if opts.Address != "" {
		b.WriteString(` AND address = ?`)
		args = append(args, opts.Address)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		b.WriteString(` AND (` + o.col + ` ` + cmp + ` ? OR (` + o.col + ` = ? AND id ` + cmp + ` ?))`)
		args = append(args, micros(t), micros(t), opts.After.ID)
	}
	b.WriteString(` ORDER BY ` + o.col + dir + `, id` + dir + ` LIMIT ?`)
	return b.String(), append(args, opts.Limit)
}

// ListSessions implements [logout.Store] (see listQuery): its cost grows
// with the page. IDs compare byte by byte, as in Go (the columns are
// binary strings). A limit of 0 or less returns none.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if !opts.Order.Valid() {
		return nil, fmt.Errorf("mysqlstore: list sessions: unknown order %d", opts.Order)
	}
	if opts.Limit <= 0 {
		return nil, nil
	}
	query, args := s.listQuery(opts)
	out, err := s.sessions(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: list sessions: %w", err)
	}
	return out, nil
}

// ExpiredSessions implements [logout.Store]. It reads the index on
// (deadline, id), so its cost grows with limit, not with the table; ties
// on Deadline come in ID order. A limit of 0 or less returns none.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := s.sessions(ctx, s.q.expired, micros(t), limit)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: expired sessions: %w", err)
	}
	return out, nil
}

// sessions runs a query of sessions.
func (s *Store) sessions(ctx context.Context, query string, args ...any) ([]logout.Session, error) {
	return queryAll(ctx, s.db, scanSession, query, args...)
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

// Event implements [logout.Store]: the event logged last for the session.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	return queryOne(ctx, s.db, scanEvent, "event", s.q.event, sessionID)
}

// Events implements [logout.EventLog]: newest first, ties newest logged
// (highest id) first. It reads the index on (user_id, at, id) when q
// names a user, else the one on (at, id), backwards from Until, so its
// cost grows with the events returned; a filter by reason also reads the
// events of the range that it skips.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	query, args := s.eventsQuery(q)
	out, err := queryAll(ctx, s.db, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: events: %w", err)
	}
	return out, nil
}

// eventsQuery returns the statement and arguments of Events for q.
func (s *Store) eventsQuery(q logout.EventQuery) (string, []any) {
	var b strings.Builder
	var args []any
	// The index whose order is the answer's, read backwards.
	index := "at_idx"
	if q.UserID != "" {
		index = "user_at_idx"
	}
	b.WriteString(s.names.Replace(`SELECT session_id, user_id, reason, at FROM {events} FORCE INDEX (` + index + `) WHERE TRUE`))
	if q.UserID != "" {
		b.WriteString(` AND user_id = ?`)
		args = append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND at >= ?`)
		args = append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND at < ?`)
		args = append(args, micros(q.Until))
	}
	if q.Reason != 0 {
		b.WriteString(` AND reason = ?`)
		args = append(args, q.Reason.String())
	}
	b.WriteString(` ORDER BY at DESC, id DESC LIMIT ?`)
	return b.String(), append(args, q.Limit)
}

func scanEvent(row scanner) (logout.Event, error) {
	var e logout.Event
	var reason string
	var at int64
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &at); err != nil {
		return e, err
	}
	e.At = fromMicros(at)
	var err error
	e.Reason, err = logout.ParseReason(reason)
	return e, err
}

// DeleteEvents implements [logout.Store]. It deletes [Options.PruneBatch]
// events per statement, oldest first, each statement its own transaction,
// until none is left: when ctx ends midway, the events already deleted
// stay deleted and their count comes back with the error.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := retry(ctx, func() error {
			res, err := s.db.ExecContext(ctx, s.q.deleteEvents, micros(before), s.batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("mysqlstore: delete events: %w", err)
		}
		total += int(n)
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	return queryOne(ctx, s.db, scanSettings, "settings", s.q.settings)
}

// scanSettings reads a version and its document.
func scanSettings(row scanner) (logout.Settings, error) {
	var st logout.Settings
	var version int64
	var doc []byte
	if err := row.Scan(&version, &doc); err != nil {
		return st, err
	}
	if err := st.UnmarshalJSON(doc); err != nil {
		return st, err
	}
	st.Version = version
	return st, nil
}

// errStale marks a save of a version that is not the stored one.
var errStale = errors.New("stale version")

// SaveSettings implements [logout.Store] in one transaction: a
// compare-and-set on the version (an INSERT of version 1, or an UPDATE
// of the stored version), the history entry, and the change-log entry
// that announces it to watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	old := st.Version
	st.Version = old + 1
	doc, err := st.MarshalJSON()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: %w", err)
	}
	var changed any // NULL for a zero ChangedAt
	if !st.ChangedAt.IsZero() {
		changed = micros(st.ChangedAt)
	}
	var logged span
	err = s.inTx(ctx, false, func(tx *sql.Tx) error {
		if old == 0 {
			if _, err := tx.ExecContext(ctx, s.q.insertSettings, doc); isDuplicate(err) {
				return errStale
			} else if err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, s.q.updateSettings, doc, old)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return errStale
			}
		}
		if _, err := tx.ExecContext(ctx, s.q.insertHistory, st.Version, changed, doc); err != nil {
			return err
		}
		var err error
		logged, err = s.logChanges(ctx, tx, []change{{kind: kindSettings}})
		return err
	})
	if errors.Is(err, errStale) {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: version %d is not the stored one: %w", old, logout.ErrConflict)
	}
	if err != nil {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: %w", err)
	}
	s.pruneChanges(ctx, logged)
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the primary
// key, version, backwards; a filter by time reads the versions it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var b strings.Builder
	var args []any
	b.WriteString(s.names.Replace(`SELECT version, doc FROM {settings_history} WHERE TRUE`))
	if q.Before > 0 {
		b.WriteString(` AND version < ?`)
		args = append(args, q.Before)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND changed_at >= ?`) // NULL, unknown, is before
		args = append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND (changed_at IS NULL OR changed_at < ?)`)
		args = append(args, micros(q.Until))
	}
	b.WriteString(` ORDER BY version DESC LIMIT ?`)
	args = append(args, q.Limit)
	out, err := queryAll(ctx, s.db, scanSettings, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: settings history: %w", err)
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore]: it reads the
// newest version, then deletes the older entries before t (MySQL cannot
// read the table it deletes from in one statement). A version saved
// between the two is newer still, so the newest entry always stays.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := retry(ctx, func() error {
		var newest int64
		if err := s.db.QueryRowContext(ctx, s.q.maxHistory).Scan(&newest); err != nil {
			return err
		}
		res, err := s.db.ExecContext(ctx, s.q.deleteHistory, micros(before), newest)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: delete settings history: %w", err)
	}
	return int(n), nil
}
