package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/e2e"
	"github.com/gologout/logout/sqlitestore"
)

// newTestHandler is the app as run builds it, with its sessions in a
// fresh SQLite file and Logout's clock set to clock.
func newTestHandler(t *testing.T, clock logout.Clock) http.Handler {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	store, err := sqlitestore.New(t.Context(), filepath.Join(t.TempDir(), "sessions.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("session store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := logout.New(store, logout.Options{Clock: clock, Logger: logger})
	if err != nil {
		t.Fatalf("logout.New: %v", err)
	}
	return newServer(m, logger)
}

func TestEndToEnd(t *testing.T) { e2e.Run(t, newTestHandler) }

// urlRE finds the address that run prints once it listens.
var urlRE = regexp.MustCompile(`notes admin on (http://\S+/backend/)`)

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" when run serves until cancelled
	}{
		{"serves until cancelled", []string{"-addr", "127.0.0.1:0"}, ""},
		{"unknown flag", []string{"-port", "8080"}, "flags: flag provided but not defined: -port"},
		{"address that does not resolve", []string{"-addr", "no-such-host.invalid:0"}, "listen:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append(tt.args, "-data", data)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out, w := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := run(ctx, args, func(string) string { return "" }, w)
				w.CloseWithError(err)
				done <- err
			}()
			var base string
			sc := bufio.NewScanner(out)
			for base == "" && sc.Scan() {
				if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
					base = m[1]
				}
			}
			go io.Copy(io.Discard, out) // the rest of the log
			if tt.wantErr != "" {
				err := <-done
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("run: got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if base == "" {
				t.Fatalf("run printed no address: %v", <-done)
			}
			res, err := http.Get(base)
			if err != nil {
				t.Fatalf("GET %s: %v", base, err)
			}
			res.Body.Close()
			if want := "/backend/auth/signin?return=%2Fbackend%2F"; res.Request.URL.RequestURI() != want {
				t.Errorf("GET %s: got to %s, want %s", base, res.Request.URL.RequestURI(), want)
			}
			if _, err := os.Stat(filepath.Join(data, "sessions.db")); err != nil {
				t.Errorf("session database: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after cancel: got %v, want nil", err)
			}
		})
	}
}

func TestDemoLifetime(t *testing.T) {
	if demoLifetime(0) != nil {
		t.Error("no -lifetime: got settings, want the defaults")
	}
	set := demoLifetime(10 * time.Second)
	if _, err := logout.New(logout.NewMemoryStore(), logout.Options{Defaults: set}); err != nil || set.Lifetime != 10*time.Second || set.WarningLead != 5*time.Second {
		t.Errorf("-lifetime 10s: got %+v, %v; want a valid 10 s lifetime with a 5 s warning", set, err)
	}
}
