package logout_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// TestOptionsDefaults: the settings declared in code are in force until
// an administrator saves others, and a reset returns to them.
func TestOptionsDefaults(t *testing.T) {
	def := logout.DefaultSettings()
	def.Lifetime = 30 * time.Minute
	def.AbsoluteLifetime = 8 * time.Hour
	def.WarningLead = 2 * time.Minute
	e := newEnv(t, logout.Options{Defaults: &def})
	def.Lifetime = time.Second // New copied them: later changes do not leak in
	c := e.signIn("alice")
	got, err := e.m.Settings(t.Context())
	if err != nil || got.Lifetime != 30*time.Minute || got.AbsoluteLifetime != 8*time.Hour || got.WarningLead != 2*time.Minute {
		t.Fatalf("settings in force %+v (%v), want the Options' defaults", got, err)
	}
	e.clock.Advance(30*time.Minute - time.Microsecond)
	if w := e.do(req{path: "/backend", cookie: c}); w.Code != 200 {
		t.Fatalf("within the default lifetime: %d", w.Code)
	}
	saved := got
	saved.Lifetime = 10 * time.Minute
	if saved, err = e.m.UpdateSettings(t.Context(), saved, "test"); err != nil {
		t.Fatal(err)
	}
	reset, err := e.m.ResetSettings(t.Context(), saved.Version, "test")
	if err != nil || reset.Lifetime != 30*time.Minute || reset.AbsoluteLifetime != 8*time.Hour {
		t.Fatalf("reset to %+v (%v), want the Options' defaults", reset, err)
	}

	bad := logout.DefaultSettings()
	bad.WarningLead = bad.Lifetime
	if _, err := logout.New(logout.NewMemoryStore(), logout.Options{Defaults: &bad}); err == nil ||
		settingsform.FieldErrors(err)[settingsform.FieldWarningLead] == nil || !strings.Contains(err.Error(), "Defaults") {
		t.Fatalf("invalid Defaults: %v, want a warning_lead field error naming Options.Defaults", err)
	}
}

// TestDeny: an application answers refusals itself, told what the
// built-in answer would be.
func TestDeny(t *testing.T) {
	var got []logout.Denial
	e := newEnv(t, logout.Options{Deny: func(w http.ResponseWriter, r *http.Request, d logout.Denial) {
		got = append(got, d)
		w.Header().Set("Content-Language", "pl")
		d.Write(w)
	}})
	c := e.signIn("alice")
	script := map[string]string{"Sec-Fetch-Mode": "cors"}
	steps := []struct {
		name   string
		before func()
		q      req
		status int
		check  func(d logout.Denial) bool
	}{
		{"CSRF failure on keep-alive", nil, req{method: "POST", path: "/backend/session/keepalive", cookie: c, header: script}, 403,
			func(d logout.Denial) bool { return errors.Is(d.Err, logout.ErrCSRF) && d.Script }},
		{"store outage", func() { e.store.down.Store(true); e.clock.Advance(time.Second) }, req{path: "/backend", cookie: c}, 503,
			func(d logout.Denial) bool { return errors.Is(d.Err, logout.ErrUnavailable) && !d.Script }},
		{"idle end, page", func() { e.store.down.Store(false); e.clock.Advance(900 * time.Second) }, req{path: "/backend/x", cookie: c}, 303,
			func(d logout.Denial) bool {
				var ended *logout.EndedError
				return errors.As(d.Err, &ended) && d.Reason == logout.ReasonIdle && d.SignInURL == "/backend/auth/signin?reason=idle&return=%2Fbackend%2Fx"
			}},
		{"anonymous status", nil, req{path: "/backend/session/status"}, 401,
			func(d logout.Denial) bool { return errors.Is(d.Err, logout.ErrNoSession) && d.Script && d.Reason == 0 }},
	}
	for i, st := range steps {
		if st.before != nil {
			st.before()
		}
		w := e.do(st.q)
		if w.Code != st.status || w.Header().Get("Content-Language") != "pl" {
			t.Fatalf("%s: %d %v, want %d from Deny", st.name, w.Code, w.Header(), st.status)
		}
		if len(got) != i+1 || got[i].Status != st.status || !st.check(got[i]) {
			t.Fatalf("%s: denial %+v", st.name, got[len(got)-1])
		}
	}
}

func TestPaths(t *testing.T) {
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{BackendPrefix: "/admin/"})
	if err != nil {
		t.Fatal(err)
	}
	want := logout.Paths{Backend: "/admin", SignIn: "/admin/auth/signin", Endpoints: "/admin/session",
		Status: "/admin/session/status", KeepAlive: "/admin/session/keepalive", SignOut: "/admin/session/signout",
		Events: "/admin/session/events"}
	if got := m.Paths(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
