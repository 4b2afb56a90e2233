package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
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
