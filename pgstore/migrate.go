package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNewerSchema is returned by [New] when the database's schema was
// upgraded by a newer version of this package than the running one: the
// code must be upgraded too, since it cannot know what changed.
var ErrNewerSchema = errors.New("pgstore: database schema is newer than this code")

// migrations are the schema's versions in order: migrations[i] takes it
// from version i to i+1, with {s} standing for the quoted schema. Steps are
// only ever appended; a released step never changes.
var migrations = []string{
	// 1: sessions, the sign-out log, the settings.
	`CREATE TABLE {s}.sessions (
	id        text COLLATE "C" PRIMARY KEY,
	user_id   text NOT NULL,
	roles     text[] NOT NULL DEFAULT '{}',
	created   timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	deadline  timestamptz NOT NULL
);
CREATE INDEX sessions_deadline_idx ON {s}.sessions (deadline, id);
CREATE INDEX sessions_user_id_idx ON {s}.sessions (user_id);
CREATE TABLE {s}.events (
	id         bigserial PRIMARY KEY,
	session_id text NOT NULL,
	user_id    text NOT NULL,
	reason     text NOT NULL,
	at         timestamptz NOT NULL
);
CREATE INDEX events_session_id_idx ON {s}.events (session_id, id);
CREATE INDEX events_at_idx ON {s}.events (at);
CREATE TABLE {s}.settings (
	id      boolean PRIMARY KEY DEFAULT true CHECK (id),
	version bigint NOT NULL,
	doc     jsonb NOT NULL
);`,
	// 2: keyset pages by creation, of everyone and of one user, for
	// ListSessions and CountSessions. The user index replaces the one
	// on user_id alone, which it serves as well. IF NOT EXISTS lets an
	// operator build the indexes beforehand with CREATE INDEX
	// CONCURRENTLY, which does not block writes (see README.md).
	`CREATE INDEX IF NOT EXISTS sessions_created_idx ON {s}.sessions (created, id);
CREATE INDEX IF NOT EXISTS sessions_user_created_idx ON {s}.sessions (user_id, created, id);
DROP INDEX IF EXISTS {s}.sessions_user_id_idx;`,
	// 3: queries of the log by time and by user and time, newest first
	// (the index on (at, id) replaces the one on at alone), and the
	// history of settings saves, seeded with the saved settings, whose
	// time is unknown (NULL). IF NOT EXISTS as in step 2.
	`CREATE INDEX IF NOT EXISTS events_at_id_idx ON {s}.events (at, id);
CREATE INDEX IF NOT EXISTS events_user_at_idx ON {s}.events (user_id, at, id);
DROP INDEX IF EXISTS {s}.events_at_idx;
CREATE TABLE {s}.settings_history (
	version    bigint PRIMARY KEY,
	changed_at timestamptz,
	doc        jsonb NOT NULL
);
INSERT INTO {s}.settings_history (version, changed_at, doc) SELECT version, NULL, doc FROM {s}.settings;`,
	// 4: the name of the session's user, for the widget; empty for the
	// sessions already there. A column with a constant default rewrites
	// no row.
	`ALTER TABLE {s}.sessions ADD COLUMN IF NOT EXISTS user_name text NOT NULL DEFAULT '';`,
	// 5: what tells a session apart (its User-Agent, address and tags),
	// empty for the sessions already there (constant defaults rewrite no
	// row); pages in each order of logout.SessionOrder as an index walk:
	// by activity on (last_seen, id), read backwards, by deadline on the
	// deadline index, newest first on the creation index read backwards;
	// pages and counts of one address on (address, created, id); the
	// sessions of a tag through a GIN index on tags (tags @> ARRAY[tag]).
	// IF NOT EXISTS as in step 2.
	`ALTER TABLE {s}.sessions ADD COLUMN IF NOT EXISTS user_agent text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS address text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS sessions_last_seen_idx ON {s}.sessions (last_seen, id);
CREATE INDEX IF NOT EXISTS sessions_address_created_idx ON {s}.sessions (address, created, id);
CREATE INDEX IF NOT EXISTS sessions_tags_idx ON {s}.sessions USING gin (tags);`,
}

// lockKey is the pg_advisory_xact_lock key that serializes migrations of
// one schema: the FNV-1a hash of a fixed prefix and the schema name.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/gologout/logout/pgstore\x00" + schema))
	return int64(h.Sum64())
}

// migrate brings the schema to the latest version in one transaction. The
// advisory lock makes concurrent starts wait for each other; the one that
// comes second finds the work done. A schema already at the latest version
// is only read, so later starts need no CREATE privilege.
func (s *Store) migrate(ctx context.Context) error {
	quoted := pgx.Identifier{s.schema}.Sanitize()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.schema)); err != nil {
			return err
		}
		var known bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoted+".schema_version").Scan(&known); err != nil {
			return err
		}
		version := 0
		if known {
			if err := tx.QueryRow(ctx, "SELECT version FROM "+quoted+".schema_version").Scan(&version); err != nil {
				return err
			}
		} else {
			var schemaExists bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&schemaExists); err != nil {
				return err
			}
			if !schemaExists {
				if _, err := tx.Exec(ctx, "CREATE SCHEMA "+quoted); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE `+quoted+`.schema_version (
	id      boolean PRIMARY KEY DEFAULT true CHECK (id),
	version integer NOT NULL
);
INSERT INTO `+quoted+`.schema_version (version) VALUES (0)`); err != nil {
				return err
			}
		}
		if version > len(migrations) {
			return fmt.Errorf("%w: schema %q is at version %d, this code knows versions up to %d",
				ErrNewerSchema, s.schema, version, len(migrations))
		}
		if version == len(migrations) {
			return nil
		}
		r := strings.NewReplacer("{s}", quoted)
		for v := version; v < len(migrations); v++ {
			if _, err := tx.Exec(ctx, r.Replace(migrations[v])); err != nil {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
		}
		_, err := tx.Exec(ctx, "UPDATE "+quoted+".schema_version SET version = $1", len(migrations))
		return err
	})
	if errors.Is(err, ErrNewerSchema) {
		return err
	}
	if err != nil {
		return fmt.Errorf("pgstore: migrate schema %q: %w", s.schema, err)
	}
	return nil
}
