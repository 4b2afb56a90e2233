package backend_test

import (
	"net/http"
	"testing"

	"github.com/gologout/logout/cmd/internal/backend"
)

// TestSetAdminPassword resets the administrator's password while the App
// runs, and creates a second administrator, as "reset-password" does.
func TestSetAdminPassword(t *testing.T) {
	e := start(t, "", nil)
	c, created, err := backend.SetAdminPassword(t.Context(), e.dir, "admin", "")
	if err != nil || created || len(c.Password) != 16 || c.Role != "" {
		t.Fatalf("reset admin: got %+v, created %v, %v; want a new 16-letter password for the existing user", c, created, err)
	}
	if r := e.client().signIn("admin", adminPassword, nil); r.StatusCode == http.StatusSeeOther {
		t.Error("the old password still signs in")
	}
	e.client().mustSignIn("admin", c.Password)

	ops, created, err := backend.SetAdminPassword(t.Context(), e.dir, "ops", "ops-password-1")
	if err != nil || !created || ops.Role != backend.RoleAdmin {
		t.Fatalf("create ops: got %+v, created %v, %v; want a new administrator", ops, created, err)
	}
	cl := e.client()
	cl.mustSignIn("ops", "ops-password-1")
	wantStatus(t, cl.get("/backend/system/settings/user-session"), http.StatusOK)

	if _, _, err := backend.SetAdminPassword(t.Context(), e.dir, "ops", "short"); err == nil {
		t.Error("a 5-byte password: got no error")
	}
}
