package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrNewerSchema is returned by [New] when the database's tables were
// upgraded by a newer version of this package than the running one: the
// code must be upgraded too, since it cannot know what changed.
var ErrNewerSchema = errors.New("mysqlstore: database schema is newer than this code")

// tableOptions ends every CREATE TABLE: InnoDB for transactions and row
// locks, utf8mb4 with a binary collation for the text columns, whatever
// the database's defaults.
const tableOptions = ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`

// migrations are the schema's versions in order: migrations[i] takes it
// from version i to i+1, one statement at a time, with {name} standing
// for the quoted name of a table (see [tables]). MySQL commits DDL
// statement by statement, so a step that fails halfway is run again
// from its start: every statement of a step must be safe to repeat (IF
// NOT EXISTS, INSERT IGNORE), or be an ADD COLUMN, whose repeat fails as
// a duplicate column, which [Store.upgrade] takes as done (MySQL has no
// ADD COLUMN IF NOT EXISTS). Steps are only ever appended; a released
// step never changes.
var migrations = [][]string{
	// 1: sessions, the sign-out log, the settings and their history,
	// and the change log that Watch polls.
	{
		`CREATE TABLE IF NOT EXISTS {sessions} (
	id        VARBINARY(255) NOT NULL,
	user_id   VARBINARY(255) NOT NULL,
	roles     TEXT NOT NULL,
	created   BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	deadline  BIGINT NOT NULL,
	PRIMARY KEY (id),
	KEY deadline_idx (deadline, id),
	KEY created_idx (created, id),
	KEY user_created_idx (user_id, created, id)
)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS {events} (
	id         BIGINT NOT NULL AUTO_INCREMENT,
	session_id VARBINARY(255) NOT NULL,
	user_id    VARBINARY(255) NOT NULL,
	reason     VARCHAR(16) NOT NULL,
	at         BIGINT NOT NULL,
	PRIMARY KEY (id),
	KEY session_idx (session_id, id),
	KEY at_idx (at, id),
	KEY user_at_idx (user_id, at, id)
)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS {settings} (
	id      TINYINT NOT NULL,
	version BIGINT NOT NULL,
	doc     MEDIUMTEXT NOT NULL,
	PRIMARY KEY (id)
)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS {settings_history} (
	version    BIGINT NOT NULL,
	changed_at BIGINT NULL,
	doc        MEDIUMTEXT NOT NULL,
	PRIMARY KEY (version)
)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS {changes} (
	id    BIGINT NOT NULL,
	kind  VARCHAR(8) NOT NULL,
	ended MEDIUMTEXT NULL,
	PRIMARY KEY (id)
)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS {change_seq} (
	id TINYINT NOT NULL,
	n  BIGINT NOT NULL,
	PRIMARY KEY (id)
)` + tableOptions,
		`INSERT IGNORE INTO {change_seq} (id, n) VALUES (1, 0)`,
	},
	// 2: the name of the session's user, for the widget; empty for the
	// sessions already there, and for the sessions that an older version
	// of the code creates. A TEXT column takes a default only as an
	// expression in MySQL (8.0.13 and later), which MariaDB reads too.
	// MariaDB adds the column without rewriting a row; MySQL cannot add
	// one with an expression default instantly, and rebuilds the table
	// in place, with reads and writes going on.
	{
		"ALTER TABLE {sessions} ADD COLUMN user_name TEXT NOT NULL DEFAULT ('')",
	},
	// 3: the session's device, address and tags, empty for the sessions
	// already there; an index for the ActiveFirst order of ListSessions
	// and one on the address, in one ALTER TABLE, which applies whole or
	// not at all (a repeat fails as a duplicate column, taken as done);
	// the tags again in session_tags, where an end by tag looks them up.
	{
		"ALTER TABLE {sessions} ADD COLUMN user_agent TEXT NOT NULL DEFAULT (''), " +
			"ADD COLUMN address VARBINARY(255) NOT NULL DEFAULT '', " +
			"ADD COLUMN tags TEXT NOT NULL DEFAULT ('[]'), " +
			"ADD KEY seen_idx (last_seen, id), " +
			"ADD KEY address_idx (address, user_id)",
		`CREATE TABLE IF NOT EXISTS {session_tags} (
	tag        VARBINARY(255) NOT NULL,
	session_id VARBINARY(255) NOT NULL,
	PRIMARY KEY (tag, session_id),
	KEY session_idx (session_id)
)` + tableOptions,
	},
}

// tables are the names of the store's tables without the prefix, by
// the placeholder that stands for them in statements.
var tables = map[string]string{
	"{sessions}":         "logout_sessions",
	"{session_tags}":     "logout_session_tags",
	"{events}":           "logout_events",
	"{settings}":         "logout_settings",
	"{settings_history}": "logout_settings_history",
	"{changes}":          "logout_changes",
	"{change_seq}":       "logout_change_seq",
	"{schema_version}":   "logout_schema_version",
}

// longestTable is the length of the longest name in tables: with the
// prefix it must fit MySQL's 64 bytes.
const longestTable = len("logout_settings_history")

// namer returns a replacer of the placeholders of tables by their quoted,
// prefixed names.
func namer(prefix string) *strings.Replacer {
	var pairs []string
	for ph, name := range tables {
		pairs = append(pairs, ph, "`"+prefix+name+"`")
	}
	return strings.NewReplacer(pairs...)
}

// lockName is the GET_LOCK name that serializes the migrations of one
// prefix in one database: user locks are per server, and their names
// are at most 64 characters long, so the database and prefix are hashed.
func lockName(database, prefix string) string {
	h := fnv.New64a()
	h.Write([]byte(database + "\x00" + prefix))
	return fmt.Sprintf("gologout_mysqlstore_%016x", h.Sum64())
}

// migrateWait is how long New waits for another instance's migration
// when ctx has no deadline.
const migrateWait = time.Minute

// migrate brings the tables to the latest version. A database already at
// that version is only read. Otherwise it takes a user lock (GET_LOCK)
// on a connection of its own, so that instances starting together
// migrate one at a time and the later ones find the work done, then
// applies the missing steps, recording the version reached after each.
func (s *Store) migrate(ctx context.Context) error {
	version, err := s.schemaVersion(ctx, s.db)
	if err == nil && version == len(migrations) || errors.Is(err, ErrNewerSchema) {
		return err
	}
	if err != nil && !isNoTable(err) {
		return fmt.Errorf("mysqlstore: read schema version: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	defer conn.Close()
	var database sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	if !database.Valid {
		return errors.New("mysqlstore: migrate: the connection has no database selected (name one in the DSN)")
	}
	wait := migrateWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	name := lockName(database.String, s.prefix)
	var got sql.NullInt64
	// Whole seconds: MySQL reads no fraction of GET_LOCK's timeout.
	secs := int64(math.Ceil(max(wait.Seconds(), 0)))
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, secs).Scan(&got); err != nil {
		return fmt.Errorf("mysqlstore: migrate: lock: %w", err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("mysqlstore: migrate: another instance held the lock %s for %v", name, wait.Round(time.Second))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name)
	if err := s.upgrade(ctx, conn); err != nil {
		if errors.Is(err, ErrNewerSchema) {
			return err
		}
		return fmt.Errorf("mysqlstore: migrate tables with prefix %q: %w", s.prefix, err)
	}
	return nil
}

// upgrade runs under the migration lock on conn.
func (s *Store) upgrade(ctx context.Context, conn *sql.Conn) error {
	r := s.names
	_, err := conn.ExecContext(ctx, r.Replace(`CREATE TABLE IF NOT EXISTS {schema_version} (
	id      TINYINT NOT NULL,
	version INT NOT NULL,
	PRIMARY KEY (id)
)`+tableOptions))
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, r.Replace(`INSERT IGNORE INTO {schema_version} (id, version) VALUES (1, 0)`)); err != nil {
		return err
	}
	version, err := s.schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	for v := version; v < len(migrations); v++ {
		for _, st := range migrations[v] {
			if _, err := conn.ExecContext(ctx, r.Replace(st)); err != nil && !isDuplicateColumn(err) {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
		}
		if _, err := conn.ExecContext(ctx, r.Replace(`UPDATE {schema_version} SET version = ? WHERE id = 1`), v+1); err != nil {
			return fmt.Errorf("to version %d: %w", v+1, err)
		}
	}
	return nil
}

// querier is what *sql.DB and *sql.Conn have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, s.names.Replace(`SELECT version FROM {schema_version} WHERE id = 1`)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err == nil && v > len(migrations) {
		return v, fmt.Errorf("%w: tables with prefix %q are at version %d, this code knows versions up to %d",
			ErrNewerSchema, s.prefix, v, len(migrations))
	}
	return v, err
}

// isNoTable reports whether err is MySQL's "table doesn't exist".
func isNoTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

// isDuplicateColumn reports whether err is MySQL's "duplicate column
// name": an ADD COLUMN that a start cut short had already run.
func isDuplicateColumn(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1060
}
