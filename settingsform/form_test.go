package settingsform_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

func TestParse(t *testing.T) {
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
			got, err := settingsform.Parse(tt.form)
			fields := settingsform.FieldErrors(err)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !got.Equal(tt.want) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse = %+v, want errors on %v", got, tt.fields)
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
		{"lifetime", "", settingsform.CodeRequired, 0},
		{"lifetime", "1e3", settingsform.CodeSyntax, 0},
		{"lifetime", "><script>alert(1)</script>", settingsform.CodeSyntax, 0},
		{"lifetime", "-5", settingsform.CodeNegative, 0},
		{"lifetime", "0", settingsform.CodeMin, 1},
		{"lifetime", "31536001", settingsform.CodeMax, 31536000},
		{"lifetime", "99999999999999999999", settingsform.CodeMax, 31536000},
		{"absolute_lifetime", "100", settingsform.CodeAbsolute, 900},
		{"warning_lead", "900", settingsform.CodeWarning, 900},
		{"role_lifetime.editor", "30", settingsform.CodeRole, 60},
		{"role_lifetime.a b", "300", settingsform.CodeRoleName, 0},
		{"show_counter", "perhaps", settingsform.CodeFlag, 0},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			form := settingsform.Values(logout.DefaultSettings())
			form.Set(tt.field, tt.value)
			_, err := settingsform.Parse(form)
			fe := settingsform.FieldErrors(err)[tt.field]
			if fe == nil || fe.Code != tt.code || fe.Limit != tt.limit || fe.Reason == "" {
				t.Fatalf("got %+v, want code %q limit %d", fe, tt.code, tt.limit)
			}
			if strings.Contains(fe.Reason, "<script>") {
				t.Fatalf("long input echoed in %q", fe.Reason)
			}
		})
	}
}

func TestValuesRoundTrip(t *testing.T) {
	s := logout.Settings{Lifetime: 1200 * time.Second, AbsoluteLifetime: 7200 * time.Second, WarningLead: 90 * time.Second,
		ShowCounter: true, RoleLifetimes: map[string]time.Duration{"editor": 600 * time.Second}}
	got, err := settingsform.Parse(settingsform.Values(s))
	if err != nil || !got.Equal(s) {
		t.Fatalf("Parse(Values()) = %+v, %v; want %+v", got, err, s)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"900", "1e3", "0x10", "+5", "١٢", "", "-1", "99999999999999999999", " 60 ", "9.5"} {
		f.Add(seed, "60", "on")
	}
	f.Fuzz(func(t *testing.T, lifetime, lead, counter string) {
		v := url.Values{"lifetime": {lifetime}, "warning_lead": {lead}, "show_counter": {counter}}
		s, err := settingsform.Parse(v)
		if err != nil {
			if !s.Equal(logout.Settings{}) {
				t.Fatalf("error %v with settings %+v", err, s)
			}
			if len(settingsform.FieldErrors(err)) == 0 {
				t.Fatalf("error without field errors: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("parsed settings do not validate: %v", err)
		}
		back, err := settingsform.Parse(settingsform.Values(s))
		if err != nil || !back.Equal(s) {
			t.Fatalf("round trip %+v -> %+v, %v", s, back, err)
		}
	})
}

func TestSettingsPolicies(t *testing.T) {
	base := func(edit func(url.Values)) url.Values {
		v := settingsform.Values(logout.DefaultSettings())
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
		{"session limit too high", base(func(v url.Values) { v.Set("max_sessions", "1001") }), "max_sessions", settingsform.CodeMax, nil},
		{"session limit negative", base(func(v url.Values) { v.Set("max_sessions", "-1") }), "max_sessions", settingsform.CodeNegative, nil},
		{"session limit word", base(func(v url.Values) { v.Set("max_sessions", "two") }), "max_sessions", settingsform.CodeSyntax, nil},
		{"retention days", base(func(v url.Values) { v.Set("retention_days", "365") }), "", "", func(t *testing.T, s logout.Settings) {
			if s.Retention != 365*24*time.Hour {
				t.Errorf("Retention %v", s.Retention)
			}
		}},
		{"retention too long", base(func(v url.Values) { v.Set("retention_days", "3661") }), "retention_days", settingsform.CodeMax, nil},
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
		{"user override with space", base(func(v url.Values) { v.Set("user_lifetime.a b", "600") }), "user_lifetime.a b", settingsform.CodeUserName, nil},
		{"user override below warning", base(func(v url.Values) { v.Set("user_lifetime.bob", "60") }), "user_lifetime.bob", settingsform.CodeRole, nil},
		{"close on exit", base(func(v url.Values) { v.Set("sign_out_on_close", "on"); v.Set("close_grace", "45") }), "", "", func(t *testing.T, s logout.Settings) {
			if !s.SignOutOnClose || s.CloseGrace != 45*time.Second {
				t.Errorf("SignOutOnClose %v CloseGrace %v", s.SignOutOnClose, s.CloseGrace)
			}
		}},
		{"close grace too long", base(func(v url.Values) { v.Set("close_grace", "3601") }), "close_grace", settingsform.CodeMax, nil},
		{"PCI DSS met", base(func(v url.Values) { v.Set("policy", "pci-dss") }), "", "", nil},
		{"PCI DSS broken", base(func(v url.Values) { v.Set("policy", "pci-dss"); v.Set("lifetime", "1800") }), "lifetime", settingsform.CodePreset, nil},
		{"AAL2 needs an overall limit", base(func(v url.Values) { v.Set("policy", "nist-aal2") }), "absolute_lifetime", settingsform.CodePreset, nil},
		{"AAL3 met", base(func(v url.Values) { v.Set("policy", "nist-aal3"); v.Set("absolute_lifetime", "43200") }), "", "", nil},
		{"unknown policy", base(func(v url.Values) { v.Set("policy", "hipaa") }), "policy", settingsform.CodePolicy, nil},
		{"policy twice", base(func(v url.Values) { v["policy"] = []string{"custom", "pci-dss"} }), "policy", settingsform.CodeSyntax, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsform.Parse(tt.form)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				back, err := settingsform.Parse(settingsform.Values(s))
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
			fe := settingsform.FieldErrors(err)[tt.field]
			if fe == nil || fe.Code != tt.code {
				t.Fatalf("error %v; want %s on %s", err, tt.code, tt.field)
			}
		})
	}
}
