// Package sqlitestore is a [logout.Store] kept in an SQLite database file:
// the default persistent store of Logout. It uses the pure-Go driver
// modernc.org/sqlite, so it needs no cgo.
//
//	store, err := sqlitestore.New(ctx, "/var/lib/myapp/logout.db", sqlitestore.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	m, err := logout.New(store, logout.Options{})
//	if err != nil {
//		return err
//	}
//	return http.ListenAndServe(":8080", m.Handler(mux))
//
// # Concurrency
//
// A [Store] is safe for concurrent use. Reads run in parallel on a pool of
// read-only connections; writes queue for one write connection, each in a
// transaction that takes SQLite's write lock at its start (BEGIN
// IMMEDIATE), so that writers in one process never fail with "database is
// locked". Several processes may share the file on a local disk; they wait
// for each other's write lock up to [Options.BusyTimeout]. The file runs in
// WAL mode, so readers never wait for writers.
//
// # Changes
//
// A Store is a [logout.Watcher]: [Store.EndSessions] and
// [Store.SaveSettings] append what they changed to a change log in their
// own transaction, and [Store.Watch] reads it when SQLite says that another
// connection wrote to the file (PRAGMA data_version, asked every
// [Options.PollInterval]), so that a Manager hears within a fraction of a
// second what another process on the same file changed.
//
// # Schema
//
// The file holds the tables sessions (with each session's user agent,
// address and tags), session_tags (the sessions of each tag), events,
// settings, settings_history, changes (the change log that [Store.Watch]
// reads) and schema_version, whose one row is the schema version (5 in
// this version of the package). [New] applies the
// missing migration steps in one transaction, and refuses a file of a
// newer version with [ErrSchemaTooNew]. Times are INTEGER Unix
// microseconds and come back in UTC. Give the store a file of its own:
// the table names are plain. README.md shows the whole schema.
package sqlitestore
