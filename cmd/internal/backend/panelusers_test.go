package backend

import (
	"strings"
	"testing"

	"github.com/gologout/logout/proxy"
)

// TestResolveUser: a name typed in a per-user rule or a filter names the
// backend's own user, or behind logout-proxy the panel's user compared as
// the panel compares names; the admin pages' user "1" and the panel's user
// "1" are never one.
func TestResolveUser(t *testing.T) {
	names := map[string]string{"1": "proxyadmin", "2": "editor"}
	lower := func(n string) string { return proxy.PanelUser(strings.ToLower(n)) }
	tests := []struct {
		name, typed string
		panel       func(string) string
		want        string
	}{
		{"a backend user's name", "proxyadmin", lower, "1"},
		{"a backend user's ID", "2", nil, "2"},
		{"a panel user, as the panel compares", "ADMIN", lower, "panel:admin"},
		{"a panel user named like a backend ID", "1", lower, "1"},
		{"a panel user as the pages show it", "1 (panel)", lower, "panel:1"},
		{"a panel user's ID", "panel:Admin", lower, "panel:Admin"},
		{"no panel: the text as a user ID", "alice", nil, "alice"},
		{"no panel: a panel user as shown", "bob (panel)", nil, "panel:bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolveUser(tt.typed, names, tt.panel); got != tt.want {
				t.Errorf("resolveUser(%q) = %q, want %q", tt.typed, got, tt.want)
			}
		})
	}
	if got := displayUser("panel:1", names); got != "1 (panel)" {
		t.Errorf("displayUser(panel:1) = %q, want 1 (panel)", got)
	}
}
