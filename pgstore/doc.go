// Package pgstore is a [logout.Store] and [logout.Watcher] on PostgreSQL,
// through pgx v5, for many application instances sharing one state:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil { ... }
//	defer pool.Close()
//	store, err := pgstore.New(ctx, pool, pgstore.Options{}) // tables in schema "logout"
//	if err != nil { ... }
//	m, err := logout.New(store, logout.Options{})
//
// The caller owns the pool: the Store never closes it.
//
// # Schema
//
// [New] creates the schema (default "logout") and its tables when they are
// missing and upgrades them when this package knows a newer layout. Any
// number of instances may start at once: the upgrade runs in one
// transaction under an advisory lock keyed on the schema name, and the
// version it reached is kept in the table schema_version. A database at a
// newer version than this code knows is refused with [ErrNewerSchema]
// rather than used. The first start needs the CREATE privilege on the
// database; later starts only read schema_version. The tables are shown in
// README.md.
//
// # Changes
//
// [Store.SaveSettings] and [Store.EndSessions] announce what they changed
// with NOTIFY on a channel of the schema (default: the schema name plus
// "_changes"), delivered when their transaction commits. [Store.Watch]
// listens on a connection of its own that it takes out of the pool for as
// long as it runs.
//
// # Time
//
// The store never reads the database clock: every time comes from the
// caller, as [logout.Store] requires. Columns are timestamptz, of
// microsecond precision, and times come back in UTC.
package pgstore
