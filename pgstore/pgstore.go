package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxIdentifier is PostgreSQL's longest identifier in bytes (NAMEDATALEN-1);
// longer names would be cut silently.
const maxIdentifier = 63

// Options configure a [Store]. The zero Options are useful: every field
// states its default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables; New
	// creates it when missing. It is used as given (quoted, so case
	// counts) and must be 1 to 63 bytes. Default "logout".
	Schema string
	// Channel is the LISTEN/NOTIFY channel that announces changes. It is
	// used as given and must be at most 63 bytes. Default Schema +
	// "_changes" ("logout_changes"), so that stores in different schemas
	// of one database do not hear each other. Every Store on one schema
	// must use the same Channel.
	Channel string
	// PruneBatch is how many events [Store.DeleteEvents] deletes per
	// statement, so that pruning a long log never holds its locks for
	// long. Default 500.
	PruneBatch int
	// PingInterval is how long [Store.Watch] waits for a notification
	// before it pings its connection, and how long it waits for the
	// answer, so that a connection silenced by the network is noticed.
	// Default 15 s.
	PingInterval time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Schema == "" {
		o.Schema = "logout"
	}
	if o.Channel == "" {
		o.Channel = o.Schema + "_changes"
	}
	if o.PruneBatch == 0 {
		o.PruneBatch = 500
	}
	if o.PingInterval == 0 {
		o.PingInterval = 15 * time.Second
	}
	if err := checkIdentifier("Schema", o.Schema); err != nil {
		return o, err
	}
	if err := checkIdentifier("Channel", o.Channel); err != nil {
		return o, err
	}
	if o.PruneBatch < 0 {
		return o, errors.New("pgstore: PruneBatch must not be negative")
	}
	if o.PingInterval < 0 {
		return o, errors.New("pgstore: PingInterval must not be negative")
	}
	return o, nil
}

func checkIdentifier(field, name string) error {
	if len(name) > maxIdentifier {
		return fmt.Errorf("pgstore: %s %q is longer than %d bytes", field, name, maxIdentifier)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("pgstore: %s %q holds a NUL byte", field, name)
	}
	return nil
}

// A Store is a [logout.Store] and [logout.Watcher] kept in PostgreSQL. It
// is safe for concurrent use, and any number of Stores in any number of
// processes may share one schema. Make one with [New].
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	channel string
	batch   int
	ping    time.Duration
	q       queries
}

var (
	_ logout.Store   = (*Store)(nil)
	_ logout.Watcher = (*Store)(nil)
)

// New returns a Store on pool, with its tables in opts.Schema, after
// creating or upgrading them (see the package doc). It fails when opts are
// invalid, when the database cannot be reached, and with [ErrNewerSchema]
// when the schema is newer than this code. The caller keeps ownership of
// pool and closes it after the last use of the Store.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New needs a pool")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool:    pool,
		schema:  opts.Schema,
		channel: opts.Channel,
		batch:   opts.PruneBatch,
		ping:    opts.PingInterval,
		q:       newQueries(pgx.Identifier{opts.Schema}.Sanitize()),
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// queries holds the statements, with the quoted schema in place.
type queries struct {
	createSession, session, touch, expired           string
	setDeadlines, list, count                        string
	endPrefix, endSuffix                             string
	event, events, deleteEvents                      string
	settings, insertSettings, updateSettings, notify string
	history, deleteHistory                           string
}

const sessionCols = "id, user_id, user_name, roles, created, last_seen, deadline, user_agent, address, tags"

