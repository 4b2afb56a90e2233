package backend_test

import (
	"errors"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

func TestOpenStore(t *testing.T) {
	tests := []struct {
		name, url string
		err       error // nil: opens
	}{
		{"default", "", nil},
		{"sqlite", "sqlite", nil},
		{"unknown scheme", "mongodb://localhost/db", backend.ErrUnknownStore},
		{"bare word", "memory", backend.ErrUnknownStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, closeStore, err := backend.OpenStore(t.Context(), tt.url, t.TempDir())
			if tt.err != nil {
				if !errors.Is(err, tt.err) || s != nil {
					t.Fatalf("OpenStore(%q) = %v, %v; want an error wrapping %v", tt.url, s, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenStore(%q): %v", tt.url, err)
			}
			if _, err := s.CountSessions(t.Context(), logout.ListOptions{}); err != nil {
				t.Errorf("store does not answer: %v", err)
			}
			if err := closeStore(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}
