package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestExportShared: the proxy exports through the same subcommand as the
// backend, from its own store flags.
func TestExportShared(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string // in the output, or in the error when usage
		fail bool
	}{
		{"an empty log", []string{"events"}, "at,user_id,user,reason,session\n", false},
		{"an empty history as JSON", []string{"settings", "--format", "json"}, "[\n]\n", false},
		{"a bad filter", []string{"events", "--until", "soon"}, `until "soon"`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"export"}, tt.args...), "--data", t.TempDir())
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, func(string) string { return "" }, &out, &errOut, nil)
			if tt.fail {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want a usage error with %q", err, tt.want)
				}
				return
			}
			if err != nil || out.String() != tt.want {
				t.Errorf("got %q (%v), want %q", out.String(), err, tt.want)
			}
		})
	}
}
