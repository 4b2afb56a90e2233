package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configure a [Store]. The zero Options is ready to use; every
// field states its default.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by
	// another connection, typically another process sharing the file,
	// before it fails. Default (0): 5 seconds. It is rounded down to the
	// millisecond.
	BusyTimeout time.Duration
	// MaxOpenConns caps the connections that read concurrently. Writes
	// always go through one more connection of their own, so that writers
	// in one process queue in Go rather than fail on SQLite's lock.
	// Default (0): runtime.GOMAXPROCS(0), at least 2.
	MaxOpenConns int
	// PollInterval is how often [Store.Watch] asks SQLite whether another
	// connection, of this process or another, wrote to the file, and so
	// about the most that a change takes to be announced. Default (0):
	// 200 ms.
	PollInterval time.Duration
}

const (
	defaultBusyTimeout  = 5 * time.Second
	defaultPollInterval = 200 * time.Millisecond
)

// A Store is a [logout.Store] kept in an SQLite database file. It is safe
// for concurrent use, and several processes may share one file on a local
// disk (not a network file system: SQLite's WAL mode needs shared memory).
//
// Reads run concurrently on a pool of read-only connections; writes run one
// at a time on a single connection, each in its own transaction, which is
// what SQLite allows anyway. Create one with [New] and release it with
// [Store.Close].
type Store struct {
	r, w *sql.DB // read pool; the single write connection

	// Prepared statements for the request path.
	getSession, touchSession, createSession, setDeadline *sql.Stmt

	// readDSN opens a read-only connection, for Watch; poll is how often
	// Watch looks for changes.
	readDSN string
	poll    time.Duration
}

var (
	_ logout.Store   = (*Store)(nil)
	_ logout.Watcher = (*Store)(nil)
)

// New opens the SQLite database at path, creating the file if it is
// missing (its directory must exist), and brings its schema up to
// [SchemaVersion]. It fails with an error wrapping [ErrSchemaTooNew] if a
// newer version of this package wrote the file. ctx bounds the opening
// and the migration only.
//
// path is a file name, not a DSN or URI; ":memory:" is refused (use
// [logout.NewMemoryStore]). Every connection runs with journal_mode=WAL,
// synchronous=NORMAL, foreign_keys=ON and the busy timeout of opts.
func New(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: not a file name", path)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	conns := opts.MaxOpenConns
	if conns <= 0 {
		conns = max(runtime.GOMAXPROCS(0), 2)
	}
	name, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	common := "_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

	// The write connection is opened and migrated first: it turns the file
	// to WAL mode (a persistent setting) before any reader connects.
	w, err := sql.Open("sqlite", name+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	readDSN := name + "?" + common + "&_pragma=query_only(1)"
	r, err := sql.Open("sqlite", readDSN)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(conns)
	r.SetMaxIdleConns(conns)
	poll := opts.PollInterval
	if poll <= 0 {
		poll = defaultPollInterval
	}
	s := &Store{r: r, w: w, readDSN: readDSN, poll: poll}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

// fileURI returns path as an SQLite "file:" URI, so that no character of
// the name is taken for a DSN parameter.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") { // a Windows volume: file:/C:/dir/file
		p = "/" + p
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p), nil
}

const sessionColumns = `id, user_id, user_name, roles, created, last_seen, deadline, user_agent, address, tags`

