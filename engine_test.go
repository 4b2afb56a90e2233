package logout

import (
	"slices"
	"testing"
)

// TestShareRoles: entries of equal roles share one role set, and roles
// that join to the same key are never mistaken for each other.
func TestShareRoles(t *testing.T) {
	var sh shard
	a := sh.shareRoles([]string{"admin", "editor"})
	tests := []struct {
		name  string
		roles []string
		same  bool // shares a's set
	}{
		{"equal roles", []string{"admin", "editor"}, true},
		{"other order", []string{"editor", "admin"}, false},
		{"same joined key", []string{"admin\x00editor"}, false},
		{"no roles", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sh.shareRoles(tt.roles)
			if !slices.Equal(got.roles, tt.roles) {
				t.Fatalf("got %q, want %q", got.roles, tt.roles)
			}
			if (got == a) != tt.same {
				t.Fatalf("shares the set of %q: got %v, want %v", a.roles, got == a, tt.same)
			}
		})
	}
	if r := sh.shareRoles([]string{"admin", "editor"}).roles; cap(r) != len(r) {
		t.Fatalf("cap %d, len %d: an append would write into the shared set", cap(r), len(r))
	}
}