func newQueries(schema string) queries {
	r := strings.NewReplacer("{s}", schema, "{cols}", sessionCols)
	q := func(sql string) string { return r.Replace(sql) }
	return queries{
		createSession: q(`INSERT INTO {s}.sessions ({cols}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		session:       q(`SELECT {cols} FROM {s}.sessions WHERE id = $1`),
		// One round trip: touch if not older, else tell whether the
		// session exists at all.
		touch: q(`WITH u AS (
	UPDATE {s}.sessions SET last_seen = $2, deadline = $3
	WHERE id = $1 AND last_seen <= $2
	RETURNING 1
)
SELECT EXISTS (SELECT FROM u) OR EXISTS (SELECT FROM {s}.sessions WHERE id = $1)`),
		// One statement for the whole batch: each row of the arrays
		// updates its session, found by the primary key, if last_seen
		// is still the one the deadline was computed from.
		setDeadlines: q(`UPDATE {s}.sessions AS s SET deadline = u.deadline
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(id, seen, deadline)
WHERE s.id = u.id AND s.last_seen = u.seen`),
		// ListSessions and CountSessions add their WHERE clause (and
		// ListSessions its order and limit): see listQuery.
		list:  q(`SELECT {cols} FROM {s}.sessions WHERE true`),
		count: q(`SELECT count(*) FROM {s}.sessions WHERE true`),
		// Served by the index on (deadline, id): it reads only the rows
		// it returns.
		expired: q(`SELECT {cols} FROM {s}.sessions WHERE deadline <= $1 ORDER BY deadline, id LIMIT $2`),
		// EndSessions puts the selection's WHERE clause between prefix
		// and suffix; $1 is the reason, $2 the time.
		endPrefix: q(`WITH d AS (
	DELETE FROM {s}.sessions WHERE `),
		endSuffix: q(`
	RETURNING id, user_id
)
INSERT INTO {s}.events (session_id, user_id, reason, at)
SELECT id, user_id, $1, $2 FROM d
RETURNING session_id, user_id, reason, at`),
		event: q(`SELECT session_id, user_id, reason, at FROM {s}.events WHERE session_id = $1 ORDER BY id DESC LIMIT 1`),
		// Events adds its WHERE clause between the two; the order is that
		// of the index on (at, id), or on (user_id, at, id), read
		// backwards.
		events: q(`SELECT session_id, user_id, reason, at FROM {s}.events WHERE true`),
		deleteEvents: q(`WITH d AS (
	DELETE FROM {s}.events WHERE id IN (SELECT id FROM {s}.events WHERE at < $1 LIMIT $2)
	RETURNING 1
)
SELECT count(*) FROM d`),
		settings: q(`SELECT version, doc FROM {s}.settings`),
		// A save and its history entry in one statement: both or
		// neither. The last parameter is ChangedAt, NULL when zero.
		insertSettings: q(`WITH i AS (
	INSERT INTO {s}.settings (version, doc) VALUES (1, $1) ON CONFLICT DO NOTHING RETURNING version, doc
), h AS (
	INSERT INTO {s}.settings_history (version, changed_at, doc) SELECT version, $4, doc FROM i RETURNING version
)
SELECT version, pg_notify($2, $3) FROM h`),
		updateSettings: q(`WITH u AS (
	UPDATE {s}.settings SET version = version + 1, doc = $1 WHERE version = $2 RETURNING version, doc
), h AS (
	INSERT INTO {s}.settings_history (version, changed_at, doc) SELECT version, $5, doc FROM u RETURNING version
)
SELECT version, pg_notify($3, $4) FROM h`),
		// SettingsHistory adds its WHERE clause; the primary key read
		// backwards. An unknown time (NULL) is before every time.
		history: q(`SELECT version, doc FROM {s}.settings_history WHERE true`),
		deleteHistory: q(`DELETE FROM {s}.settings_history
WHERE coalesce(changed_at, '-infinity') < $1 AND version < (SELECT max(version) FROM {s}.settings_history)`),
		notify: `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`,
	}
}

// CreateSession implements [logout.Store].
func (s *Store) CreateSession(ctx context.Context, x logout.Session) error {
	_, err := s.pool.Exec(ctx, s.q.createSession, x.ID, x.UserID, x.UserName, notNil(x.Roles), x.Created, x.LastSeen, x.Deadline,
		x.UserAgent, x.Address, notNil(x.Tags))
	if isUniqueViolation(err) {
		return fmt.Errorf("pgstore: create session: %w", logout.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create session: %w", err)
	}
	return nil
}

// notNil returns a, or an empty slice for nil: a NOT NULL array column
// would receive nil as NULL.
func notNil(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

// Session implements [logout.Store].
func (s *Store) Session(ctx context.Context, id string) (logout.Session, error) {
	rows, _ := s.pool.Query(ctx, s.q.session, id)
	x, err := pgx.CollectExactlyOneRow(rows, scanSession)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Session{}, fmt.Errorf("pgstore: session: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Session{}, fmt.Errorf("pgstore: session: %w", err)
	}
	return x, nil
}

// TouchSession implements [logout.Store] in one statement: it updates the
// row only if seen is not before the stored LastSeen, and reports
// [logout.ErrNotFound] only when the row is gone.
func (s *Store) TouchSession(ctx context.Context, id string, seen, deadline time.Time) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, s.q.touch, id, seen, deadline).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: touch session: %w", err)
	}
	if !exists {
		return fmt.Errorf("pgstore: touch session: %w", logout.ErrNotFound)
	}
	return nil
}

// SetDeadlines implements [logout.SessionStore] in one statement, an
// UPDATE joined to the updates sent as three arrays, so a batch costs
// one round trip and one commit, and is all or nothing. A session whose
// row another transaction is updating is checked against that row's
// newest version once it commits (READ COMMITTED), so newer activity is
// never overwritten.
func (s *Store) SetDeadlines(ctx context.Context, updates []logout.DeadlineUpdate) (int, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	ids := make([]string, len(updates))
	seen := make([]time.Time, len(updates))
	deadlines := make([]time.Time, len(updates))
	for i, u := range updates {
		ids[i], seen[i], deadlines[i] = u.ID, u.Seen, u.Deadline
	}
	tag, err := s.pool.Exec(ctx, s.q.setDeadlines, ids, seen, deadlines)
	if err != nil {
		return 0, fmt.Errorf("pgstore: set deadlines: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CountSessions implements [logout.Store] with count(*) over an index:
// the one on (user_id, created, id) for a user, on (address, created, id)
// for an address (index-only scans once vacuumed); for both, PostgreSQL
// reads the rows of one of them and checks the other.
func (s *Store) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	query, args := s.countQuery(opts)
	var n int
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count sessions: %w", err)
	}
	return n, nil
}

// ListSessions implements [logout.Store] with keyset pages: the order's
// columns and the row comparison (col, id) > (cursor) (< for a
// descending order) make each page a range of an index read in its order,
// from the cursor on, so its cost grows with the page: (created, id) for
// OldestFirst and, read backwards, NewestFirst; (last_seen, id) backwards
// for ActiveFirst; (deadline, id) for EndingFirst; (user_id, created, id)
// and (address, created, id) for a user's or an address's sessions by
// creation. A user's or an address's sessions in the other orders, and a
// user's at an address, are read and sorted, being few (see listQuery). IDs compare byte by byte, as in Go,
// whatever the database's collation. A limit of 0 or less returns none.
func (s *Store) ListSessions(ctx context.Context, opts logout.ListOptions) ([]logout.Session, error) {
	if opts.Limit <= 0 {
		return nil, nil
	}
	query, args := s.listQuery(opts)
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list sessions: %w", err)
	}
	return out, nil
}

// filter adds the conditions on user and address of opts.
func (c *clauses) filter(opts logout.ListOptions) {
	if opts.UserID != "" {
		c.add(` AND user_id = $%d`, opts.UserID)
	}
	if opts.Address != "" {
		c.add(` AND address = $%d`, opts.Address)
	}
}

// countQuery returns the statement and arguments of CountSessions.
func (s *Store) countQuery(opts logout.ListOptions) (string, []any) {
	c := &clauses{}
	c.b.WriteString(s.q.count)
	c.filter(opts)
	return c.b.String(), c.args
}

// orderColumn returns the column that o sorts by, and whether it sorts
// descending. An undefined order sorts as OldestFirst.
func orderColumn(o logout.SessionOrder) (col string, desc bool) {
	switch o {
	case logout.NewestFirst:
		return "created", true
	case logout.ActiveFirst:
		return "last_seen", true
	case logout.EndingFirst:
		return "deadline", false
	}
	return "created", false
}

// listQuery returns the statement and arguments of ListSessions: one of
// a few dozen texts (by order, filters and cursor), so that pgx prepares
// each once.
//
// The sessions of a user or an address in an order by activity or
// deadline, or of a user at an address, are first read whole through the
// user's or the address's index (a MATERIALIZED CTE), then sorted: a
// plan that walked the order's index and filtered its rows, as a generic
// plan may choose, would read every session for a user with few.
func (s *Store) listQuery(opts logout.ListOptions) (string, []any) {
	c := &clauses{}
	col, desc := orderColumn(opts.Order)
	if (opts.UserID != "" || opts.Address != "") && (col != "created" || (opts.UserID != "" && opts.Address != "")) {
		c.b.WriteString("WITH m AS MATERIALIZED (" + s.q.list)
		c.filter(opts)
		c.b.WriteString(") SELECT * FROM m WHERE true")
	} else {
		c.b.WriteString(s.q.list)
		c.filter(opts)
	}
	cmp, dir := ">", ""
	if desc {
		cmp, dir = "<", " DESC"
	}
	if !opts.After.IsZero() {
		t, _ := opts.Order.Key(opts.After.Session())
		c.args = append(c.args, t, opts.After.ID)
		fmt.Fprintf(&c.b, ` AND (%s, id) %s ($%d, $%d)`, col, cmp, len(c.args)-1, len(c.args))
	}
	fmt.Fprintf(&c.b, ` ORDER BY %s%s, id%s`, col, dir, dir)
	c.add(` LIMIT $%d`, opts.Limit)
	return c.b.String(), c.args
}

// ExpiredSessions implements [logout.Store]. It reads the index on
// (deadline, id), so its cost grows with limit, not with the table; ties
// on Deadline come in ID order. A limit of 0 or less returns none.
func (s *Store) ExpiredSessions(ctx context.Context, t time.Time, limit int) ([]logout.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, s.q.expired, t, limit)
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("pgstore: expired sessions: %w", err)
	}
	return out, nil
}

func scanSession(row pgx.CollectableRow) (logout.Session, error) {
	var x logout.Session
	err := row.Scan(&x.ID, &x.UserID, &x.UserName, &x.Roles, &x.Created, &x.LastSeen, &x.Deadline,
		&x.UserAgent, &x.Address, &x.Tags)
	if len(x.Roles) == 0 {
		x.Roles = nil
	}
	if len(x.Tags) == 0 {
		x.Tags = nil
	}
	x.Created, x.LastSeen, x.Deadline = x.Created.UTC(), x.LastSeen.UTC(), x.Deadline.UTC()
	return x, err
}

// EndSessions implements [logout.Store]. One transaction deletes the
// selected sessions, logs their events and announces their IDs to
// watchers; concurrent calls that select the same session wait for each
// other's row lock, so exactly one of them ends it. It refuses an invalid
// selector or reason before touching anything.
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("pgstore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("pgstore: end sessions: invalid reason %v", reason)
	}
	sql, args := s.endQuery(sel, reason, at)
	var out []logout.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, sql, args...)
		var err error
		out, err = pgx.CollectRows(rows, scanEvent)
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.SessionID
		}
		_, err = tx.Exec(ctx, s.q.notify, s.channel, endedPayloads(ids))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: end sessions: %w", err)
	}
	return out, nil
}

// endQuery returns the statement that ends the sessions sel selects, with
// its arguments.
func (s *Store) endQuery(sel logout.Selector, reason logout.Reason, at time.Time) (string, []any) {
	args := []any{reason.String(), at}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var b strings.Builder
	b.WriteString(s.q.endPrefix)
	switch {
	case len(sel.IDs) > 0:
		b.WriteString("id = ANY(" + arg(sel.IDs) + ")")
	case sel.UserID != "":
		b.WriteString("user_id = " + arg(sel.UserID))
	case sel.Tag != "":
		// The GIN index on tags finds them.
		b.WriteString("tags @> ARRAY[" + arg(sel.Tag) + "::text]")
	default: // sel.All
		b.WriteString("true")
	}
	if sel.Except != "" {
		b.WriteString(" AND id <> " + arg(sel.Except))
	}
	if !sel.SeenBy.IsZero() {
		b.WriteString(" AND last_seen <= " + arg(sel.SeenBy))
	}
	b.WriteString(s.q.endSuffix)
	return b.String(), args
}

// Event implements [logout.Store]: the event logged last for the session.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	rows, _ := s.pool.Query(ctx, s.q.event, sessionID)
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Event{}, fmt.Errorf("pgstore: event: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Event{}, fmt.Errorf("pgstore: event: %w", err)
	}
	return e, nil
}

// clauses builds the end of a statement with numbered parameters.
type clauses struct {
	b    strings.Builder
	args []any
}

// add appends sql, whose %d is the number of the parameter arg.
func (c *clauses) add(sql string, arg any) {
	c.args = append(c.args, arg)
	fmt.Fprintf(&c.b, sql, len(c.args))
}

// Events implements [logout.EventLog]: newest first, ties newest
// logged (highest id) first. It reads the index on (user_id, at, id)
// when q names a user, else the one on (at, id), backwards from Until, so
// its cost grows with the events returned; a filter by reason also reads
// the events of the range that it skips.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	query, args := s.eventsQuery(q)
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("pgstore: events: %w", err)
	}
	return out, nil
}

// eventsQuery returns the statement and arguments of Events for q.
func (s *Store) eventsQuery(q logout.EventQuery) (string, []any) {
	c := &clauses{}
	c.b.WriteString(s.q.events)
	cond := c.add
	if q.UserID != "" {
		cond(` AND user_id = $%d`, q.UserID)
	}
	if !q.Since.IsZero() {
		cond(` AND at >= $%d`, q.Since)
	}
	if !q.Until.IsZero() {
		cond(` AND at < $%d`, q.Until)
	}
	if q.Reason != 0 {
		cond(` AND reason = $%d`, q.Reason.String())
	}
	cond(` ORDER BY at DESC, id DESC LIMIT $%d`, q.Limit)
	return c.b.String(), c.args
}

func scanEvent(row pgx.CollectableRow) (logout.Event, error) {
	var e logout.Event
	var reason string
	if err := row.Scan(&e.SessionID, &e.UserID, &reason, &e.At); err != nil {
		return e, err
	}
	e.At = e.At.UTC()
	var err error
	e.Reason, err = logout.ParseReason(reason)
	return e, err
}

// DeleteEvents implements [logout.Store]. It deletes [Options.PruneBatch]
// events per statement, each in its own transaction, until none is left:
// when ctx ends midway, the events already deleted stay deleted and their
// count comes back with the error.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int
		if err := s.pool.QueryRow(ctx, s.q.deleteEvents, before, s.batch).Scan(&n); err != nil {
			return total, fmt.Errorf("pgstore: delete events: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	var version int64
	var doc []byte
	err := s.pool.QueryRow(ctx, s.q.settings).Scan(&version, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", err)
	}
	var st logout.Settings
	if err := st.UnmarshalJSON(doc); err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", err)
	}
	st.Version = version
	return st, nil
}

// SaveSettings implements [logout.Store] as a compare-and-set on the
// version in one statement, which also appends the saved settings to
// settings_history and announces the change to watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	old := st.Version
	st.Version = old + 1
	doc, err := st.MarshalJSON()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: %w", err)
	}
	var changed any // NULL for a zero ChangedAt
	if !st.ChangedAt.IsZero() {
		changed = st.ChangedAt
	}
	var row pgx.Row
	if old == 0 {
		row = s.pool.QueryRow(ctx, s.q.insertSettings, json.RawMessage(doc), s.channel, settingsPayload, changed)
	} else {
		row = s.pool.QueryRow(ctx, s.q.updateSettings, json.RawMessage(doc), old, s.channel, settingsPayload, changed)
	}
	if err := row.Scan(&st.Version, nil); errors.Is(err, pgx.ErrNoRows) {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: version %d is not the stored one: %w", old, logout.ErrConflict)
	} else if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: %w", err)
	}
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the primary
// key, version, backwards; a filter by time reads the versions it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	c := &clauses{}
	c.b.WriteString(s.q.history)
	cond := c.add
	if q.Before > 0 {
		cond(` AND version < $%d`, q.Before)
	}
	if !q.Since.IsZero() {
		cond(` AND coalesce(changed_at, '-infinity') >= $%d`, q.Since)
	}
	if !q.Until.IsZero() {
		cond(` AND coalesce(changed_at, '-infinity') < $%d`, q.Until)
	}
	cond(` ORDER BY version DESC LIMIT $%d`, q.Limit)
	rows, _ := s.pool.Query(ctx, c.b.String(), c.args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (logout.Settings, error) {
		var (
			st      logout.Settings
			version int64
			doc     []byte
		)
		if err := row.Scan(&version, &doc); err != nil {
			return st, err
		}
		if err := st.UnmarshalJSON(doc); err != nil {
			return st, err
		}
		st.Version = version
		return st, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: settings history: %w", err)
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore] in one
// statement.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q.deleteHistory, before)
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete settings history: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
