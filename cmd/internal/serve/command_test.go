package serve_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gologout/logout/cmd/internal/serve"
)

var (
	backendCmd = serve.Command{Name: "backend", Addr: "127.0.0.1:8080", Data: "./data", AdminUser: "admin"}
	proxyCmd   = serve.Command{Name: "logout-proxy", Addr: "127.0.0.1:8090", Data: "./logout-proxy-data", AdminUser: "proxy-admin"}
)

func TestClaimData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := backendCmd.ClaimData(dir); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := backendCmd.ClaimData(dir); err != nil {
		t.Errorf("the same command again: %v", err)
	}
	err := proxyCmd.ClaimData(dir)
	if err == nil {
		t.Fatal("the other command: got no error")
	}
	for _, want := range []string{"was made by backend, not logout-proxy", "--data", "./logout-proxy-data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to say %q", err, want)
		}
	}

	// A directory from before the record (users.db, no record) is claimed.
	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, "users.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := proxyCmd.ClaimData(old); err != nil {
		t.Errorf("older directory: %v", err)
	}
	if err := backendCmd.ClaimData(old); err == nil {
		t.Error("older directory claimed by logout-proxy, then by backend: got no error")
	}
}

func TestClaimDataPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write anywhere: no permission problem to see")
	}
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(parent, 0o700) })
	err := proxyCmd.ClaimData(filepath.Join(parent, "data"))
	if err == nil || !strings.Contains(err.Error(), "permission denied (does the user running this command own the data directory?)") {
		t.Errorf("got %v, want the permission problem named", err)
	}
}

func TestResetPassword(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"LOGOUT_DATA": dir}[k] }
	password := regexp.MustCompile(`password (\S{16})\n`)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string // in the output
		err   string
	}{
		{"creates the administrator", nil, "", "Administrator created: proxy-admin in " + dir, ""},
		{"resets it", nil, "", "New password for proxy-admin", ""},
		{"names another user", []string{"ops"}, "", "Administrator created: ops", ""},
		{"from standard input", []string{"--password-stdin", "ops"}, "correct horse battery\n", "New password for ops (password from standard input)", ""},
		{"short password from standard input", []string{"--password-stdin"}, "short\n", "", "8 to 72 bytes"},
		{"empty standard input", []string{"--password-stdin"}, "", "", "holds no password"},
		{"two users", []string{"a", "b"}, "", "", `unexpected argument "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := proxyCmd.ResetPassword(t.Context(), tc.args, getenv, strings.NewReader(tc.stdin), &out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
			if printed := password.MatchString(out.String()); printed == (tc.stdin != "") {
				t.Errorf("got %q: the password must be printed once when made, never when read", out.String())
			}
		})
	}
	var out bytes.Buffer
	err := backendCmd.ResetPassword(t.Context(), nil, getenv, strings.NewReader(""), &out)
	if err == nil || !strings.Contains(err.Error(), "made by logout-proxy") {
		t.Errorf("backend reset-password on the proxy's data: got %v, want it refused", err)
	}
}
