package logout

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned by a [Store] when a session, event or
	// settings record does not exist.
	ErrNotFound = errors.New("logout: not found")
	// ErrConflict is returned by [SettingsStore.SaveSettings] when the stored
	// version is not the one the caller read, and by [SessionStore.CreateSession]
	// when the ID is taken.
	ErrConflict = errors.New("logout: conflict")
	// ErrNoSession is returned by [Manager.Check] when a request carries no
	// session at all.
	ErrNoSession = errors.New("logout: no session")
	// ErrUnavailable wraps store failures on the request path: the
	// middleware fails closed with 503 on backend requests.
	ErrUnavailable = errors.New("logout: store unavailable")
)

// An EndedError tells that a request's session has ended, why and when.
// [Manager.Check] returns it; use errors.As to read it.
type EndedError struct {
	Reason Reason
	At     time.Time
}

// Error says why and when the session ended.
func (e *EndedError) Error() string {
	return fmt.Sprintf("logout: session ended (%s) at %s", e.Reason, e.At.UTC().Format(time.RFC3339))
}

// A FieldError is one invalid settings field: [Settings.Validate] (and so
// [Manager.UpdateSettings]) returns them joined with errors.Join. Package
// [github.com/gologout/logout/settingsform] names the fields and codes
// and reads the errors by field with its FieldErrors.
type FieldError struct {
	// Field is the settings form's name of the field, such as
	// "lifetime" or "role_lifetime.editor" (settingsform.FieldLifetime,
	// settingsform.FieldRolePrefix+"editor").
	Field string
	// Code says what is wrong, for translation: one of the codes that
	// package settingsform names, such as "max" (settingsform.CodeMax).
	Code string
	// Limit is the bound that Code refers to, or 0: seconds for a
	// lifetime, a count for the session limit, days for the retention.
	Limit int64
	// Reason says what is wrong in English words fit for the form.
	Reason string
}

// Error names the field and the reason.
func (e *FieldError) Error() string { return "logout: " + e.Field + ": " + e.Reason }

// The field names and codes that [Settings.Validate] puts in a
// [FieldError]: the settings form's vocabulary, which package settingsform
// exports under the same values (its tests hold the two lists equal).
const (
	fieldLifetime         = "lifetime"
	fieldShowCounter      = "show_counter"
	fieldAbsoluteLifetime = "absolute_lifetime"
	fieldWarningLead      = "warning_lead"
	fieldFrontendActivity = "frontend_activity"
	fieldMaxSessions      = "max_sessions"
	fieldPolicy           = "policy"
	fieldRetention        = "retention_days"
	fieldSignOutOnClose   = "sign_out_on_close"
	fieldCloseGrace       = "close_grace"
	fieldRolePrefix       = "role_lifetime."
	fieldUserPrefix       = "user_lifetime."

	codeNegative = "negative"
	codeMin      = "min"
	codeMax      = "max"
	codeWhole    = "whole"
	codeAbsolute = "absolute"
	codeWarning  = "warning"
	codeRole     = "role"
	codeRoleName = "role_name"
	codeUserName = "user_name"
	codePolicy   = "policy"
	codePreset   = "preset"
)
