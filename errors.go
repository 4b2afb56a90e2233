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

// A FieldError is one invalid settings field: [Settings.Validate] and
// [ParseSettings] return them joined with errors.Join.
type FieldError struct {
	// Field is the form field name, one of the Field constants.
	Field string
	// Code says what is wrong, for translation: one of the Code constants.
	Code string
	// Limit is the bound that Code refers to, or 0: seconds for a
	// lifetime, a count for [FieldMaxSessions], days for [FieldRetention].
	Limit int64
	// Reason says what is wrong in English words fit for the form.
	Reason string
}

// The codes of a [FieldError].
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

// Error names the field and the reason.
func (e *FieldError) Error() string { return "logout: " + e.Field + ": " + e.Reason }

// FieldErrors returns the [FieldError]s inside err by field name (the
// first for each field), for showing each next to its form field. It
// returns nil when err holds none.
func FieldErrors(err error) map[string]*FieldError {
	var out map[string]*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			if out == nil {
				out = make(map[string]*FieldError)
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
