package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
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