// The queries of the request path and the sweeper, each served by an
// index (see the EXPLAIN QUERY PLAN test).
const (
	sessionQuery = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`
	// The counts of CountSessions: of everyone, of a user (sessions_user),
	// of an address, of a user at an address (sessions_address).
	countAllQuery         = `SELECT count(*) FROM sessions`
	countUserQuery        = `SELECT count(*) FROM sessions WHERE user_id = ?`
	countAddressQuery     = `SELECT count(*) FROM sessions WHERE address = ?`
	countUserAddressQuery = `SELECT count(*) FROM sessions WHERE address = ? AND user_id = ?`

	eventQuery        = `SELECT session_id, user_id, reason, at FROM events WHERE session_id = ? ORDER BY id DESC LIMIT 1`
	expiredQuery      = `SELECT ` + sessionColumns + ` FROM sessions WHERE deadline <= ? ORDER BY deadline, id LIMIT ?`
	deleteEventsQuery = `DELETE FROM events WHERE at < ?`
)

func (s *Store) prepare(ctx context.Context) error {
	var err error
	prep := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, query)
		return st
	}
	s.getSession = prep(s.r, sessionQuery)
	s.touchSession = prep(s.w, touchQuery)
	s.createSession = prep(s.w, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	s.setDeadline = prep(s.w, setDeadlineQuery)
	return err
}

// touchQuery moves last_seen and deadline only forward, and matches the
// row whenever it exists, so that no change still counts one row.
const touchQuery = `UPDATE sessions SET
	deadline  = CASE WHEN last_seen <= ?2 THEN ?3 ELSE deadline END,
	last_seen = max(last_seen, ?2)
WHERE id = ?1`

// setDeadlineQuery sets one session's deadline if its last_seen is still
// the one the deadline was computed from; served by the primary key.
const setDeadlineQuery = `UPDATE sessions SET deadline = ?3 WHERE id = ?1 AND last_seen = ?2`

// Close closes the database. Calls in progress may fail; no method may be
// called after Close.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.getSession, s.touchSession, s.createSession, s.setDeadline} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.r.Close(), s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// encodeList returns a list of strings, the roles or tags of a session,
// as a JSON array.
func encodeList(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

func decodeList(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	return list, nil
}

type scanner interface{ Scan(dest ...any) error }

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

// CountSessions implements [logout.Store]. It counts the entries of an
// index (sessions_user for a user, sessions_address for an address)
// without reading the sessions.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	var row *sql.Row
	switch {
	case opts.UserID == "" && opts.Address == "":
		row = s.r.QueryRowContext(ctx, countAllQuery)
	case opts.Address == "":
		row = s.r.QueryRowContext(ctx, countUserQuery, opts.UserID)
	case opts.UserID == "":
		row = s.r.QueryRowContext(ctx, countAddressQuery, opts.Address)
	default:
		row = s.r.QueryRowContext(ctx, countUserAddressQuery, opts.Address, opts.UserID)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count sessions: %w", err)
	}
	return n, nil
}

// orderColumns are the column that each order of ListSessions reads.
var orderColumns = [...]string{
	logout.OldestFirst: "created",
	logout.NewestFirst: "created",
	logout.ActiveFirst: "last_seen",
	logout.EndingFirst: "deadline",
}

// listQuery returns the SELECT of ListSessions for opts, with its
// arguments. Of all sessions, it walks the index of the order's column
// and id (sessions_created, sessions_seen, sessions_deadline), forwards
// or backwards, from the cursor on: (col, id) > (?, ?) is a row value
// that SQLite serves as a range of the index, so the cost grows with the
// page. A user's sessions come from sessions_user, an address's from
// sessions_address: being few, they are sorted when the index is not in
// the order.
func listQuery(opts logout.ListOptions) (string, []any) {
	col := orderColumns[opts.Order]
	t, desc := opts.Order.Key(opts.After.Session())
	var (
		where []string
		args  []any
	)
	if opts.UserID != "" {
		where, args = append(where, `user_id = ?`), append(args, opts.UserID)
	}
	if opts.Address != "" {
		where, args = append(where, `address = ?`), append(args, opts.Address)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		where, args = append(where, `(`+col+`, id) `+cmp+` (?, ?)`), append(args, micros(t), opts.After.ID)
	}
	query := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY ` + col + dir + `, id` + dir + ` LIMIT ?`, append(args, opts.Limit)
}

// ListSessions implements [logout.Store] (see listQuery). IDs compare
// byte by byte, as Go compares strings.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if !opts.Order.Valid() {
		return nil, fmt.Errorf("sqlitestore: list sessions: unknown order %d", opts.Order)
	}
	if opts.Limit <= 0 { // SQLite reads a negative LIMIT as none
		return nil, nil
	}
	query, args := listQuery(opts)
	out, err := querySessions(ctx, s.r, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	return out, nil
}

// ExpiredSessions implements [logout.Store]. It reads the index on the
// deadline, so its cost grows with the sessions it returns.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 { // SQLite reads a negative LIMIT as none
		return nil, nil
	}
	out, err := querySessions(ctx, s.r, expiredQuery, micros(t), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: expired sessions: %w", err)
	}
	return out, nil
}

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

func scanEvent(row scanner) (logout.Event, error) {
	var (
		e      logout.Event
		reason string
		at     int64
	)
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &at); err != nil {
		return logout.Event{}, err
	}
	r, err := logout.ParseReason(reason)
	if err != nil {
		return logout.Event{}, err
	}
	e.Reason, e.At = r, fromMicros(at)
	return e, nil
}

// Event implements [logout.Store]. The newest event is the last one
// logged.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	e, err := scanEvent(s.r.QueryRowContext(ctx, eventQuery, sessionID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return logout.Event{}, logout.ErrNotFound
	case err != nil:
		return logout.Event{}, fmt.Errorf("sqlitestore: event: %w", err)
	}
	return e, nil
}

