package logout

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
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
	// DefaultCloseGrace is how long every backend tab may stay closed
	// before [Settings.SignOutOnClose] ends the session: 30 seconds, so
	// that reloads and navigation do not count.
	DefaultCloseGrace = 30 * time.Second
	// MaxSessionLimit is the highest [Settings.MaxSessions].
	MaxSessionLimit = 1000
	// MaxCloseGrace is the longest [Settings.CloseGrace]: one hour.
	MaxCloseGrace = time.Hour
	// RetentionUnit is the unit of [Settings.Retention]: one day.
	RetentionUnit = 24 * time.Hour
	// MaxRetention is the longest [Settings.Retention]: ten years.
	MaxRetention = 3660 * RetentionUnit
)

// The compliance presets that [Settings.Policy] names; see [Presets].
const (
	PolicyCustom   = "custom"
	PolicyPCIDSS   = "pci-dss"
	PolicyNISTAAL2 = "nist-aal2"
	PolicyNISTAAL3 = "nist-aal3"
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
	// UserLifetimes are idle lifetimes by user ID: overrides for one
	// person. Like a role lifetime, an override may be shorter or longer
	// than Lifetime (an exemption); when several rules apply to a
	// session, the shortest wins.
	UserLifetimes map[string]time.Duration
	// FrontendActivity makes front-end requests count as activity.
	// Default false: only backend requests extend a session.
	FrontendActivity bool
	// MaxSessions limits how many sessions one user may hold at once;
	// a sign-in beyond it ends that user's oldest session
	// ([ReasonLimit]), and after a change of the settings the sweeper
	// ends the oldest sessions of every user above it. 0 (the default) means no limit; at most
	// [MaxSessionLimit].
	MaxSessions int
	// Policy names the compliance preset these values were filled from
	// ([PolicyPCIDSS], [PolicyNISTAAL2], [PolicyNISTAAL3]), or
	// [PolicyCustom]; "" is read as custom. It is a record for auditors:
	// [Settings.Validate] checks that the values still meet the preset
	// it names, and the values alone decide what happens.
	Policy string
	// Retention is how long the sign-out log and the settings history
	// are kept: whole days, 0 (the default) for the Manager's
	// [Options.EventRetention], at most [MaxRetention].
	Retention time.Duration
	// SignOutOnClose ends a session once no tab of the backend has been
	// open for CloseGrace ([ReasonClosed]). Default false. It needs the
	// widget's push connection, which tells the server a tab is open.
	// Behind a load balancer, route a browser's requests to one instance
	// (sticky sessions): a stream that reconnects to another instance,
	// with no other request, does not cancel the first one's grace.
	SignOutOnClose bool
	// CloseGrace is how long every tab may stay closed before
	// SignOutOnClose ends the session: 1 s to [MaxCloseGrace]; 0 means
	// [DefaultCloseGrace].
	CloseGrace time.Duration

	// ChangedBy is who saved this version, as the caller of
	// [Manager.UpdateSettings] named them; "" for settings never saved.
	// It is a record for audits, like ChangedAt: neither is a value that
	// [Settings.Validate] checks or [Settings.Equal] compares.
	ChangedBy string
	// ChangedAt is when this version was saved, by the Manager's clock,
	// to the microsecond; zero for settings never saved.
	ChangedAt time.Time
}

// A Preset is a compliance baseline for [Settings]: the limits it
// requires and where they come from.
type Preset struct {
	// Name is the value of [Settings.Policy], such as [PolicyPCIDSS].
	Name string
	// Title is the human name, such as "PCI DSS v4.0 8.2.8".
	Title string
	// Source says where the numbers come from, for the settings page.
	Source string
	// Lifetime is the longest idle lifetime the preset allows.
	Lifetime time.Duration
	// AbsoluteLifetime is the longest overall session the preset
	// allows; 0 means it sets none.
	AbsoluteLifetime time.Duration
}

