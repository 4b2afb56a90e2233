package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFirstStart checks what a new user meets: the proxy's own
// administrator, named apart from any panel's "admin", printed once, and
// admin pages named for the proxy.
func TestFirstStart(t *testing.T) {
	panel := httptest.NewServer(http.NotFoundHandler())
	defer panel.Close()
	s := start(t, panel.URL, nil)
	m := regexp.MustCompile(`user proxy-admin  password (\S{16})\n`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("first start printed %q, want the administrator proxy-admin with a password", s.out.String())
	}
	c := newClient(t, s.base)
	_, body := c.do("GET", "/logout-proxy/auth/signin", nil)
	if !strings.Contains(body, "– Logout proxy</title>") || strings.Contains(body, "Backend") || strings.Contains(body, "reference backend") {
		t.Errorf("the sign-in page is not named for the proxy:\n%s", body)
	}
	c.adminSignIn("proxy-admin", m[1])
	if _, body = c.do("GET", "/logout-proxy", nil); !strings.Contains(body, `class="brand"`) || !strings.Contains(body, ">Logout proxy</a>") {
		t.Errorf("the dashboard's header does not name the proxy:\n%s", body)
	}
}

// TestBackendDataRefused starts the proxy on a data directory that the
// backend made: it must refuse, saying so, rather than use the backend's
// users and settings.
func TestBackendDataRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "made-by"), []byte("backend\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--profile", "django", "--data", dir},
		func(string) string { return "" }, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "was made by backend, not logout-proxy") {
		t.Fatalf("got %v, want the backend's directory refused", err)
	}
}
