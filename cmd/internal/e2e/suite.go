package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// An App is one example app under test, on its own server and clock.
type App struct {
	Server *httptest.Server
	Clock  *fakeclock.Clock
}

// NewApp starts the handler that newHandler returns for a fresh fake
// clock on an httptest server, closed when t ends.
func NewApp(t *testing.T, newHandler func(t *testing.T, clock logout.Clock) http.Handler) *App {
	t.Helper()
	clock := fakeclock.New()
	srv := httptest.NewServer(newHandler(t, clock))
	t.Cleanup(srv.Close)
	return &App{Server: srv, Clock: clock}
}

// SignedIn returns a client of a that has signed in as the demo user.
func (a *App) SignedIn(t *testing.T) *Client {
	t.Helper()
	c := NewClient(t, a.Server)
	if res := c.SignIn(SignInPath, Password); res.Status != http.StatusSeeOther || res.Location() != "/backend/" {
		t.Fatalf("sign in: got %d to %q, want 303 to /backend/", res.Status, res.Location())
	}
	return c
}

// Run is the suite that every example passes: sign-in, the counter,
// the idle sign-out of pages and scripts, anonymous requests, the front
// page, the return path and the sign-out, each as a subtest on a fresh
// app. newHandler returns the app's handler with Logout's clock set to
// clock (logout.Options.Clock).
func Run(t *testing.T, newHandler func(t *testing.T, clock logout.Clock) http.Handler) {
	idle := Lifetime + time.Second // just past the idle lifetime
	tests := []struct {
		name string
		run  func(t *testing.T, a *App)
	}{
		{"dashboard shows the counter", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			res := c.Get("/backend/")
			if res.Status != http.StatusOK {
				t.Fatalf("dashboard: got %d, want 200", res.Status)
			}
			deadline, serverTime, ok := Counter(res.Body)
			if !ok {
				t.Fatalf("dashboard has no logout-counter element:\n%s", res.Body)
			}
			if want := a.Clock.Now().Truncate(time.Millisecond); !serverTime.Equal(want) {
				t.Errorf("data-server-time: got %v, want %v", serverTime, want)
			}
			if got := deadline.Sub(serverTime); got != Lifetime {
				t.Errorf("data-deadline - data-server-time: got %v, want %v", got, Lifetime)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			src := ScriptURL(res.Body)
			if src == "" {
				t.Fatalf("dashboard has no widget script tag")
			}
			if js := c.Do(http.MethodGet, src, nil, nil); js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
				t.Errorf("GET %s: got %d %q, want 200 text/javascript", src, js.Status, js.Header.Get("Content-Type"))
			}
		}},
		{"activity extends the session", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			for range 3 {
				a.Clock.Advance(Lifetime - time.Minute)
				res := c.Get("/backend/")
				if res.Status != http.StatusOK {
					t.Fatalf("dashboard after %v idle: got %d, want 200", Lifetime-time.Minute, res.Status)
				}
				if deadline, _, _ := Counter(res.Body); !deadline.Equal(a.Clock.Now().Add(Lifetime)) {
					t.Errorf("data-deadline: got %v, want %v", deadline, a.Clock.Now().Add(Lifetime))
				}
			}
		}},
		{"idle page load: 303 to the sign-in page", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			a.Clock.Advance(idle)
			res := c.Get("/backend/?tab=mine")
			want := SignInPath + "?" + url.Values{"reason": {"idle"}, "return": {"/backend/?tab=mine"}}.Encode()
			if res.Status != http.StatusSeeOther || res.Location() != want {
				t.Fatalf("got %d to %q, want 303 to %q", res.Status, res.Location(), want)
			}
			// The session is gone: the next load is anonymous.
			res = c.Get("/backend/")
			want = SignInPath + "?return=%2Fbackend%2F"
			if res.Status != http.StatusSeeOther || res.Location() != want {
				t.Errorf("next load: got %d to %q, want 303 to %q", res.Status, res.Location(), want)
			}
		}},
		{"idle script: 401 with JSON", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			a.Clock.Advance(idle)
			d, err := ParseDenial(c.Do(http.MethodGet, "/backend/api/notes", Script(), nil), "idle")
			if err != nil {
				t.Fatal(err)
			}
			if want := a.Clock.Now().UnixMilli(); d.ServerTime != want {
				t.Errorf("server_time: got %d, want %d", d.ServerTime, want)
			}
		}},
		{"anonymous script: 401 with the same JSON", func(t *testing.T, a *App) {
			anon := NewClient(t, a.Server).Do(http.MethodGet, "/backend/api/notes", Script(), nil)
			if _, err := ParseDenial(anon, ""); err != nil {
				t.Fatal(err)
			}
			c := a.SignedIn(t)
			a.Clock.Advance(idle)
			ended := c.Do(http.MethodGet, "/backend/api/notes", Script(), nil)
			got, want := jsonKeys(t, anon.Body), jsonKeys(t, ended.Body)
			delete(want, "reason") // only when a session ended
			if !maps.Equal(got, want) {
				t.Errorf("fields: got %v for an anonymous request, want %v as for an ended session", got, want)
			}
		}},
		{"anonymous page load: 303 to the sign-in page", func(t *testing.T, a *App) {
			res := NewClient(t, a.Server).Get("/backend/")
			if want := SignInPath + "?return=%2Fbackend%2F"; res.Status != http.StatusSeeOther || res.Location() != want {
				t.Fatalf("got %d to %q, want 303 to %q", res.Status, res.Location(), want)
			}
		}},
		{"front page is never redirected", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			for _, step := range []string{"signed in", "idle", "after the idle sign-out"} {
				if step == "idle" {
					a.Clock.Advance(idle)
				}
				for _, h := range []http.Header{Page(), Script()} {
					if res := c.Do(http.MethodGet, "/", h, nil); res.Status != http.StatusOK {
						t.Errorf("%s, GET / as %v: got %d, want 200", step, h, res.Status)
					}
				}
			}
		}},
		{"sign-in returns to the page", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			a.Clock.Advance(idle)
			to := c.Get("/backend/api/notes").Location()
			if res := c.SignIn(to, Password); res.Status != http.StatusSeeOther || res.Location() != "/backend/api/notes" {
				t.Fatalf("sign in at %q: got %d to %q, want 303 to /backend/api/notes", to, res.Status, res.Location())
			}
			if res := c.Do(http.MethodGet, "/backend/api/notes", Script(), nil); res.Status != http.StatusOK {
				t.Errorf("notes after signing in again: got %d, want 200", res.Status)
			}
		}},
		{"sign-in refuses another site as return path", func(t *testing.T, a *App) {
			c := NewClient(t, a.Server)
			res := c.SignIn(SignInPath+"?return="+url.QueryEscape("//evil.example/"), Password)
			if res.Status != http.StatusSeeOther || res.Location() != "/backend/" {
				t.Fatalf("got %d to %q, want 303 to /backend/", res.Status, res.Location())
			}
		}},
		{"wrong password: no session", func(t *testing.T, a *App) {
			c := NewClient(t, a.Server)
			if res := c.SignIn(SignInPath, "guess"); res.Status != http.StatusUnauthorized {
				t.Fatalf("sign in: got %d, want 401", res.Status)
			}
			if res := c.Get("/backend/"); res.Status != http.StatusSeeOther {
				t.Errorf("dashboard: got %d, want 303", res.Status)
			}
		}},
		{"sign-out button ends the session", func(t *testing.T, a *App) {
			c := a.SignedIn(t)
			action, form := SignOutForm(c.Get("/backend/").Body)
			if action == "" {
				t.Fatal("dashboard has no sign-out form")
			}
			if res := c.Post(action, form); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location(), SignInPath) {
				t.Fatalf("sign out: got %d to %q, want 303 to the sign-in page", res.Status, res.Location())
			}
			if res := c.Get("/backend/"); res.Status != http.StatusSeeOther {
				t.Errorf("dashboard after signing out: got %d, want 303", res.Status)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, NewApp(t, newHandler))
		})
	}
}

// jsonKeys returns the names of the fields of a JSON object.
func jsonKeys(t *testing.T, body string) map[string]bool {
	t.Helper()
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	keys := make(map[string]bool, len(v))
	for k := range v {
		keys[k] = true
	}
	return keys
}