// Presets returns the compliance presets that [Settings.Policy] may name,
// in the order a settings page lists them.
func Presets() []Preset {
	return []Preset{
		{Name: PolicyPCIDSS, Title: "PCI DSS v4.0 requirement 8.2.8", Lifetime: 15 * time.Minute,
			Source: "PCI DSS v4.0, requirement 8.2.8: a session idle for more than 15 minutes requires the user to authenticate again."},
		{Name: PolicyNISTAAL2, Title: "NIST SP 800-63B-4, AAL2", Lifetime: time.Hour, AbsoluteLifetime: 24 * time.Hour,
			Source: "NIST SP 800-63B-4, section 2.2.3 (AAL2 reauthentication): at least once per 24 hours, and after 1 hour of inactivity."},
		{Name: PolicyNISTAAL3, Title: "NIST SP 800-63B-4, AAL3", Lifetime: 15 * time.Minute, AbsoluteLifetime: 12 * time.Hour,
			Source: "NIST SP 800-63B-4, section 2.3.3 (AAL3 reauthentication): at least once per 12 hours, and after 15 minutes of inactivity."},
	}
}

// PresetNamed returns the preset called name, or false.
func PresetNamed(name string) (Preset, bool) {
	for _, p := range Presets() {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// Apply returns s with its idle and absolute lifetimes set to the
// preset's and Policy set to its name; everything else is kept.
func (p Preset) Apply(s Settings) Settings {
	s.Lifetime, s.AbsoluteLifetime, s.Policy = p.Lifetime, p.AbsoluteLifetime, p.Name
	return s
}

// closeGrace returns CloseGrace, or its default.
func (s Settings) closeGrace() time.Duration {
	if s.CloseGrace == 0 {
		return DefaultCloseGrace
	}
	return s.CloseGrace
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

// IdleLifetime returns the idle lifetime of the user userID with the
// given roles: the shortest of their user override and role lifetimes, or
// Lifetime when none applies.
func (s Settings) IdleLifetime(userID string, roles []string) time.Duration {
	d, _ := s.UserLifetimes[userID]
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
	d := sess.LastSeen.Add(s.IdleLifetime(sess.UserID, sess.Roles))
	if s.AbsoluteLifetime > 0 {
		if a := sess.Created.Add(s.AbsoluteLifetime); !a.After(d) {
			return a, ReasonAbsolute
		}
	}
	return d, ReasonIdle
}

// Equal reports whether s and t hold the same values, Version included
// (ChangedBy and ChangedAt, which record the save, are not compared).
func (s Settings) Equal(t Settings) bool {
	return s.Version == t.Version && s.Lifetime == t.Lifetime && s.ShowCounter == t.ShowCounter &&
		s.AbsoluteLifetime == t.AbsoluteLifetime && s.WarningLead == t.WarningLead &&
		s.FrontendActivity == t.FrontendActivity && mapsEqual(s.RoleLifetimes, t.RoleLifetimes) &&
		mapsEqual(s.UserLifetimes, t.UserLifetimes) && s.MaxSessions == t.MaxSessions && s.Policy == t.Policy &&
		s.Retention == t.Retention && s.SignOutOnClose == t.SignOutOnClose && s.CloseGrace == t.CloseGrace
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
// invalid field, joined with errors.Join; package settingsform reads them
// by field (settingsform.FieldErrors).
func (s Settings) Validate() error {
	var errs []error
	bad := func(field, code string, limit int64, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Code: code, Limit: limit, Reason: fmt.Sprintf(format, args...)})
	}
	year := secs(MaxLifetime)
	lifetimeOK := true
	switch {
	case s.Lifetime < time.Second:
		bad(fieldLifetime, codeMin, 1, "must be at least 1 second")
		lifetimeOK = false
	case s.Lifetime > MaxLifetime:
		bad(fieldLifetime, codeMax, year, "must be at most %d seconds (one year)", year)
		lifetimeOK = false
	case s.Lifetime%time.Second != 0:
		bad(fieldLifetime, codeWhole, 0, "must be a whole number of seconds")
		lifetimeOK = false
	}
	switch {
	case s.AbsoluteLifetime < 0:
		bad(fieldAbsoluteLifetime, codeNegative, 0, "must not be negative")
	case s.AbsoluteLifetime == 0:
	case s.AbsoluteLifetime > MaxLifetime:
		bad(fieldAbsoluteLifetime, codeMax, year, "must be at most %d seconds (one year)", year)
	case s.AbsoluteLifetime%time.Second != 0:
		bad(fieldAbsoluteLifetime, codeWhole, 0, "must be a whole number of seconds")
	case lifetimeOK && s.AbsoluteLifetime < s.Lifetime:
		bad(fieldAbsoluteLifetime, codeAbsolute, secs(s.Lifetime), "must be 0 (off) or at least the session lifetime (%d seconds)", secs(s.Lifetime))
	}
	switch {
	case s.WarningLead < 0:
		bad(fieldWarningLead, codeNegative, 0, "must not be negative")
	case s.WarningLead%time.Second != 0:
		bad(fieldWarningLead, codeWhole, 0, "must be a whole number of seconds")
	case lifetimeOK && s.WarningLead >= s.Lifetime:
		bad(fieldWarningLead, codeWarning, secs(s.Lifetime), "must be less than the session lifetime (%d seconds)", secs(s.Lifetime))
	}
	rules := func(m map[string]time.Duration, prefix string, valid func(string) bool, code, invalid string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v, field := m[k], prefix+k
			switch {
			case !valid(k):
				bad(field, code, 0, "%s", invalid)
			case v < time.Second:
				bad(field, codeMin, 1, "must be at least 1 second")
			case v > MaxLifetime:
				bad(field, codeMax, year, "must be at most %d seconds (one year)", year)
			case v%time.Second != 0:
				bad(field, codeWhole, 0, "must be a whole number of seconds")
			case s.WarningLead > 0 && v <= s.WarningLead:
				bad(field, codeRole, secs(s.WarningLead), "must be more than the warning lead (%d seconds)", secs(s.WarningLead))
			}
		}
	}
	rules(s.RoleLifetimes, fieldRolePrefix, validRole, codeRoleName, "role name must be 1 to 64 letters, digits, '-' or '_'")
	rules(s.UserLifetimes, fieldUserPrefix, validUserID, codeUserName, "user ID must be 1 to 128 printable characters without spaces")
	switch {
	case s.MaxSessions < 0:
		bad(fieldMaxSessions, codeNegative, 0, "must not be negative")
	case s.MaxSessions > MaxSessionLimit:
		bad(fieldMaxSessions, codeMax, MaxSessionLimit, "must be at most %d sessions", MaxSessionLimit)
	}
	days := int64(MaxRetention / RetentionUnit)
	switch {
	case s.Retention < 0:
		bad(fieldRetention, codeNegative, 0, "must not be negative")
	case s.Retention > MaxRetention:
		bad(fieldRetention, codeMax, days, "must be at most %d days", days)
	case s.Retention%RetentionUnit != 0:
		bad(fieldRetention, codeWhole, 0, "must be a whole number of days")
	}
	switch {
	case s.CloseGrace < 0:
		bad(fieldCloseGrace, codeNegative, 0, "must not be negative")
	case s.CloseGrace > MaxCloseGrace:
		bad(fieldCloseGrace, codeMax, secs(MaxCloseGrace), "must be at most %d seconds (one hour)", secs(MaxCloseGrace))
	case s.CloseGrace%time.Second != 0:
		bad(fieldCloseGrace, codeWhole, 0, "must be a whole number of seconds")
	}
	if s.Policy != "" && s.Policy != PolicyCustom {
		p, ok := PresetNamed(s.Policy)
		switch {
		case !ok:
			bad(fieldPolicy, codePolicy, 0, "must be one of custom, %s, %s or %s", PolicyPCIDSS, PolicyNISTAAL2, PolicyNISTAAL3)
		case lifetimeOK && s.Lifetime > p.Lifetime:
			bad(fieldLifetime, codePreset, secs(p.Lifetime), "must be at most %d seconds under %s", secs(p.Lifetime), p.Title)
		case p.AbsoluteLifetime > 0 && (s.AbsoluteLifetime == 0 || s.AbsoluteLifetime > p.AbsoluteLifetime):
			bad(fieldAbsoluteLifetime, codePreset, secs(p.AbsoluteLifetime), "must be set and at most %d seconds under %s", secs(p.AbsoluteLifetime), p.Title)
		}
	}
	return errors.Join(errs...)
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// validUserID reports whether u can be a user override's key: 1 to 128
// bytes of printable ASCII or UTF-8 without spaces or control characters.
func validUserID(u string) bool {
	if u == "" || len(u) > 128 || !utf8.ValidString(u) {
		return false
	}
	for _, c := range u {
		if c <= ' ' || c == 0x7f || unicode.IsSpace(c) || unicode.IsControl(c) {
			return false
		}
	}
	return true
}

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

// settingsJSON is the stored form of Settings: durations in seconds.
type settingsJSON struct {
	Version          int64            `json:"version"`
	Lifetime         int64            `json:"lifetime"`
	ShowCounter      bool             `json:"show_counter"`
	AbsoluteLifetime int64            `json:"absolute_lifetime"`
	WarningLead      int64            `json:"warning_lead"`
	RoleLifetimes    map[string]int64 `json:"role_lifetimes,omitempty"`
	UserLifetimes    map[string]int64 `json:"user_lifetimes,omitempty"`
	FrontendActivity bool             `json:"frontend_activity"`
	MaxSessions      int              `json:"max_sessions,omitempty"`
	Policy           string           `json:"policy,omitempty"`
	RetentionDays    int64            `json:"retention_days,omitempty"`
	SignOutOnClose   bool             `json:"sign_out_on_close,omitempty"`
	CloseGrace       int64            `json:"close_grace,omitempty"`
	ChangedBy        string           `json:"changed_by,omitempty"`
	ChangedAt        int64            `json:"changed_at,omitempty"` // Unix µs
}

func secondsMap(m map[string]time.Duration) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, d := range m {
		out[k] = secs(d)
	}
	return out
}

func durationMap(m map[string]int64) map[string]time.Duration {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]time.Duration, len(m))
	for k, n := range m {
		out[k] = time.Duration(n) * time.Second
	}
	return out
}

