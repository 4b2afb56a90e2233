package logout

import (
	"context"
	"fmt"
	"time"
)

// defaultQueryLimit is the Limit of [Manager.QueryEvents] and
// [Manager.SettingsHistory] when the query's is 0.
const defaultQueryLimit = 100

// queryLimit returns the limit of a query: defaultQueryLimit for 0, an
// error for a negative one.
func queryLimit(op string, limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("logout: %s: negative limit %d", op, limit)
	case limit == 0:
		return defaultQueryLimit, nil
	}
	return limit, nil
}

// QueryEvents returns the entries of the sign-out log that q selects,
// newest first (by At, then newest logged first), at most q.Limit of them
// (100 when 0; a negative Limit, or Since after Until, is an error). It
// serves exports by date range, user and reason.
func (m *Manager) QueryEvents(ctx context.Context, q EventQuery) ([]Event, error) {
	var err error
	if q.Limit, err = queryLimit("query events", q.Limit); err != nil {
		return nil, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Since.After(q.Until) {
		return nil, fmt.Errorf("logout: query events: since %s is after until %s", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	if q.Reason != 0 && !q.Reason.Valid() {
		return nil, fmt.Errorf("logout: query events: invalid reason %d", uint8(q.Reason))
	}
	q.Since, q.Until = q.Since.Truncate(time.Microsecond), q.Until.Truncate(time.Microsecond)
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	defer cancel()
	evs, err := m.store.Events(sctx, q)
	if err != nil {
		return nil, storeErr("query events", err)
	}
	return evs, nil
}

// A SettingsChange is one save of the settings, for the audit trail: who
// saved them, when, and the settings before and after.
type SettingsChange struct {
	// At is when the change was saved (New.ChangedAt).
	At time.Time
	// By is who saved it (New.ChangedBy).
	By string
	// Old is the settings the change replaced: the defaults of the
	// Manager ([Options.Defaults], Version 0) for the first save, and the
	// zero Settings when the version before was pruned from the history.
	Old Settings
	// New is the settings saved.
	New Settings
}

// OldKnown reports whether c.Old holds the settings before the change,
// false when they were pruned from the history.
func (c SettingsChange) OldKnown() bool { return c.Old.Lifetime != 0 }

// SettingsHistory returns the saves of the settings that q selects,
// newest first, at most q.Limit of them (100 when 0; a negative Limit is
// an error), each with the settings it replaced. To read the next page,
// set q.Before to the New.Version of the last change. The history is
// kept as long as the sign-out log ([Settings.Retention]); the entry of
// the settings in force is never pruned.
func (m *Manager) SettingsHistory(ctx context.Context, q HistoryQuery) ([]SettingsChange, error) {
	var err error
	if q.Limit, err = queryLimit("settings history", q.Limit); err != nil {
		return nil, err
	}
	q.Since, q.Until = q.Since.Truncate(time.Microsecond), q.Until.Truncate(time.Microsecond)
	sctx, cancel := context.WithTimeout(ctx, m.opts.StoreTimeout)
	defer cancel()
	vs, err := m.store.SettingsHistory(sctx, q)
	if err != nil {
		return nil, storeErr("settings history", err)
	}
	// The version before the oldest one returned, unless it is the first.
	var prev []Settings
	if n := len(vs); n > 0 && vs[n-1].Version > 1 {
		prev, err = m.store.SettingsHistory(sctx, HistoryQuery{Before: vs[n-1].Version, Limit: 1})
		if err != nil {
			return nil, storeErr("settings history", err)
		}
	}
	out := make([]SettingsChange, len(vs))
	for i, v := range vs {
		c := SettingsChange{At: v.ChangedAt, By: v.ChangedBy, New: v}
		var before []Settings
		if i+1 < len(vs) {
			before = vs[i+1:]
		} else {
			before = prev
		}
		switch {
		case v.Version == 1:
			c.Old = m.eng.defaults()
		case len(before) > 0 && before[0].Version == v.Version-1:
			c.Old = before[0]
		}
		out[i] = c
	}
	return out, nil
}
