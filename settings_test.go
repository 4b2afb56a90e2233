package logout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

func TestDefaultSettings(t *testing.T) {
	s := logout.DefaultSettings()
	if s.Lifetime != 900*time.Second || !s.ShowCounter || s.AbsoluteLifetime != 0 ||
		s.WarningLead != 60*time.Second || s.FrontendActivity || len(s.RoleLifetimes) != 0 {
		t.Fatalf("DefaultSettings() = %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	def := logout.DefaultSettings()
	with := func(f func(*logout.Settings)) logout.Settings { s := def; f(&s); return s }
	tests := []struct {
		name  string
		s     logout.Settings
		field string // "" means valid
	}{
		{"defaults", def, ""},
		{"lifetime 1 s without warning", with(func(s *logout.Settings) { s.Lifetime, s.WarningLead = time.Second, 0 }), ""},
		{"lifetime zero", with(func(s *logout.Settings) { s.Lifetime = 0 }), settingsform.FieldLifetime},
		{"lifetime negative", with(func(s *logout.Settings) { s.Lifetime = -time.Second }), settingsform.FieldLifetime},
		{"lifetime over a year", with(func(s *logout.Settings) { s.Lifetime = logout.MaxLifetime + time.Second }), settingsform.FieldLifetime},
		{"lifetime exactly a year", with(func(s *logout.Settings) { s.Lifetime = logout.MaxLifetime }), ""},
		{"lifetime fraction", with(func(s *logout.Settings) { s.Lifetime = 1500 * time.Millisecond; s.WarningLead = 0 }), settingsform.FieldLifetime},
		{"absolute below lifetime", with(func(s *logout.Settings) { s.AbsoluteLifetime = 899 * time.Second }), settingsform.FieldAbsoluteLifetime},
		{"absolute equal to lifetime", with(func(s *logout.Settings) { s.AbsoluteLifetime = 900 * time.Second }), ""},
		{"absolute negative", with(func(s *logout.Settings) { s.AbsoluteLifetime = -1 }), settingsform.FieldAbsoluteLifetime},
		{"warning equal to lifetime", with(func(s *logout.Settings) { s.WarningLead = 900 * time.Second }), settingsform.FieldWarningLead},
		{"warning off", with(func(s *logout.Settings) { s.WarningLead = 0 }), ""},
		{"role lifetime ok", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"editor": 300 * time.Second} }), ""},
		{"role lifetime below warning", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"editor": 60 * time.Second} }), settingsform.FieldRolePrefix + "editor"},
		{"role name invalid", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"a b": 300 * time.Second} }), settingsform.FieldRolePrefix + "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			fields := settingsform.FieldErrors(err)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if _, ok := fields[tt.field]; !ok || len(fields) != 1 {
				t.Fatalf("Validate() fields = %v, want exactly %q", fields, tt.field)
			}
			var fe *logout.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "logout: ") {
				t.Fatalf("Validate() = %v, want *FieldError with logout: prefix", err)
			}
		})
	}
}

func TestSettingsJSONRoundTrip(t *testing.T) {
	s := logout.Settings{Lifetime: 1200 * time.Second, AbsoluteLifetime: 7200 * time.Second, WarningLead: 90 * time.Second,
		ShowCounter: true, RoleLifetimes: map[string]time.Duration{"editor": 600 * time.Second}}
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back logout.Settings
	if err := back.UnmarshalJSON(b); err != nil || !back.Equal(s) {
		t.Fatalf("JSON round trip = %+v, %v; want %+v (%s)", back, err, s, b)
	}
}

func TestIdleLifetimeAndDeadline(t *testing.T) {
	s := logout.DefaultSettings()
	s.RoleLifetimes = map[string]time.Duration{"editor": 600 * time.Second, "auditor": 300 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		roles  []string
		abs    time.Duration
		seen   time.Duration // after t0
		want   time.Duration // deadline after t0
		reason logout.Reason
	}{
		{"no roles: global", nil, 0, 0, 900 * time.Second, logout.ReasonIdle},
		{"unknown role: global", []string{"viewer"}, 0, 0, 900 * time.Second, logout.ReasonIdle},
		{"one role", []string{"editor"}, 0, 0, 600 * time.Second, logout.ReasonIdle},
		{"shortest of several", []string{"editor", "auditor", "viewer"}, 0, 0, 300 * time.Second, logout.ReasonIdle},
		{"absolute cuts idle", nil, 1000 * time.Second, 500 * time.Second, 1000 * time.Second, logout.ReasonAbsolute},
		{"absolute later than idle", nil, 2000 * time.Second, 500 * time.Second, 1400 * time.Second, logout.ReasonIdle},
		{"absolute equal to idle", nil, 1400 * time.Second, 500 * time.Second, 1400 * time.Second, logout.ReasonAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			s.AbsoluteLifetime = tt.abs
			d, r := s.Deadline(logout.Session{Roles: tt.roles, Created: t0, LastSeen: t0.Add(tt.seen)})
			if !d.Equal(t0.Add(tt.want)) || r != tt.reason {
				t.Fatalf("Deadline = %v, %v; want %v, %v", d.Sub(t0), r, tt.want, tt.reason)
			}
		})
	}
}

