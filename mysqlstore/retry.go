package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
)

// maxTries bounds the tries of one call that fails with a transient
// error (see transient).
const maxTries = 3

// MySQL and MariaDB error numbers that the store handles.
const (
	errDuplicate        = 1062 // ER_DUP_ENTRY
	errLockWaitTimeout  = 1205 // ER_LOCK_WAIT_TIMEOUT
	errDeadlock         = 1213 // ER_LOCK_DEADLOCK
	errServerShutdown   = 1053 // ER_SERVER_SHUTDOWN
	errConnectionKilled = 1927 // ER_CONNECTION_KILLED (MariaDB)
	errClientTimeout    = 4031 // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
)

// retry calls op until it succeeds, fails with an error that another try
// would meet again, or has been tried maxTries times. op must be safe to
// repeat: a read, an idempotent write, or a transaction that did not
// commit.
//
// Another try starts at once, with no wait: InnoDB has rolled the
// deadlocked transaction back and the other one goes on, and
// database/sql takes another connection for a lost one. So a server that
// is down costs a call three quick refusals, never a wait.
func retry(ctx context.Context, op func() error) error {
	var err error
	for range maxTries {
		if err = op(); err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
	}
	return err
}

// transient reports whether err may not come back on another try: a
// deadlock or lock wait timeout, or a connection lost or killed (the
// server rolls back the open transaction of a lost connection). An error
// of a commit is never transient: whether it committed is unknown.
func transient(err error) bool {
	var ce *commitError
	if errors.As(err, &ce) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errDeadlock, errLockWaitTimeout, errServerShutdown, errConnectionKilled, errClientTimeout:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// A commitError is the error of a COMMIT.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// inTx runs fn in a transaction and commits it, and runs it again, in a
// new transaction, when it failed with a transient error (see retry): fn
// must start from scratch each time.
//
// A transaction that may lock several sessions (several is true) is READ
// COMMITTED, which keeps InnoDB from locking the gaps between rows, so
// that locking reads block only the rows they return: at REPEATABLE READ
// a DELETE of locked sessions also takes next-key locks on the rows after
// them, and concurrent ends deadlock several times as often
// (TestConcurrentWriters counted 2 to 9 a run, against 0 or 1). Setting
// the level costs a round trip (SET TRANSACTION), so a transaction that
// locks one row of a table, the sweep's end of one session or a settings
// save, keeps the connection's level: every read in a transaction is a
// locking read, which reads the newest committed rows and locks a row
// found by its whole primary key alone, at any level.
func (s *Store) inTx(ctx context.Context, several bool, fn func(tx *sql.Tx) error) error {
	var opts *sql.TxOptions
	if several {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return &commitError{err}
		}
		return nil
	})
}

// isDuplicate reports whether err is MySQL's duplicate key error.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == errDuplicate
}
