package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
)

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	var version int64
	var doc []byte
	err := s.pool.QueryRow(ctx, s.q.settings).Scan(&version, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", err)
	}
	var st logout.Settings
	if err := st.UnmarshalJSON(doc); err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: settings: %w", err)
	}
	st.Version = version
	return st, nil
}

// SaveSettings implements [logout.Store] as a compare-and-set on the
// version in one statement, which also appends the saved settings to
// settings_history and announces the change to watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	old := st.Version
	st.Version = old + 1
	doc, err := st.MarshalJSON()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: %w", err)
	}
	var changed any // NULL for a zero ChangedAt
	if !st.ChangedAt.IsZero() {
		changed = st.ChangedAt
	}
	var row pgx.Row
	if old == 0 {
		row = s.pool.QueryRow(ctx, s.q.insertSettings, json.RawMessage(doc), s.channel, settingsPayload, changed)
	} else {
		row = s.pool.QueryRow(ctx, s.q.updateSettings, json.RawMessage(doc), old, s.channel, settingsPayload, changed)
	}
	if err := row.Scan(&st.Version, nil); errors.Is(err, pgx.ErrNoRows) {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: version %d is not the stored one: %w", old, logout.ErrConflict)
	} else if err != nil {
		return logout.Settings{}, fmt.Errorf("pgstore: save settings: %w", err)
	}
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the primary
// key, version, backwards; a filter by time reads the versions it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	c := &clauses{}
	c.b.WriteString(s.q.history)
	cond := c.add
	if q.Before > 0 {
		cond(` AND version < $%d`, q.Before)
	}
	if !q.Since.IsZero() {
		cond(` AND coalesce(changed_at, '-infinity') >= $%d`, q.Since)
	}
	if !q.Until.IsZero() {
		cond(` AND coalesce(changed_at, '-infinity') < $%d`, q.Until)
	}
	cond(` ORDER BY version DESC LIMIT $%d`, q.Limit)
	rows, _ := s.pool.Query(ctx, c.b.String(), c.args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (logout.Settings, error) {
		var (
			st      logout.Settings
			version int64
			doc     []byte
		)
		if err := row.Scan(&version, &doc); err != nil {
			return st, err
		}
		if err := st.UnmarshalJSON(doc); err != nil {
			return st, err
		}
		st.Version = version
		return st, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: settings history: %w", err)
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore] in one
// statement.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q.deleteHistory, before)
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete settings history: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
