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
	// ErrConflict is returned by [Store.SaveSettings] when the stored
	// version is not the one the caller read, and by [Store.CreateSession]
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

func (e *EndedError) Error() string {
	return fmt.Sprintf("logout: session ended (%s) at %s", e.Reason, e.At.UTC().Format(time.RFC3339))
}

// A FieldError is one invalid settings field: [Settings.Validate] and
// [ParseSettings] return them joined with errors.Join. Field is the form
// field name, Reason says what is wrong in words fit for the form.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "logout: " + e.Field + ": " + e.Reason }

// FieldErrors returns the [FieldError]s inside err by field name, for
// showing each next to its form field. It returns nil when err holds none.
func FieldErrors(err error) map[string]string {
	var out map[string]string
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			if out == nil {
				out = make(map[string]string)
			}
			if _, ok := out[e.Field]; !ok {
				out[e.Field] = e.Reason
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
