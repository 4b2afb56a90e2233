package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	return queryOne(ctx, s.db, scanSettings, "settings", s.q.settings)
}

// scanSettings reads a version and its document.
func scanSettings(row scanner) (logout.Settings, error) {
	var st logout.Settings
	var version int64
	var doc []byte
	if err := row.Scan(&version, &doc); err != nil {
		return st, err
	}
	if err := st.UnmarshalJSON(doc); err != nil {
		return st, err
	}
	st.Version = version
	return st, nil
}

// errStale marks a save of a version that is not the stored one.
var errStale = errors.New("stale version")

// SaveSettings implements [logout.Store] in one transaction: a
// compare-and-set on the version (an INSERT of version 1, or an UPDATE
// of the stored version), the history entry, and the change-log entry
// that announces it to watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	old := st.Version
	st.Version = old + 1
	doc, err := st.MarshalJSON()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: %w", err)
	}
	var changed any // NULL for a zero ChangedAt
	if !st.ChangedAt.IsZero() {
		changed = micros(st.ChangedAt)
	}
	var logged span
	err = s.inTx(ctx, false, func(tx *sql.Tx) error {
		if old == 0 {
			if _, err := tx.ExecContext(ctx, s.q.insertSettings, doc); isDuplicate(err) {
				return errStale
			} else if err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, s.q.updateSettings, doc, old)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return errStale
			}
		}
		if _, err := tx.ExecContext(ctx, s.q.insertHistory, st.Version, changed, doc); err != nil {
			return err
		}
		var err error
		logged, err = s.logChanges(ctx, tx, []change{{kind: kindSettings}})
		return err
	})
	if errors.Is(err, errStale) {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: version %d is not the stored one: %w", old, logout.ErrConflict)
	}
	if err != nil {
		return logout.Settings{}, fmt.Errorf("mysqlstore: save settings: %w", err)
	}
	s.pruneChanges(ctx, logged)
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the primary
// key, version, backwards; a filter by time reads the versions it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var b strings.Builder
	var args []any
	b.WriteString(s.names.Replace(`SELECT version, doc FROM {settings_history} WHERE TRUE`))
	if q.Before > 0 {
		b.WriteString(` AND version < ?`)
		args = append(args, q.Before)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND changed_at >= ?`) // NULL, unknown, is before
		args = append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND (changed_at IS NULL OR changed_at < ?)`)
		args = append(args, micros(q.Until))
	}
	b.WriteString(` ORDER BY version DESC LIMIT ?`)
	args = append(args, q.Limit)
	out, err := queryAll(ctx, s.db, scanSettings, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: settings history: %w", err)
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore]: it reads the
// newest version, then deletes the older entries before t (MySQL cannot
// read the table it deletes from in one statement). A version saved
// between the two is newer still, so the newest entry always stays.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := retry(ctx, func() error {
		var newest int64
		if err := s.db.QueryRowContext(ctx, s.q.maxHistory).Scan(&newest); err != nil {
			return err
		}
		res, err := s.db.ExecContext(ctx, s.q.deleteHistory, micros(before), newest)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: delete settings history: %w", err)
	}
	return int(n), nil
}
