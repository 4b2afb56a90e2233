package logout_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
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
		{"lifetime zero", with(func(s *logout.Settings) { s.Lifetime = 0 }), logout.FieldLifetime},
		{"lifetime negative", with(func(s *logout.Settings) { s.Lifetime = -time.Second }), logout.FieldLifetime},
		{"lifetime over a year", with(func(s *logout.Settings) { s.Lifetime = logout.MaxLifetime + time.Second }), logout.FieldLifetime},
		{"lifetime exactly a year", with(func(s *logout.Settings) { s.Lifetime = logout.MaxLifetime }), ""},
		{"lifetime fraction", with(func(s *logout.Settings) { s.Lifetime = 1500 * time.Millisecond; s.WarningLead = 0 }), logout.FieldLifetime},
		{"absolute below lifetime", with(func(s *logout.Settings) { s.AbsoluteLifetime = 899 * time.Second }), logout.FieldAbsoluteLifetime},
		{"absolute equal to lifetime", with(func(s *logout.Settings) { s.AbsoluteLifetime = 900 * time.Second }), ""},
		{"absolute negative", with(func(s *logout.Settings) { s.AbsoluteLifetime = -1 }), logout.FieldAbsoluteLifetime},
		{"warning equal to lifetime", with(func(s *logout.Settings) { s.WarningLead = 900 * time.Second }), logout.FieldWarningLead},
		{"warning off", with(func(s *logout.Settings) { s.WarningLead = 0 }), ""},
		{"role lifetime ok", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"editor": 300 * time.Second} }), ""},
		{"role lifetime below warning", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"editor": 60 * time.Second} }), logout.FieldRolePrefix + "editor"},
		{"role name invalid", with(func(s *logout.Settings) { s.RoleLifetimes = map[string]time.Duration{"a b": 300 * time.Second} }), logout.FieldRolePrefix + "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			fields := logout.FieldErrors(err)
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

func TestParseSettings(t *testing.T) {
	// form fills in the required fields that kv leaves out with "0".
	form := func(kv ...string) url.Values {
		v := url.Values{"absolute_lifetime": {"0"}, "warning_lead": {"0"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		want   logout.Settings
		fields []string
	}{
		{"plain", form("lifetime", "600", "warning_lead", "30", "show_counter", "on", "absolute_lifetime", "0"),
			logout.Settings{Lifetime: 600 * time.Second, WarningLead: 30 * time.Second, ShowCounter: true}, nil},
		{"spaces trimmed, leading zeros", form("lifetime", " 0900 ", "warning_lead", "60"),
			logout.Settings{Lifetime: 900 * time.Second, WarningLead: 60 * time.Second}, nil},
		{"roles and front end", form("lifetime", "900", "warning_lead", "60", "role_lifetime.editor", "300", "role_lifetime.admin", "", "frontend_activity", "1"),
			logout.Settings{Lifetime: 900 * time.Second, WarningLead: 60 * time.Second, FrontendActivity: true,
				RoleLifetimes: map[string]time.Duration{"editor": 300 * time.Second}}, nil},
		{"empty lifetime", form("lifetime", ""), logout.Settings{}, []string{"lifetime"}},
		{"missing warning lead and absolute lifetime", url.Values{"lifetime": {"900"}}, logout.Settings{},
			[]string{"warning_lead", "absolute_lifetime"}},
		{"blank warning lead", form("lifetime", "900", "warning_lead", " "), logout.Settings{}, []string{"warning_lead"}},
		{"lifetime given twice", url.Values{"lifetime": {"900", "60"}, "warning_lead": {"0"}, "absolute_lifetime": {"0"}},
			logout.Settings{}, []string{"lifetime"}},
		{"missing lifetime", form(), logout.Settings{}, []string{"lifetime"}},
		{"not a number", form("lifetime", "abc"), logout.Settings{}, []string{"lifetime"}},
		{"exponent", form("lifetime", "1e3"), logout.Settings{}, []string{"lifetime"}},
		{"hex", form("lifetime", "0x10"), logout.Settings{}, []string{"lifetime"}},
		{"plus sign", form("lifetime", "+5"), logout.Settings{}, []string{"lifetime"}},
		{"arabic-indic digits", form("lifetime", "١٢"), logout.Settings{}, []string{"lifetime"}},
		{"fullwidth digits", form("lifetime", "９００"), logout.Settings{}, []string{"lifetime"}},
		{"decimal", form("lifetime", "9.5"), logout.Settings{}, []string{"lifetime"}},
		{"negative", form("lifetime", "-5"), logout.Settings{}, []string{"lifetime"}},
		{"zero", form("lifetime", "0", "warning_lead", "0"), logout.Settings{}, []string{"lifetime"}},
		{"overflow", form("lifetime", "99999999999999999999999"), logout.Settings{}, []string{"lifetime"}},
		{"over a year", form("lifetime", "31536001"), logout.Settings{}, []string{"lifetime"}},
		{"bad checkbox", form("lifetime", "900", "warning_lead", "60", "show_counter", "maybe"), logout.Settings{}, []string{"show_counter"}},
		{"several fields wrong", form("lifetime", "x", "warning_lead", "y", "absolute_lifetime", "1e3"), logout.Settings{},
			[]string{"lifetime", "warning_lead", "absolute_lifetime"}},
		{"valid numbers, invalid combination", form("lifetime", "10", "warning_lead", "60"), logout.Settings{}, []string{"warning_lead"}},
		{"bad role value", form("lifetime", "900", "warning_lead", "60", "role_lifetime.editor", "5m"), logout.Settings{}, []string{"role_lifetime.editor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logout.ParseSettings(tt.form)
			fields := logout.FieldErrors(err)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("ParseSettings: %v", err)
				}
				if !got.Equal(tt.want) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSettings = %+v, want errors on %v", got, tt.fields)
			}
			if len(fields) != len(tt.fields) {
				t.Fatalf("error fields %v, want %v", fields, tt.fields)
			}
			for _, f := range tt.fields {
				if fields[f] == nil {
					t.Fatalf("no error for %q in %v", f, fields)
				}
			}
			if !got.Equal(logout.Settings{}) {
				t.Fatalf("invalid form returned settings %+v", got)
			}
		})
	}
}

func TestFieldErrorCodes(t *testing.T) {
	tests := []struct {
		field, value string
		code         string
		limit        int64
	}{
		{"lifetime", "", logout.CodeRequired, 0},
		{"lifetime", "1e3", logout.CodeSyntax, 0},
		{"lifetime", "><script>alert(1)</script>", logout.CodeSyntax, 0},
		{"lifetime", "-5", logout.CodeNegative, 0},
		{"lifetime", "0", logout.CodeMin, 1},
		{"lifetime", "31536001", logout.CodeMax, 31536000},
		{"lifetime", "99999999999999999999", logout.CodeMax, 31536000},
		{"absolute_lifetime", "100", logout.CodeAbsolute, 900},
		{"warning_lead", "900", logout.CodeWarning, 900},
		{"role_lifetime.editor", "30", logout.CodeRole, 60},
		{"role_lifetime.a b", "300", logout.CodeRoleName, 0},
		{"show_counter", "perhaps", logout.CodeFlag, 0},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			form := logout.DefaultSettings().Values()
			form.Set(tt.field, tt.value)
			_, err := logout.ParseSettings(form)
			fe := logout.FieldErrors(err)[tt.field]
			if fe == nil || fe.Code != tt.code || fe.Limit != tt.limit || fe.Reason == "" {
				t.Fatalf("got %+v, want code %q limit %d", fe, tt.code, tt.limit)
			}
			if strings.Contains(fe.Reason, "<script>") {
				t.Fatalf("long input echoed in %q", fe.Reason)
			}
		})
	}
}