// MarshalJSON encodes s with durations in whole seconds (the retention
// in days) and ChangedAt in Unix microseconds; stores use it to keep settings as one document.
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(settingsJSON{
		Version: s.Version, Lifetime: secs(s.Lifetime), ShowCounter: s.ShowCounter,
		AbsoluteLifetime: secs(s.AbsoluteLifetime), WarningLead: secs(s.WarningLead),
		RoleLifetimes: secondsMap(s.RoleLifetimes), UserLifetimes: secondsMap(s.UserLifetimes),
		FrontendActivity: s.FrontendActivity, MaxSessions: s.MaxSessions, Policy: s.Policy,
		RetentionDays: int64(s.Retention / RetentionUnit), SignOutOnClose: s.SignOutOnClose,
		CloseGrace: secs(s.CloseGrace), ChangedBy: s.ChangedBy, ChangedAt: unixMicro(s.ChangedAt),
	})
}

// unixMicro is t in Unix microseconds, 0 for the zero time.
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
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
		WarningLead:      time.Duration(j.WarningLead) * time.Second,
		RoleLifetimes:    durationMap(j.RoleLifetimes), UserLifetimes: durationMap(j.UserLifetimes),
		FrontendActivity: j.FrontendActivity, MaxSessions: j.MaxSessions, Policy: j.Policy,
		Retention: time.Duration(j.RetentionDays) * RetentionUnit, SignOutOnClose: j.SignOutOnClose,
		CloseGrace: time.Duration(j.CloseGrace) * time.Second, ChangedBy: j.ChangedBy,
	}
	if j.ChangedAt != 0 {
		s.ChangedAt = time.UnixMicro(j.ChangedAt).UTC()
	}
	return nil
}
