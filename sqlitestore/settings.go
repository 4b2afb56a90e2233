package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	var (
		version int64
		data    string
	)
	err := s.r.QueryRowContext(ctx, `SELECT version, data FROM settings WHERE id = 1`).Scan(&version, &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return logout.Settings{}, logout.ErrNotFound
	case err != nil:
		return logout.Settings{}, fmt.Errorf("sqlitestore: settings: %w", err)
	}
	var st logout.Settings
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		return logout.Settings{}, fmt.Errorf("sqlitestore: settings: %w", err)
	}
	st.Version = version
	return st, nil
}

// SaveSettings implements [logout.Store]: one transaction saves the
// settings, appends them to settings_history and announces the save in
// the change log. A stale st.Version is [logout.ErrConflict].
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (_ logout.Settings, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: save settings: %w", err)
		}
	}()
	old := st.Version
	st.Version++
	data, err := json.Marshal(st)
	if err != nil {
		return logout.Settings{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return logout.Settings{}, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var res sql.Result
	if old == 0 {
		res, err = tx.ExecContext(ctx,
			`INSERT INTO settings (id, version, data) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`, st.Version, string(data))
	} else {
		res, err = tx.ExecContext(ctx,
			`UPDATE settings SET version = ?, data = ? WHERE id = 1 AND version = ?`, st.Version, string(data), old)
	}
	if err != nil {
		return logout.Settings{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return logout.Settings{}, err
	}
	if n == 0 {
		return logout.Settings{}, fmt.Errorf("version %d is not the stored version: %w", old, logout.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings_history (version, changed_at, data) VALUES (?, ?, ?)`,
		st.Version, micros(st.ChangedAt), string(data)); err != nil {
		return logout.Settings{}, err
	}
	if err := logChanges(ctx, tx, kindSettings, nil); err != nil {
		return logout.Settings{}, err
	}
	if err := tx.Commit(); err != nil {
		return logout.Settings{}, err
	}
	return st, nil
}

// historyQuery returns the SELECT of SettingsHistory for q, which reads
// the primary key, version, downwards.
func historyQuery(q logout.HistoryQuery) (string, []any) {
	var (
		where []string
		args  []any
	)
	if q.Before > 0 {
		where, args = append(where, `version < ?`), append(args, q.Before)
	}
	if !q.Since.IsZero() {
		where, args = append(where, `changed_at >= ?`), append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, `changed_at < ?`), append(args, micros(q.Until))
	}
	query := `SELECT version, data FROM settings_history`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY version DESC LIMIT ?`, append(args, q.Limit)
}

// SettingsHistory implements [logout.SettingsStore].
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) (_ []logout.Settings, err error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlitestore: settings history: %w", err)
		}
	}()
	query, args := historyQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []logout.Settings
	for rows.Next() {
		var (
			st   logout.Settings
			v    int64
			data string
		)
		if err := rows.Scan(&v, &data); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			return nil, fmt.Errorf("version %d: %w", v, err)
		}
		st.Version = v
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// deleteHistoryQuery prunes settings_history, keeping the newest entry.
const deleteHistoryQuery = `DELETE FROM settings_history
WHERE changed_at < ? AND version < (SELECT max(version) FROM settings_history)`

// DeleteSettingsHistory implements [logout.SettingsStore].
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, deleteHistoryQuery, micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete settings history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete settings history: %w", err)
	}
	return int(n), nil
}