func TestSettingsValuesRoundTrip(t *testing.T) {
	s := logout.Settings{Lifetime: 1200 * time.Second, AbsoluteLifetime: 7200 * time.Second, WarningLead: 90 * time.Second,
		ShowCounter: true, RoleLifetimes: map[string]time.Duration{"editor": 600 * time.Second}}
	got, err := logout.ParseSettings(s.Values())
	if err != nil || !got.Equal(s) {
		t.Fatalf("ParseSettings(Values()) = %+v, %v; want %+v", got, err, s)
	}
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

func FuzzParseSettings(f *testing.F) {
	for _, seed := range []string{"900", "1e3", "0x10", "+5", "١٢", "", "-1", "99999999999999999999", " 60 ", "9.5"} {
		f.Add(seed, "60", "on")
	}
	f.Fuzz(func(t *testing.T, lifetime, lead, counter string) {
		v := url.Values{"lifetime": {lifetime}, "warning_lead": {lead}, "show_counter": {counter}}
		s, err := logout.ParseSettings(v)
		if err != nil {
			if !s.Equal(logout.Settings{}) {
				t.Fatalf("error %v with settings %+v", err, s)
			}
			if len(logout.FieldErrors(err)) == 0 {
				t.Fatalf("error without field errors: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("parsed settings do not validate: %v", err)
		}
		back, err := logout.ParseSettings(s.Values())
		if err != nil || !back.Equal(s) {
			t.Fatalf("round trip %+v -> %+v, %v", s, back, err)
		}
	})
}

func TestSettingsPolicies(t *testing.T) {
	base := func(edit func(url.Values)) url.Values {
		v := logout.DefaultSettings().Values()
		edit(v)
		return v
	}
	tests := []struct {
		name  string
		form  url.Values
		field string // the refused field, or "" when the form is valid
		code  string
		check func(t *testing.T, s logout.Settings)
	}{
		{"session limit", base(func(v url.Values) { v.Set("max_sessions", "3") }), "", "", func(t *testing.T, s logout.Settings) {
			if s.MaxSessions != 3 {
				t.Errorf("MaxSessions %d", s.MaxSessions)
			}
		}},
		{"session limit too high", base(func(v url.Values) { v.Set("max_sessions", "1001") }), "max_sessions", logout.CodeMax, nil},
		{"session limit negative", base(func(v url.Values) { v.Set("max_sessions", "-1") }), "max_sessions", logout.CodeNegative, nil},
		{"session limit word", base(func(v url.Values) { v.Set("max_sessions", "two") }), "max_sessions", logout.CodeSyntax, nil},
		{"retention days", base(func(v url.Values) { v.Set("retention_days", "365") }), "", "", func(t *testing.T, s logout.Settings) {
			if s.Retention != 365*24*time.Hour {
				t.Errorf("Retention %v", s.Retention)
			}
		}},
		{"retention too long", base(func(v url.Values) { v.Set("retention_days", "3661") }), "retention_days", logout.CodeMax, nil},
		{"user override", base(func(v url.Values) { v.Set("user_lifetime.wall@example.com", "86400") }), "", "", func(t *testing.T, s logout.Settings) {
			if s.UserLifetimes["wall@example.com"] != 24*time.Hour {
				t.Errorf("UserLifetimes %v", s.UserLifetimes)
			}
		}},
		{"user override blank", base(func(v url.Values) { v.Set("user_lifetime.bob", " ") }), "", "", func(t *testing.T, s logout.Settings) {
			if s.UserLifetimes != nil {
				t.Errorf("UserLifetimes %v", s.UserLifetimes)
			}
		}},
		{"user override with space", base(func(v url.Values) { v.Set("user_lifetime.a b", "600") }), "user_lifetime.a b", logout.CodeUserName, nil},
		{"user override below warning", base(func(v url.Values) { v.Set("user_lifetime.bob", "60") }), "user_lifetime.bob", logout.CodeRole, nil},
		{"close on exit", base(func(v url.Values) { v.Set("sign_out_on_close", "on"); v.Set("close_grace", "45") }), "", "", func(t *testing.T, s logout.Settings) {
			if !s.SignOutOnClose || s.CloseGrace != 45*time.Second {
				t.Errorf("SignOutOnClose %v CloseGrace %v", s.SignOutOnClose, s.CloseGrace)
			}
		}},
		{"close grace too long", base(func(v url.Values) { v.Set("close_grace", "3601") }), "close_grace", logout.CodeMax, nil},
		{"PCI DSS met", base(func(v url.Values) { v.Set("policy", "pci-dss") }), "", "", nil},
		{"PCI DSS broken", base(func(v url.Values) { v.Set("policy", "pci-dss"); v.Set("lifetime", "1800") }), "lifetime", logout.CodePreset, nil},
		{"AAL2 needs an overall limit", base(func(v url.Values) { v.Set("policy", "nist-aal2") }), "absolute_lifetime", logout.CodePreset, nil},
		{"AAL3 met", base(func(v url.Values) { v.Set("policy", "nist-aal3"); v.Set("absolute_lifetime", "43200") }), "", "", nil},
		{"unknown policy", base(func(v url.Values) { v.Set("policy", "hipaa") }), "policy", logout.CodePolicy, nil},
		{"policy twice", base(func(v url.Values) { v["policy"] = []string{"custom", "pci-dss"} }), "policy", logout.CodeSyntax, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := logout.ParseSettings(tt.form)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ParseSettings: %v", err)
				}
				back, err := logout.ParseSettings(s.Values())
				if err != nil || !back.Equal(s) {
					t.Fatalf("Values round trip: %+v, %v; want %+v", back, err, s)
				}
				b, _ := json.Marshal(s)
				var j logout.Settings
				if err := json.Unmarshal(b, &j); err != nil || !j.Equal(s) {
					t.Fatalf("JSON round trip %s: %+v, %v", b, j, err)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
				return
			}
			fe := logout.FieldErrors(err)[tt.field]
			if fe == nil || fe.Code != tt.code {
				t.Fatalf("error %v; want %s on %s", err, tt.code, tt.field)
			}
		})
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