// eventsQuery returns the SELECT of Events for q: served by events_user
// (user_id, at) when q names a user, else by events_at (at); both hold
// the rowid id, so ties in at come newest logged first without a sort. A
// filter by reason reads the events of the range that it skips.
func eventsQuery(q logout.EventQuery) (string, []any) {
	var (
		where []string
		args  []any
	)
	if q.UserID != "" {
		where, args = append(where, `user_id = ?`), append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, `at >= ?`), append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, `at < ?`), append(args, micros(q.Until))
	}
	if q.Reason != 0 {
		where, args = append(where, `reason = ?`), append(args, q.Reason.String())
	}
	query := `SELECT session_id, user_id, reason, at FROM events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY at DESC, id DESC LIMIT ?`, append(args, q.Limit)
}

// Events implements [logout.EventLog]: newest first, ties newest logged
// (highest id) first, read from an index in that order (see eventsQuery).
func (s *Store) Events(ctx context.Context, q logout.EventQuery) (_ []logout.Event, err error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: events: %w", err)
		}
	}()
	query, args := eventsQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []logout.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// DeleteEvents implements [logout.Store].
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, deleteEventsQuery, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete events: %w", err)
	}
	return int(n), nil
}

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	var (
		version int64
		data    string
	)
	err := s.r.QueryRowContext(ctx, `SELECT version, data FROM settings WHERE id = 1`).Scan(&version, &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return logout.Settings{}, logout.ErrNotFound
	case err != nil:
		return logout.Settings{}, fmt.Errorf("sqlitestore: settings: %w", err)
	}
	var st logout.Settings
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		return logout.Settings{}, fmt.Errorf("sqlitestore: settings: %w", err)
	}
	st.Version = version
	return st, nil
}

// SaveSettings implements [logout.Store]: one transaction saves the
// settings, appends them to settings_history and announces the save in
// the change log. A stale st.Version is [logout.ErrConflict].
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (_ logout.Settings, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: save settings: %w", err)
		}
	}()
	old := st.Version
	st.Version++
	data, err := json.Marshal(st)
	if err != nil {
		return logout.Settings{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return logout.Settings{}, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var res sql.Result
	if old == 0 {
		res, err = tx.ExecContext(ctx,
			`INSERT INTO settings (id, version, data) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`, st.Version, string(data))
	} else {
		res, err = tx.ExecContext(ctx,
			`UPDATE settings SET version = ?, data = ? WHERE id = 1 AND version = ?`, st.Version, string(data), old)
	}
	if err != nil {
		return logout.Settings{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return logout.Settings{}, err
	}
	if n == 0 {
		return logout.Settings{}, fmt.Errorf("version %d is not the stored version: %w", old, logout.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings_history (version, changed_at, data) VALUES (?, ?, ?)`,
		st.Version, micros(st.ChangedAt), string(data)); err != nil {
		return logout.Settings{}, err
	}
	if err := logChanges(ctx, tx, kindSettings, nil); err != nil {
		return logout.Settings{}, err
	}
	if err := tx.Commit(); err != nil {
		return logout.Settings{}, err
	}
	return st, nil
}

// historyQuery returns the SELECT of SettingsHistory for q, which reads
// the primary key, version, downwards.
func historyQuery(q logout.HistoryQuery) (string, []any) {
	var (
		where []string
		args  []any
	)
	if q.Before > 0 {
		where, args = append(where, `version < ?`), append(args, q.Before)
	}
	if !q.Since.IsZero() {
		where, args = append(where, `changed_at >= ?`), append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, `changed_at < ?`), append(args, micros(q.Until))
	}
	query := `SELECT version, data FROM settings_history`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY version DESC LIMIT ?`, append(args, q.Limit)
}

// SettingsHistory implements [logout.SettingsStore].
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) (_ []logout.Settings, err error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: settings history: %w", err)
		}
	}()
	query, args := historyQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []logout.Settings
	for rows.Next() {
		var (
			st   logout.Settings
			v    int64
			data string
		)
		if err := rows.Scan(&v, &data); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			return nil, fmt.Errorf("version %d: %w", v, err)
		}
		st.Version = v
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// deleteHistoryQuery prunes settings_history, keeping the newest entry.
const deleteHistoryQuery = `DELETE FROM settings_history
WHERE changed_at < ? AND version < (SELECT max(version) FROM settings_history)`

// DeleteSettingsHistory implements [logout.SettingsStore].
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, deleteHistoryQuery, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete settings history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete settings history: %w", err)
	}
	return int(n), nil
}
