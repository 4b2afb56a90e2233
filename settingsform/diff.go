package settingsform

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/gologout/logout"
)

// A Change is one field that a [logout.SettingsChange] changed, in words.
type Change struct {
	// Field is the field's form name, such as [FieldLifetime] or
	// [FieldRolePrefix]+"editor".
	Field string
	// Old and New are the values before and after, as a settings page
	// shows them: "900 s", "on", "off", "none", "30 days".
	Old, New string
}

// String returns "field: old → new".
func (f Change) String() string { return f.Field + ": " + f.Old + " → " + f.New }

// Diff returns the fields whose values differ between c.Old and c.New,
// in the order of the settings page, role and user lifetimes sorted by
// name. When the old settings are unknown ([logout.SettingsChange.OldKnown]),
// each field of New is listed with Old "unknown".
func Diff(c logout.SettingsChange) []Change {
	old := describe(c.Old)
	if !c.OldKnown() {
		old = nil
	}
	var out []Change
	for _, f := range describe(c.New) {
		o, ok := fieldValue(old, f.Field)
		switch {
		case !c.OldKnown():
			o = "unknown"
		case !ok:
			o = "none"
		}
		if o != f.Old {
			out = append(out, Change{Field: f.Field, Old: o, New: f.Old})
		}
	}
	if c.OldKnown() {
		for _, f := range old { // lifetimes that the change removed
			if _, ok := fieldValue(describe(c.New), f.Field); !ok {
				out = append(out, Change{Field: f.Field, Old: f.Old, New: "none"})
			}
		}
	}
	return out
}

func fieldValue(fs []Change, field string) (string, bool) {
	for _, f := range fs {
		if f.Field == field {
			return f.Old, true
		}
	}
	return "", false
}

// describe lists every value of s in words, each in a Change's Old.
func describe(s logout.Settings) []Change {
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
		policy = logout.PolicyCustom
	}
	limit := "none"
	if s.MaxSessions > 0 {
		limit = strconv.Itoa(s.MaxSessions)
	}
	retention := "default"
	if s.Retention > 0 {
		retention = strconv.FormatInt(int64(s.Retention/logout.RetentionUnit), 10) + " days"
	}
	out := []Change{
		{Field: FieldPolicy, Old: policy},
		{Field: FieldLifetime, Old: sec(s.Lifetime)},
		{Field: FieldAbsoluteLifetime, Old: off(s.AbsoluteLifetime)},
		{Field: FieldWarningLead, Old: off(s.WarningLead)},
		{Field: FieldShowCounter, Old: flag(s.ShowCounter)},
		{Field: FieldFrontendActivity, Old: flag(s.FrontendActivity)},
		{Field: FieldMaxSessions, Old: limit},
		{Field: FieldRetention, Old: retention},
		{Field: FieldSignOutOnClose, Old: flag(s.SignOutOnClose)},
		{Field: FieldCloseGrace, Old: sec(closeGrace(s))},
	}
	for _, r := range slices.Sorted(maps.Keys(s.RoleLifetimes)) {
		out = append(out, Change{Field: FieldRolePrefix + r, Old: sec(s.RoleLifetimes[r])})
	}
	for _, u := range slices.Sorted(maps.Keys(s.UserLifetimes)) {
		out = append(out, Change{Field: FieldUserPrefix + u, Old: sec(s.UserLifetimes[u])})
	}
	return out
}

// closeGrace returns s.CloseGrace, or its default.
func closeGrace(s logout.Settings) time.Duration {
	if s.CloseGrace == 0 {
		return logout.DefaultCloseGrace
	}
	return s.CloseGrace
}
