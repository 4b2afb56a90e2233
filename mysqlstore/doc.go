// Package mysqlstore is a [logout.Store] and [logout.Watcher] on MySQL or
// MariaDB, through github.com/go-sql-driver/mysql, for many application
// instances sharing one state, in the database the application already
// uses:
//
//	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app?interpolateParams=true")
//	if err != nil { ... }
//	defer db.Close()
//	store, err := mysqlstore.New(ctx, db, mysqlstore.Options{Prefix: "wp_"}) // tables wp_logout_*
//	if err != nil { ... }
//	m, err := logout.New(store, logout.Options{})
//
// The caller owns the database handle: the Store never closes it. The
// store reads nothing of the DSN's settings (parseTime, loc,
// clientFoundRows, the isolation level): it works the same with any.
// interpolateParams=true saves a round trip per statement.
//
// # Schema
//
// [New] creates the tables when they are missing and upgrades them when
// this package knows a newer layout, recording the version reached in the
// table logout_schema_version. Any number of instances may start at once:
// the upgrade runs under a user lock (GET_LOCK) named after the database
// and the prefix, and the later ones find the work done. A database at a
// newer version than this code knows is refused with [ErrNewerSchema].
// The first start needs the CREATE privilege; later starts only read
// logout_schema_version (3 in this version of the package). Tables are
// InnoDB, in utf8mb4; session and user IDs, addresses and tags are binary
// strings, compared byte by byte as in Go, of at most 255 bytes. A
// session's tags are kept as a JSON array beside it, read with it, and
// one row each in logout_session_tags, whose primary key (tag,
// session_id) finds the sessions of a tag. README.md shows the tables.
//
// # Changes
//
// MySQL has no LISTEN/NOTIFY. [Store.SaveSettings] and
// [Store.EndSessions] write what they changed to a change log, a table,
// in their own transaction, and [Store.Watch] reads the new rows of the
// log every [Options.PollInterval] (100 ms by default): one query on the
// primary key, which finds nothing most of the time.
//
// # Time
//
// The store never reads the database clock: every time comes from the
// caller, as [logout.Store] requires. Times are kept as BIGINT Unix
// microseconds, the Manager's precision, whatever the server's or the
// connection's time zone, and come back in UTC.
//
// # Failures
//
// A deadlock, a lock wait timeout or a connection lost before a commit
// is tried again, at once, up to 3 tries in all; any other failure, and
// a server that is down, comes back as an error at once, so that the
// Manager fails closed. Every call honours its context's deadline.
//
// # Versions
//
// Tested on MariaDB 10.11. The statements are those that MySQL 8.0.13 and
// MariaDB 10.6 and later share (no CREATE INDEX IF NOT EXISTS, no SKIP
// LOCKED, no row-constructor comparisons), but one: on MariaDB,
// [Store.EndSessions] deletes with DELETE … RETURNING, one pass over the
// rows where MySQL needs a locking read and then a DELETE. [New] asks the
// server which it is; the tests run both ways on MariaDB.
package mysqlstore
