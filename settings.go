package logout

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on [Settings] values.
const (
	// MaxLifetime is the longest idle or absolute lifetime: one year.
	MaxLifetime = 365 * 24 * time.Hour
	// DefaultLifetime is the default idle lifetime: 900 seconds.
	DefaultLifetime = 900 * time.Second
	// DefaultWarningLead is how long before the deadline the warning shows
	// by default: 60 seconds.
	DefaultWarningLead = 60 * time.Second
)

// The form field names that [ParseSettings] reads and [Settings.Values] writes.
const (
	FieldLifetime         = "lifetime"
	FieldShowCounter      = "show_counter"
	FieldAbsoluteLifetime = "absolute_lifetime"
	FieldWarningLead      = "warning_lead"
	FieldFrontendActivity = "frontend_activity"
	// FieldRolePrefix starts the name of a per-role lifetime field:
	// "role_lifetime.editor" holds the idle lifetime of role "editor" in
	// seconds; an empty value means the role uses the global lifetime.
	FieldRolePrefix = "role_lifetime."
)

// Settings are what an administrator edits at run time (System › User
// Session). A [Manager] applies a change to every session at once. All
// durations are whole seconds.
//
// The zero Settings is not valid; start from [DefaultSettings].
type Settings struct {
	// Version is set by the [Store]: 0 for settings never saved, then
	// one more at each save. It guards against lost updates.
	Version int64
	// Lifetime is the idle lifetime: a session with no activity for this
	// long ends. 1 s to [MaxLifetime]; default 900 s.
	Lifetime time.Duration
	// ShowCounter shows the countdown next to the avatar. Default true.
	ShowCounter bool
	// AbsoluteLifetime ends every session this long after sign-in, active
	// or not. 0 (the default) turns it off; otherwise it is at least
	// Lifetime and at most [MaxLifetime].
	AbsoluteLifetime time.Duration
	// WarningLead is how long before the deadline the warning dialog
	// shows. 0 turns the warning off; otherwise less than every idle
	// lifetime. Default 60 s.
	WarningLead time.Duration
	// RoleLifetimes are idle lifetimes by role. A session whose user has
	// several of these roles gets the shortest (most restrictive); one
	// with none of them gets Lifetime.
	RoleLifetimes map[string]time.Duration
	// FrontendActivity makes front-end requests count as activity.
	// Default false: only backend requests extend a session.
	FrontendActivity bool
}

// DefaultSettings returns the settings in force before an administrator
// saves any: 900 s idle lifetime, counter shown, no absolute limit, a 60 s
// warning, no role lifetimes, front-end activity not counted.
func DefaultSettings() Settings {
	return Settings{
		Lifetime:    DefaultLifetime,
		ShowCounter: true,
		WarningLead: DefaultWarningLead,
	}
}

// IdleLifetime returns the idle lifetime for a user with the given roles:
// the shortest of their role lifetimes, or Lifetime when no role has one.
func (s Settings) IdleLifetime(roles []string) time.Duration {
	d := time.Duration(0)
	for _, r := range roles {
		if v, ok := s.RoleLifetimes[r]; ok && (d == 0 || v < d) {
			d = v
		}
	}
	if d == 0 {
		return s.Lifetime
	}
	return d
}

// Deadline returns when sess ends under s: the earlier of its last activity
// plus its idle lifetime and, when an absolute lifetime is set, its start
// plus that. The returned Reason says which limit it is.
func (s Settings) Deadline(sess Session) (time.Time, Reason) {
	d := sess.LastSeen.Add(s.IdleLifetime(sess.Roles))
	if s.AbsoluteLifetime > 0 {
		if a := sess.Created.Add(s.AbsoluteLifetime); !a.After(d) {
			return a, ReasonAbsolute
		}
	}
	return d, ReasonIdle
}

// Equal reports whether s and t hold the same values, Version included.
func (s Settings) Equal(t Settings) bool {
	return s.Version == t.Version && s.Lifetime == t.Lifetime && s.ShowCounter == t.ShowCounter &&
		s.AbsoluteLifetime == t.AbsoluteLifetime && s.WarningLead == t.WarningLead &&
		s.FrontendActivity == t.FrontendActivity && mapsEqual(s.RoleLifetimes, t.RoleLifetimes)
}

