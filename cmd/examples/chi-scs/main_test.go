package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/e2e"
)

// testApp is the app and what tests look into.
type testApp struct {
	handler  http.Handler
	sessions *scs.SessionManager
	logout   *logout.Manager
}

// newTestApp is the app as run builds it, with Logout's clock set to clock.
func newTestApp(t *testing.T, clock logout.Clock) testApp {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	sessions := scs.New()
	sessions.Store = memstore.NewWithCleanupInterval(0) // no cleanup goroutine
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{App: scsSessions{sessions, logger}, Clock: clock, Logger: logger})
	if err != nil {
		t.Fatalf("logout.New: %v", err)
	}
	return testApp{newServer(sessions, m, logger), sessions, m}
}

func TestEndToEnd(t *testing.T) {
	e2e.Run(t, func(t *testing.T, clock logout.Clock) http.Handler {
		return newTestApp(t, clock).handler
	})
}

// TestSCSSession checks that Logout works on the app's scs session: it
// keeps the session while it is used and destroys it, in scs's store
// and in the browser, when it has been idle too long or is signed out.
func TestSCSSession(t *testing.T) {
	var app testApp // the app of the running subtest
	tests := []struct {
		name string
		end  func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response // ends the session
	}{
		{"idle, found by a page of the backend", func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response {
			a.Clock.Advance(e2e.Lifetime + time.Second)
			return c.Get("/backend/")
		}},
		{"idle, found by the front page", func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response {
			a.Clock.Advance(e2e.Lifetime + time.Second)
			res := c.Get("/")
			if res.Status != http.StatusOK || strings.Contains(res.Body, "Signed in as") {
				t.Errorf("front page after the idle lifetime: got %d, signed in: %v; want 200, anonymous",
					res.Status, strings.Contains(res.Body, "Signed in as"))
			}
			return res
		}},
		{"idle, found by a script", func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response {
			a.Clock.Advance(e2e.Lifetime + time.Second)
			return c.Do(http.MethodGet, "/backend/api/notes", e2e.Script(), nil)
		}},
		{"idle, ended by the sweeper, then any request", func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response {
			a.Clock.Advance(e2e.Lifetime + time.Second)
			if err := app.logout.Sweep(t.Context()); err != nil {
				t.Fatalf("sweep: %v", err)
			}
			if evs, err := app.logout.Events(t.Context(), 10); err != nil || len(evs) != 1 || evs[0].Reason != logout.ReasonIdle {
				t.Fatalf("sign-out log after the sweep: got %v, %v; want one idle sign-out", evs, err)
			}
			// The sweeper has no request, so scs keeps its session
			// until the browser comes back.
			return c.Get("/")
		}},
		{"signed out", func(t *testing.T, a *e2e.App, c *e2e.Client) e2e.Response {
			return c.Post("/backend/auth/signout", nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e2e.NewApp(t, func(t *testing.T, clock logout.Clock) http.Handler {
				app = newTestApp(t, clock)
				return app.handler
			})
			sessions := app.sessions
			c := a.SignedIn(t)
			token := c.Cookie(sessions.Cookie.Name)
			if token == "" {
				t.Fatal("no scs cookie after signing in")
			}
			if res := c.Get("/"); !strings.Contains(res.Body, "Signed in as demo") {
				t.Errorf("front page after signing in: not signed in:\n%s", res.Body)
			}
			a.Clock.Advance(e2e.Lifetime - time.Minute)
			if res := c.Get("/backend/"); res.Status != http.StatusOK {
				t.Fatalf("dashboard within the idle lifetime: got %d, want 200", res.Status)
			}
			if c.Cookie(sessions.Cookie.Name) != token {
				t.Errorf("scs token changed without a sign-in")
			}

			res := tt.end(t, a, c)
			if _, found, err := sessions.Store.Find(token); err != nil || found {
				t.Errorf("scs store after the session ended: found %v, err %v; want gone", found, err)
			}
			if !strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), "\n"), sessions.Cookie.Name+"=;") {
				t.Errorf("Set-Cookie: got %q, want the scs cookie deleted", res.Header.Values("Set-Cookie"))
			}
			if got := c.Cookie(sessions.Cookie.Name); got != "" {
				t.Errorf("browser still sends the scs cookie %q", got)
			}
		})
	}
}

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
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out, w := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := run(ctx, tt.args, func(string) string { return "" }, w)
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