func TestReason(t *testing.T) {
	for r := logout.ReasonIdle; r <= logout.ReasonProvider; r++ {
		got, err := logout.ParseReason(r.String())
		if err != nil || got != r {
			t.Fatalf("ParseReason(%q) = %v, %v", r.String(), got, err)
		}
	}
	if logout.ReasonIdle.Message() != "You have been logged out!" {
		t.Fatalf("idle message %q", logout.ReasonIdle.Message())
	}
	if _, err := logout.ParseReason("bogus"); err == nil {
		t.Fatal("ParseReason(bogus) = nil error")
	}
	if s := logout.Reason(9).String(); s != "Reason(9)" {
		t.Fatalf("Reason(9).String() = %q", s)
	}
}

func TestPresetApply(t *testing.T) {
	for _, p := range logout.Presets() {
		s := p.Apply(logout.DefaultSettings())
		if err := s.Validate(); err != nil {
			t.Errorf("%s applied: %v", p.Name, err)
		}
		if s.Policy != p.Name || p.Source == "" || p.Title == "" {
			t.Errorf("%s: %+v", p.Name, p)
		}
	}
}

func TestIdleLifetimeShortestRule(t *testing.T) {
	s := logout.DefaultSettings()
	s.RoleLifetimes = map[string]time.Duration{"wall": 8 * time.Hour, "editor": 10 * time.Minute}
	s.UserLifetimes = map[string]time.Duration{"carol": 5 * time.Minute, "dave": 2 * time.Hour}
	tests := []struct {
		user  string
		roles []string
		want  time.Duration
	}{
		{"alice", nil, 15 * time.Minute},
		{"alice", []string{"wall"}, 8 * time.Hour},
		{"alice", []string{"wall", "editor"}, 10 * time.Minute},
		{"carol", []string{"wall"}, 5 * time.Minute},
		{"dave", nil, 2 * time.Hour},
		{"dave", []string{"wall"}, 2 * time.Hour},
		{"dave", []string{"editor"}, 10 * time.Minute},
	}
	for _, tt := range tests {
		if got := s.IdleLifetime(tt.user, tt.roles); got != tt.want {
			t.Errorf("IdleLifetime(%q, %v) = %v, want %v", tt.user, tt.roles, got, tt.want)
		}
	}
}

// TestSettingsAfterConflict checks that a Manager whose save lost to
// another instance's reads the store again at once, rather than serving
// its cached version until the next sync, so a retry can succeed.
func TestSettingsAfterConflict(t *testing.T) {
	ctx := t.Context()
	store := logout.NewMemoryStore()
	a, errA := logout.New(store, logout.Options{SyncInterval: time.Hour})
	b, errB := logout.New(store, logout.Options{SyncInterval: time.Hour})
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	stale, err := a.Settings(ctx) // cached for an hour
	if err != nil {
		t.Fatal(err)
	}
	won := stale
	won.Lifetime = 20 * time.Minute
	saved, err := b.UpdateSettings(ctx, won, "b")
	if err != nil {
		t.Fatal(err)
	}
	lost := stale
	lost.Lifetime = 30 * time.Minute
	if _, err := a.UpdateSettings(ctx, lost, "a"); !errors.Is(err, logout.ErrConflict) {
		t.Fatalf("UpdateSettings from version %d after b saved %d: err = %v, want ErrConflict", stale.Version, saved.Version, err)
	}
	cur, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != saved.Version || cur.Lifetime != won.Lifetime {
		t.Fatalf("after the conflict Settings = version %d, lifetime %v; want b's version %d, %v", cur.Version, cur.Lifetime, saved.Version, won.Lifetime)
	}
	lost.Version = cur.Version
	if _, err := a.UpdateSettings(ctx, lost, "a"); err != nil {
		t.Fatalf("retry on the newest version: %v", err)
	}
}
