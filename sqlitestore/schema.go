package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SchemaVersion is the version of the database schema that this package
// reads and writes. [New] upgrades an older file to it and refuses a file
// of a newer version.
const SchemaVersion = len(migrations)

// ErrSchemaTooNew is returned by [New], wrapped, when the file was written
// by a newer version of this package than the running one. Upgrade the
// program rather than delete the file: downgrading would lose data.
var ErrSchemaTooNew = errors.New("sqlitestore: database schema is newer than this program supports")

// migrations are the schema steps in order: migrations[i] takes a file
// from version i to version i+1. Steps are only ever appended; a released
// step never changes.
var migrations = [...]string{
	// Version 1. All times are Unix microseconds (UTC).
	`
CREATE TABLE sessions (
	id        TEXT    PRIMARY KEY NOT NULL,
	user_id   TEXT    NOT NULL,
	roles     TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	deadline  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_deadline ON sessions (deadline, id);
CREATE INDEX sessions_user ON sessions (user_id, created, id);

CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	reason     TEXT    NOT NULL, -- idle, absolute, forced or manual
	at         INTEGER NOT NULL
);
CREATE INDEX events_session ON events (session_id, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE settings (
	id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
	version INTEGER NOT NULL,
	data    TEXT    NOT NULL -- JSON from logout.Settings.MarshalJSON
);
`,
	// Version 2. Pages of all sessions by creation (ListSessions with no
	// user); a user's pages and counts use sessions_user.
	`
CREATE INDEX sessions_created ON sessions (created, id);
`,
	// Version 3. A user's events by time, for exports (events_at serves
	// the rest: an index holds the rowid, id, so both order ties by id);
	// the history of settings saves, seeded with the saved settings.
	`
CREATE INDEX events_user ON events (user_id, at);

CREATE TABLE settings_history (
	version    INTEGER PRIMARY KEY NOT NULL,
	changed_at INTEGER NOT NULL, -- Unix µs; 0 for a version saved before the history
	data       TEXT    NOT NULL  -- JSON from logout.Settings.MarshalJSON
);
INSERT INTO settings_history (version, changed_at, data) SELECT version, 0, data FROM settings;
`,
	// Version 4. The name of the session's user, for the widget; empty
	// for sessions of earlier versions.
	`
ALTER TABLE sessions ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
`,
	// Version 5. The session's device, address and tags, empty for the
	// sessions of earlier versions (a column added with a default
	// rewrites no row); the tags again in session_tags, where an end by
	// tag looks them up; an index for each order of ListSessions that had
	// none, and one on the address; the change log that Watch reads.
	`
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN address    TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN tags       TEXT NOT NULL DEFAULT '[]'; -- JSON array of strings
CREATE INDEX sessions_seen ON sessions (last_seen, id);
CREATE INDEX sessions_address ON sessions (address, user_id);

CREATE TABLE session_tags (
	tag        TEXT NOT NULL,
	session_id TEXT NOT NULL,
	PRIMARY KEY (tag, session_id)
) WITHOUT ROWID;
CREATE INDEX session_tags_session ON session_tags (session_id);

CREATE TABLE changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT NOT NULL, -- ended, settings or all
	session_id TEXT           -- the session ended, for kind ended
);
`,
}

// migrate brings the schema of db up to SchemaVersion in one immediate
// transaction, so that concurrent openers of a new file wait for each other
// and a failed step leaves the file as it was.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("file has schema version %d, this program supports up to %d: %w", v, SchemaVersion, ErrSchemaTooNew)
	}
	if v < 0 {
		return fmt.Errorf("file has invalid schema version %d", v)
	}
	for i := v; i < SchemaVersion; i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", i+1, err)
		}
	}
	if v < SchemaVersion {
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, SchemaVersion); err != nil {
			return err
		}
	}
	return tx.Commit()
}
