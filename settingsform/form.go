// Package settingsform is the settings page's vocabulary for
// [logout.Settings]: the form field names, [Parse] and [Values] between
// form values and settings, the codes of a [logout.FieldError] with
// [FieldErrors] to read them by field, and [Diff], the audit trail's
// changes in words.
//
// The root package logout needs none of it to run: a Manager takes
// [logout.Settings] and reports invalid ones as [logout.FieldError]s,
// whose Field and Code are the names and codes below.
package settingsform

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// The form field names that [Parse] reads and [Values] writes, and that
// a [logout.FieldError] names in its Field.
const (
	FieldLifetime         = "lifetime"
	FieldShowCounter      = "show_counter"
	FieldAbsoluteLifetime = "absolute_lifetime"
	FieldWarningLead      = "warning_lead"
	FieldFrontendActivity = "frontend_activity"
	FieldMaxSessions      = "max_sessions"
	FieldPolicy           = "policy"
	FieldRetention        = "retention_days"
	FieldSignOutOnClose   = "sign_out_on_close"
	FieldCloseGrace       = "close_grace"
	// FieldRolePrefix starts the name of a per-role lifetime field:
	// "role_lifetime.editor" holds the idle lifetime of role "editor" in
	// seconds; an empty value means the role uses the global lifetime.
	FieldRolePrefix = "role_lifetime."
	// FieldUserPrefix starts the name of a per-user lifetime field:
	// "user_lifetime.alice" holds the idle lifetime of the user whose ID
	// is "alice", in seconds; an empty value means no override.
	FieldUserPrefix = "user_lifetime."
)

// The codes of a [logout.FieldError]: [Parse] returns the first three,
// and [logout.Settings.Validate] the others.
const (
	CodeRequired = "required" // empty
	CodeSyntax   = "syntax"   // not a plain decimal integer
	CodeFlag     = "flag"     // a checkbox value other than on or off
	CodeNegative = "negative" // below zero
	CodeMin      = "min"      // below Limit seconds
	CodeMax      = "max"      // above Limit seconds
	CodeWhole    = "whole"    // not a whole number of seconds
	CodeAbsolute = "absolute" // absolute lifetime below the idle lifetime (Limit)
	CodeWarning  = "warning"  // warning lead not below the idle lifetime (Limit)
	CodeRole     = "role"     // role lifetime not above the warning lead (Limit)
	CodeRoleName = "role_name"
	CodeUserName = "user_name" // a user ID that cannot be a field name
	CodePolicy   = "policy"    // not a known preset name
	CodePreset   = "preset"    // a value above what the named preset allows (Limit)
)