func mapsEqual(a, b map[string]time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Validate checks every field and returns nil or one [*FieldError] per
// invalid field, joined with errors.Join. Read them with [FieldErrors].
func (s Settings) Validate() error {
	var errs []error
	bad := func(field, code string, limit int64, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Code: code, Limit: limit, Reason: fmt.Sprintf(format, args...)})
	}
	year := secs(MaxLifetime)
	lifetimeOK := true
	switch {
	case s.Lifetime < time.Second:
		bad(FieldLifetime, CodeMin, 1, "must be at least 1 second")
		lifetimeOK = false
	case s.Lifetime > MaxLifetime:
		bad(FieldLifetime, CodeMax, year, "must be at most %d seconds (one year)", year)
		lifetimeOK = false
	case s.Lifetime%time.Second != 0:
		bad(FieldLifetime, CodeWhole, 0, "must be a whole number of seconds")
		lifetimeOK = false
	}
	switch {
	case s.AbsoluteLifetime < 0:
		bad(FieldAbsoluteLifetime, CodeNegative, 0, "must not be negative")
	case s.AbsoluteLifetime == 0:
	case s.AbsoluteLifetime > MaxLifetime:
		bad(FieldAbsoluteLifetime, CodeMax, year, "must be at most %d seconds (one year)", year)
	case s.AbsoluteLifetime%time.Second != 0:
		bad(FieldAbsoluteLifetime, CodeWhole, 0, "must be a whole number of seconds")
	case lifetimeOK && s.AbsoluteLifetime < s.Lifetime:
		bad(FieldAbsoluteLifetime, CodeAbsolute, secs(s.Lifetime), "must be 0 (off) or at least the session lifetime (%d seconds)", secs(s.Lifetime))
	}
	switch {
	case s.WarningLead < 0:
		bad(FieldWarningLead, CodeNegative, 0, "must not be negative")
	case s.WarningLead%time.Second != 0:
		bad(FieldWarningLead, CodeWhole, 0, "must be a whole number of seconds")
	case lifetimeOK && s.WarningLead >= s.Lifetime:
		bad(FieldWarningLead, CodeWarning, secs(s.Lifetime), "must be less than the session lifetime (%d seconds)", secs(s.Lifetime))
	}
	roles := make([]string, 0, len(s.RoleLifetimes))
	for r := range s.RoleLifetimes {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		v, field := s.RoleLifetimes[r], FieldRolePrefix+r
		switch {
		case !validRole(r):
			bad(field, CodeRoleName, 0, "role name must be 1 to 64 letters, digits, '-' or '_'")
		case v < time.Second:
			bad(field, CodeMin, 1, "must be at least 1 second")
		case v > MaxLifetime:
			bad(field, CodeMax, year, "must be at most %d seconds (one year)", year)
		case v%time.Second != 0:
			bad(field, CodeWhole, 0, "must be a whole number of seconds")
		case s.WarningLead > 0 && v <= s.WarningLead:
			bad(field, CodeRole, secs(s.WarningLead), "must be more than the warning lead (%d seconds)", secs(s.WarningLead))
		}
	}
	return errors.Join(errs...)
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func validRole(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseSettings reads settings from form values, as posted by a settings
// form built from [Settings.Values]. Numbers must be plain decimal
// integers of seconds ("900"; not "1e3", "0x10", "+5", "9.5", or digits of
// other scripts). The lifetime, absolute lifetime and warning lead are
// required ([CodeRequired] when absent or blank; "0" turns the absolute
// limit or the warning off), so a form that lost a field never saves a
// zero; a role's field may be blank (the global lifetime). A number
// field given twice is refused. A checkbox is on when present with "on",
// "1" or "true". The result has Version 0; the caller sets the version it
// edited.
//
// On any invalid field it returns the zero Settings and every
// [*FieldError] joined; the values are then checked with
// [Settings.Validate] as well.
func ParseSettings(form url.Values) (Settings, error) {
	var s Settings
	var errs []error
	num := func(field string, required bool) time.Duration {
		if len(form[field]) > 1 {
			errs = append(errs, &FieldError{Field: field, Code: CodeSyntax, Reason: "must be given once"})
			return 0
		}
		v := strings.TrimSpace(form.Get(field))
		if v == "" {
			if required {
				errs = append(errs, &FieldError{Field: field, Code: CodeRequired, Reason: "is required"})
			}
			return 0
		}
		n, fe := parseSeconds(v)
		if fe != nil {
			fe.Field = field
			errs = append(errs, fe)
		}
		return n
	}
	flag := func(field string) bool {
		switch v := strings.TrimSpace(form.Get(field)); strings.ToLower(v) {
		case "on", "1", "true":
			return true
		case "", "0", "off", "false":
			return false
		default:
			errs = append(errs, &FieldError{Field: field, Code: CodeFlag, Reason: fmt.Sprintf("must be on or off, not %q", v)})
			return false
		}
	}
	s.Lifetime = num(FieldLifetime, true)
	s.ShowCounter = flag(FieldShowCounter)
	s.AbsoluteLifetime = num(FieldAbsoluteLifetime, true)
	s.WarningLead = num(FieldWarningLead, true)
	s.FrontendActivity = flag(FieldFrontendActivity)
	keys := make([]string, 0)
	for k := range form {
		if strings.HasPrefix(k, FieldRolePrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.TrimSpace(form.Get(k)) == "" {
			continue
		}
		if s.RoleLifetimes == nil {
			s.RoleLifetimes = make(map[string]time.Duration)
		}
		s.RoleLifetimes[strings.TrimPrefix(k, FieldRolePrefix)] = num(k, true)
	}
	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// parseSeconds parses a plain decimal count of seconds; its error lacks
// only the field name.
func parseSeconds(v string) (time.Duration, *FieldError) {
	if len(v) > 1 && v[0] == '-' && strings.Trim(v[1:], "0123456789") == "" {
		return 0, &FieldError{Code: CodeNegative, Reason: "must not be negative"}
	}
	if strings.Trim(v, "0123456789") != "" {
		reason := "must be a whole number of seconds written with digits 0-9"
		if len(v) <= 20 {
			reason += fmt.Sprintf(", not %q", v)
		}
		return 0, &FieldError{Code: CodeSyntax, Reason: reason}
	}
	year := secs(MaxLifetime)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > year {
		return 0, &FieldError{Code: CodeMax, Limit: year, Reason: fmt.Sprintf("must be at most %d seconds (one year)", year)}
	}
	return time.Duration(n) * time.Second, nil
}

// Values returns s as form values, the inverse of [ParseSettings]. Role
// lifetimes appear under [FieldRolePrefix] + role.
func (s Settings) Values() url.Values {
	v := url.Values{}
	v.Set(FieldLifetime, strconv.FormatInt(secs(s.Lifetime), 10))
	v.Set(FieldAbsoluteLifetime, strconv.FormatInt(secs(s.AbsoluteLifetime), 10))
	v.Set(FieldWarningLead, strconv.FormatInt(secs(s.WarningLead), 10))
	if s.ShowCounter {
		v.Set(FieldShowCounter, "on")
	}
	if s.FrontendActivity {
		v.Set(FieldFrontendActivity, "on")
	}
	for r, d := range s.RoleLifetimes {
		v.Set(FieldRolePrefix+r, strconv.FormatInt(secs(d), 10))
	}
	return v
}

// settingsJSON is the stored form of Settings: durations in seconds.
type settingsJSON struct {
	Version          int64            `json:"version"`
	Lifetime         int64            `json:"lifetime"`
	ShowCounter      bool             `json:"show_counter"`
	AbsoluteLifetime int64            `json:"absolute_lifetime"`
	WarningLead      int64            `json:"warning_lead"`
	RoleLifetimes    map[string]int64 `json:"role_lifetimes,omitempty"`
	FrontendActivity bool             `json:"frontend_activity"`
}

// MarshalJSON encodes s with durations in whole seconds; stores use it to
// keep settings as one document.
func (s Settings) MarshalJSON() ([]byte, error) {
	j := settingsJSON{
		Version: s.Version, Lifetime: secs(s.Lifetime), ShowCounter: s.ShowCounter,
		AbsoluteLifetime: secs(s.AbsoluteLifetime), WarningLead: secs(s.WarningLead),
		FrontendActivity: s.FrontendActivity,
	}
	if len(s.RoleLifetimes) > 0 {
		j.RoleLifetimes = make(map[string]int64, len(s.RoleLifetimes))
		for r, d := range s.RoleLifetimes {
			j.RoleLifetimes[r] = secs(d)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what [Settings.MarshalJSON] wrote.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("logout: decode settings: %w", err)
	}
	*s = Settings{
		Version: j.Version, Lifetime: time.Duration(j.Lifetime) * time.Second, ShowCounter: j.ShowCounter,
		AbsoluteLifetime: time.Duration(j.AbsoluteLifetime) * time.Second,
		WarningLead:      time.Duration(j.WarningLead) * time.Second, FrontendActivity: j.FrontendActivity,
	}
	if len(j.RoleLifetimes) > 0 {
		s.RoleLifetimes = make(map[string]time.Duration, len(j.RoleLifetimes))
		for r, n := range j.RoleLifetimes {
			s.RoleLifetimes[r] = time.Duration(n) * time.Second
		}
	}
	return nil
}
