package settingsform_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// TestValidateSpeaksTheFormsVocabulary holds the field names and codes
// that logout.Settings.Validate writes (unexported there) equal to the
// ones this package exports: every field Validate can name and every code
// it can give is covered, and each is one of this package's constants.
func TestValidateSpeaksTheFormsVocabulary(t *testing.T) {
	fields := map[string]bool{
		settingsform.FieldLifetime: true, settingsform.FieldShowCounter: true, settingsform.FieldAbsoluteLifetime: true,
		settingsform.FieldWarningLead: true, settingsform.FieldFrontendActivity: true, settingsform.FieldMaxSessions: true,
		settingsform.FieldPolicy: true, settingsform.FieldRetention: true, settingsform.FieldSignOutOnClose: true,
		settingsform.FieldCloseGrace: true,
	}
	codes := map[string]bool{
		settingsform.CodeNegative: true, settingsform.CodeMin: true, settingsform.CodeMax: true, settingsform.CodeWhole: true,
		settingsform.CodeAbsolute: true, settingsform.CodeWarning: true, settingsform.CodeRole: true,
		settingsform.CodeRoleName: true, settingsform.CodeUserName: true, settingsform.CodePolicy: true,
		settingsform.CodePreset: true,
	}
	with := func(f func(*logout.Settings)) logout.Settings { s := logout.DefaultSettings(); f(&s); return s }
	cases := []logout.Settings{
		with(func(s *logout.Settings) { s.Lifetime = 0 }),
		with(func(s *logout.Settings) { s.Lifetime = logout.MaxLifetime + time.Second }),
		with(func(s *logout.Settings) { s.Lifetime = 1500 * time.Millisecond; s.WarningLead = 0 }),
		with(func(s *logout.Settings) { s.AbsoluteLifetime = -1 }),
		with(func(s *logout.Settings) { s.AbsoluteLifetime = 60 * time.Second }),
		with(func(s *logout.Settings) { s.WarningLead = s.Lifetime }),
		with(func(s *logout.Settings) {
			s.RoleLifetimes = map[string]time.Duration{"a b": time.Hour, "editor": 30 * time.Second}
		}),
		with(func(s *logout.Settings) {
			s.UserLifetimes = map[string]time.Duration{"a b": time.Hour, "bob": 30 * time.Second}
		}),
		with(func(s *logout.Settings) { s.MaxSessions = -1 }),
		with(func(s *logout.Settings) { s.Retention = logout.RetentionUnit / 2 }),
		with(func(s *logout.Settings) { s.CloseGrace = 2 * logout.MaxCloseGrace }),
		with(func(s *logout.Settings) { s.Policy = "hipaa" }),
		with(func(s *logout.Settings) { s.Policy = logout.PolicyPCIDSS; s.Lifetime = time.Hour }),
	}
	seenFields, seenCodes := map[string]bool{}, map[string]bool{}
	for _, s := range cases {
		for field, fe := range settingsform.FieldErrors(s.Validate()) {
			name := field
			for _, p := range []string{settingsform.FieldRolePrefix, settingsform.FieldUserPrefix} {
				if strings.HasPrefix(field, p) {
					name = p
				}
			}
			seenFields[name], seenCodes[fe.Code] = true, true
			if !fields[name] && name != settingsform.FieldRolePrefix && name != settingsform.FieldUserPrefix {
				t.Errorf("Validate names field %q, which this package does not export", field)
			}
			if !codes[fe.Code] {
				t.Errorf("Validate gives code %q on %s, which this package does not export", fe.Code, field)
			}
		}
	}
	for c := range codes {
		if !seenCodes[c] {
			t.Errorf("no case gives code %q", c)
		}
	}
	for _, f := range []string{settingsform.FieldLifetime, settingsform.FieldAbsoluteLifetime, settingsform.FieldWarningLead,
		settingsform.FieldRolePrefix, settingsform.FieldUserPrefix, settingsform.FieldMaxSessions, settingsform.FieldRetention,
		settingsform.FieldCloseGrace, settingsform.FieldPolicy} {
		if !seenFields[f] {
			t.Errorf("no case names field %q", f)
		}
	}
}