// FieldErrors returns the [logout.FieldError]s inside err by field name
// (the first for each field), for showing each next to its form field. It
// returns nil when err holds none.
func FieldErrors(err error) map[string]*logout.FieldError {
	var out map[string]*logout.FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *logout.FieldError:
			if out == nil {
				out = make(map[string]*logout.FieldError)
			}
			if _, ok := out[e.Field]; !ok {
				out[e.Field] = e
			}
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// Parse reads settings from form values, as posted by a settings form
// built from [Values]. Numbers must be plain decimal
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
// [*logout.FieldError] joined; the values are then checked with
// [logout.Settings.Validate] as well.
func Parse(form url.Values) (logout.Settings, error) {
	var s logout.Settings
	var errs []error
	// number reads a plain decimal number of unit (at most limit) from
	// field; blank is 0, or an error when required.
	number := func(field string, required bool, unit string, limit int64, max string) int64 {
		if len(form[field]) > 1 {
			errs = append(errs, &logout.FieldError{Field: field, Code: CodeSyntax, Reason: "must be given once"})
			return 0
		}
		v := strings.TrimSpace(form.Get(field))
		if v == "" {
			if required {
				errs = append(errs, &logout.FieldError{Field: field, Code: CodeRequired, Reason: "is required"})
			}
			return 0
		}
		n, fe := parseNumber(v, unit, limit, max)
		if fe != nil {
			fe.Field = field
			errs = append(errs, fe)
		}
		return n
	}
	year := secs(logout.MaxLifetime)
	num := func(field string, required bool) time.Duration {
		return time.Duration(number(field, required, "seconds", year, fmt.Sprintf("must be at most %d seconds (one year)", year))) * time.Second
	}
	count := func(field, unit string, limit int64) int64 {
		return number(field, false, unit, limit, fmt.Sprintf("must be at most %d %s", limit, unit))
	}
	flag := func(field string) bool {
		switch v := strings.TrimSpace(form.Get(field)); strings.ToLower(v) {
		case "on", "1", "true":
			return true
		case "", "0", "off", "false":
			return false
		default:
			errs = append(errs, &logout.FieldError{Field: field, Code: CodeFlag, Reason: fmt.Sprintf("must be on or off, not %q", v)})
			return false
		}
	}
	s.Lifetime = num(FieldLifetime, true)
	s.ShowCounter = flag(FieldShowCounter)
	s.AbsoluteLifetime = num(FieldAbsoluteLifetime, true)
	s.WarningLead = num(FieldWarningLead, true)
	s.FrontendActivity = flag(FieldFrontendActivity)
	s.SignOutOnClose = flag(FieldSignOutOnClose)
	s.CloseGrace = num(FieldCloseGrace, false)
	s.MaxSessions = int(count(FieldMaxSessions, "sessions", logout.MaxSessionLimit))
	s.Retention = time.Duration(count(FieldRetention, "days", int64(logout.MaxRetention/logout.RetentionUnit))) * logout.RetentionUnit
	if len(form[FieldPolicy]) > 1 {
		errs = append(errs, &logout.FieldError{Field: FieldPolicy, Code: CodeSyntax, Reason: "must be given once"})
	}
	s.Policy = strings.TrimSpace(form.Get(FieldPolicy))
	s.RoleLifetimes = lifetimes(form, FieldRolePrefix, num)
	s.UserLifetimes = lifetimes(form, FieldUserPrefix, num)
	if len(errs) > 0 {
		return logout.Settings{}, errors.Join(errs...)
	}
	if err := s.Validate(); err != nil {
		return logout.Settings{}, err
	}
	return s, nil
}

// lifetimes reads the non-blank fields named prefix+key into a map by key,
// or returns nil when there are none.
func lifetimes(form url.Values, prefix string, num func(string, bool) time.Duration) map[string]time.Duration {
	keys := make([]string, 0)
	for k := range form {
		if strings.HasPrefix(k, prefix) && strings.TrimSpace(form.Get(k)) != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	m := make(map[string]time.Duration, len(keys))
	for _, k := range keys {
		m[strings.TrimPrefix(k, prefix)] = num(k, true)
	}
	return m
}

// parseNumber parses a plain decimal count of unit, at most limit (max
// says so in words); its error lacks only the field name.
func parseNumber(v, unit string, limit int64, max string) (int64, *logout.FieldError) {
	if len(v) > 1 && v[0] == '-' && strings.Trim(v[1:], "0123456789") == "" {
		return 0, &logout.FieldError{Code: CodeNegative, Reason: "must not be negative"}
	}
	if strings.Trim(v, "0123456789") != "" {
		reason := "must be a whole number of " + unit + " written with digits 0-9"
		if len(v) <= 20 {
			reason += fmt.Sprintf(", not %q", v)
		}
		return 0, &logout.FieldError{Code: CodeSyntax, Reason: reason}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > limit {
		return 0, &logout.FieldError{Code: CodeMax, Limit: limit, Reason: max}
	}
	return n, nil
}

// Values returns s as form values, the inverse of [Parse]. Role
// lifetimes appear under [FieldRolePrefix] + role.
func Values(s logout.Settings) url.Values {
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
	for u, d := range s.UserLifetimes {
		v.Set(FieldUserPrefix+u, strconv.FormatInt(secs(d), 10))
	}
	v.Set(FieldMaxSessions, strconv.Itoa(s.MaxSessions))
	v.Set(FieldRetention, strconv.FormatInt(int64(s.Retention/logout.RetentionUnit), 10))
	if s.Policy != "" {
		v.Set(FieldPolicy, s.Policy)
	}
	if s.SignOutOnClose {
		v.Set(FieldSignOutOnClose, "on")
	}
	if s.CloseGrace != 0 {
		v.Set(FieldCloseGrace, strconv.FormatInt(secs(s.CloseGrace), 10))
	}
	return v
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }
