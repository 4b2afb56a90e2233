package logout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// A FieldChange is one field that a [SettingsChange] changed, in words.
type FieldChange struct {
	// Field is the field's form name, such as [FieldLifetime] or
	// [FieldRolePrefix]+"editor".
	Field string
	// Old and New are the values before and after, as a settings page
	// shows them: "900 s", "on", "off", "none", "30 days".
	Old, New string
}

// String returns "field: old → new".
func (f FieldChange) String() string { return f.Field + ": " + f.Old + " → " + f.New }

// Fields returns the fields whose values differ between c.Old and c.New,
// in the order of the settings page, role and user lifetimes sorted by
// name. When the old settings are unknown ([SettingsChange.OldKnown]), each
// field of New is listed with Old "unknown".
func (c SettingsChange) Fields() []FieldChange {
	old := c.Old.describe()
	if !c.OldKnown() {
		old = nil
	}
	var out []FieldChange
	for _, f := range c.New.describe() {
		o, ok := fieldValue(old, f.Field)
		switch {
		case !c.OldKnown():
			o = "unknown"
		case !ok:
			o = "none"
		}
		if o != f.Old {
			out = append(out, FieldChange{Field: f.Field, Old: o, New: f.Old})
		}
	}
	if c.OldKnown() {
		for _, f := range old { // lifetimes that the change removed
			if _, ok := fieldValue(c.New.describe(), f.Field); !ok {
				out = append(out, FieldChange{Field: f.Field, Old: f.Old, New: "none"})
			}
		}
	}
	return out
}

func fieldValue(fs []FieldChange, field string) (string, bool) {
	for _, f := range fs {
		if f.Field == field {
			return f.Old, true
		}
	}
	return "", false
}

// describe lists every value of s in words, each in a FieldChange's Old.
func (s Settings) describe() []FieldChange {
	sec := func(d time.Duration) string { return strconv.FormatInt(secs(d), 10) + " s" }
	off := func(d time.Duration) string {
		if d == 0 {
			return "off"
		}
		return sec(d)
	}
	flag := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	policy := s.Policy
	if policy == "" {
		policy = PolicyCustom
	}
	limit := "none"
	if s.MaxSessions > 0 {
		limit = strconv.Itoa(s.MaxSessions)
	}
	retention := "default"
	if s.Retention > 0 {
		retention = strconv.FormatInt(int64(s.Retention/RetentionUnit), 10) + " days"
	}
	out := []FieldChange{
		{Field: FieldPolicy, Old: policy},
		{Field: FieldLifetime, Old: sec(s.Lifetime)},
		{Field: FieldAbsoluteLifetime, Old: off(s.AbsoluteLifetime)},
		{Field: FieldWarningLead, Old: off(s.WarningLead)},
		{Field: FieldShowCounter, Old: flag(s.ShowCounter)},
		{Field: FieldFrontendActivity, Old: flag(s.FrontendActivity)},
		{Field: FieldMaxSessions, Old: limit},
		{Field: FieldRetention, Old: retention},
		{Field: FieldSignOutOnClose, Old: flag(s.SignOutOnClose)},
		{Field: FieldCloseGrace, Old: sec(s.closeGrace())},
	}
	for _, r := range slices.Sorted(maps.Keys(s.RoleLifetimes)) {
		out = append(out, FieldChange{Field: FieldRolePrefix + r, Old: sec(s.RoleLifetimes[r])})
	}
	for _, u := range slices.Sorted(maps.Keys(s.UserLifetimes)) {
		out = append(out, FieldChange{Field: FieldUserPrefix + u, Old: sec(s.UserLifetimes[u])})
	}
	return out
}

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
