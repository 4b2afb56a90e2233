package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gologout/logout/cmd/internal/e2e"
)

// goal is how many lines adding Logout to an app should take.
const goal = 15

// TestLogoutLines keeps each example's Logout lines within its budget:
// adding Logout to an app should take a screenful, not a chapter. The
// budgets are today's counts, so that they can only go down; they are
// above the goal of 15 until the library's API changes that README.md
// lists ("Line counts") make the examples shorter.
func TestLogoutLines(t *testing.T) {
	tests := []struct {
		name    string
		example string
		max     int
	}{
		{"net/http in cookie mode", "nethttp", 38},
		{"chi with scs sessions", "chi-scs", 36},
		{"single sign-on through an OpenID provider", "oidc", 58},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "..", "examples", tt.example, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			got := e2e.LogoutLines(string(src))
			if got > goal {
				t.Logf("%s/main.go: %d lines marked // Logout, above the goal of %d", tt.example, got, goal)
			}
			if got > tt.max {
				t.Errorf("%s/main.go: got %d lines marked // Logout, want at most %d", tt.example, got, tt.max)
			}
		})
	}
}

func TestLogoutLinesCounts(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"code with marker", "\tm.Handler(mux) // Logout\n", 1},
		{"marker with a why", "\tgo m.Run(ctx) // Logout: sweeps\n", 1},
		{"template marker", "{{.Logout.Script}}{{/* Logout */}}\n", 1},
		{"comment-only line", "// Logout is added here // Logout\n", 0},
		{"word in a comment", "\tx := 1 // Logouts are counted\n", 0},
		{"unmarked code", "\tmux.Handle(\"/\", h)\n", 0},
		{"marker inside a string", "\ts := \"// Logout\"\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e2e.LogoutLines(tt.src); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
