package logid_test

import (
	"testing"

	"github.com/gologout/logout/internal/logid"
)

func TestShort(t *testing.T) {
	for _, tc := range []struct{ name, id, want string }{
		{"a SHA-256 hex ID", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123456789ab"},
		{"twelve digits", "0123456789ab", "0123456789ab"},
		{"shorter", "abc", "abc"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logid.Short(tc.id); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if a := logid.Attr(tc.id); a.Key != "sid" || a.Value.String() != tc.want {
				t.Errorf("Attr: got %v, want sid=%s", a, tc.want)
			}
		})
	}
}
