package backend

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// TestCatalogues checks that every key exists in every catalogue, with a
// non-empty message and the same format verbs as in English.
func TestCatalogues(t *testing.T) {
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%(\[\d\])?[a-z]`)
	en := c.msgs["en"]
	for _, lang := range languages() {
		msgs := c.msgs[lang]
		for key, want := range en {
			got, ok := msgs[key]
			switch {
			case !ok:
				t.Errorf("%s: missing key %q", lang, key)
			case strings.TrimSpace(got) == "":
				t.Errorf("%s: empty message %q", lang, key)
			case !slices.Equal(sorted(verbs.FindAllString(got, -1)), sorted(verbs.FindAllString(want, -1))):
				t.Errorf("%s: %q has verbs %q, English has %q", lang, key, verbs.FindAllString(got, -1), verbs.FindAllString(want, -1))
			}
		}
		for key := range msgs {
			if _, ok := en[key]; !ok {
				t.Errorf("%s: key %q is not in English", lang, key)
			}
		}
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestKeysUsed checks that every key that the templates and the code
// name literally, or build from a known list, is in the catalogue.
func TestKeysUsed(t *testing.T) {
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	en := c.msgs["en"]
	var keys []string
	lit := regexp.MustCompile(`\bT[ (]"([a-z_.]+)"`)
	plural := regexp.MustCompile(`\bN[ (]"([a-z_.]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		for _, m := range plural.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1]+".one", m[1]+".few", m[1]+".many")
		}
		for _, m := range regexp.MustCompile(`\b(?:p|tr)\.T\("([a-z_.]+)"`).FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		for _, m := range regexp.MustCompile(`a\.(?:fail|page)\([^)]*"([a-z_.]+)"\)`).FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	for r := logout.ReasonIdle; r.Valid(); r++ {
		keys = append(keys, "reason."+r.String(), "event."+r.String())
	}
	for _, r := range knownRoles() {
		keys = append(keys, "role."+r)
	}
	for _, f := range draftFields() {
		keys = append(keys, "draft.field."+f.Name)
	}
	for _, f := range []string{"lifetime", "show_counter", "absolute", "warning", "role", "frontend", "policy",
		"max_sessions", "sign_out_on_close", "close_grace", "retention"} {
		keys = append(keys, "settings."+f+".label", "settings."+f+".help")
	}
	for _, code := range []string{settingsform.CodeRequired, settingsform.CodeSyntax, settingsform.CodeFlag, settingsform.CodeNegative,
		settingsform.CodeMin, settingsform.CodeMax, settingsform.CodeWhole, settingsform.CodeAbsolute, settingsform.CodeWarning, settingsform.CodeRole,
		settingsform.CodeRoleName, settingsform.CodeUserName, settingsform.CodePolicy, settingsform.CodePreset,
		"max.sessions", "syntax.sessions", "max.days", "syntax.days", "whole.days", "max.grace", "preset.absolute"} {
		keys = append(keys, "settings.err."+code)
	}
	for _, code := range []string{"date", "range", "reason", "history"} {
		keys = append(keys, "audit.bad_filter."+code)
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d keys: the scan is broken", len(keys))
	}
	for _, k := range keys {
		if strings.HasSuffix(k, ".") {
			continue // a prefix, completed from the lists above
		}
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in the catalogue", k)
		}
	}
}

// TestFieldMessages checks that every reason settingsform.Parse gives
// is translated, not shown in English.
func TestFieldMessages(t *testing.T) {
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	base := settingsform.Values(logout.DefaultSettings())
	for _, tt := range []struct{ field, value string }{
		{settingsform.FieldLifetime, ""},
		{settingsform.FieldLifetime, "x"},
		{settingsform.FieldLifetime, "0"},
		{settingsform.FieldLifetime, "-1"},
		{settingsform.FieldLifetime, "31536001"},
		{settingsform.FieldLifetime, "1234567890123"},
		{settingsform.FieldAbsoluteLifetime, "5"},
		{settingsform.FieldAbsoluteLifetime, "31536001"},
		{settingsform.FieldWarningLead, "900"},
		{settingsform.FieldWarningLead, "-1"},
		{settingsform.FieldRolePrefix + "editor", "10"},
		{settingsform.FieldRolePrefix + "bad role", "100"},
		{settingsform.FieldShowCounter, "maybe"},
		{settingsform.FieldMaxSessions, "x"},
		{settingsform.FieldMaxSessions, "1001"},
		{settingsform.FieldMaxSessions, "-1"},
		{settingsform.FieldRetention, "y"},
		{settingsform.FieldRetention, "99999"},
		{settingsform.FieldCloseGrace, "4000"},
		{settingsform.FieldPolicy, "hipaa"},
		{settingsform.FieldPolicy, logout.PolicyNISTAAL3}, // the lifetime is fine, no maximum length
		{settingsform.FieldUserPrefix + "a b", "600"},
	} {
		form := url.Values{}
		for k, v := range base {
			form[k] = v
		}
		form.Set(tt.field, tt.value)
		_, err := settingsform.Parse(form)
		errs := settingsform.FieldErrors(err)
		if len(errs) == 0 {
			t.Errorf("%s=%q: no field error", tt.field, tt.value)
			continue
		}
		for field, fe := range errs {
			for _, lang := range languages() {
				tr := c.lang(lang)
				if got := fieldMessage(tr, fe); got == fe.Reason || strings.Contains(got, "[[") || strings.Contains(got, "%!") {
					t.Errorf("%s: %s: %+v is not translated: %q", lang, field, fe, got)
				}
			}
		}
	}
}

func TestPluralForm(t *testing.T) {
	for _, tt := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 0, "many"}, {"en", 1, "one"}, {"en", 2, "many"},
		{"pl", 1, "one"}, {"pl", 2, "few"}, {"pl", 4, "few"}, {"pl", 5, "many"}, {"pl", 12, "many"},
		{"pl", 22, "few"}, {"pl", 25, "many"}, {"pl", 0, "many"}, {"pl", 112, "many"}, {"pl", 104, "few"},
		{"cs", 1, "one"}, {"cs", 3, "few"}, {"cs", 5, "many"}, {"cs", 22, "many"}, {"cs", 0, "many"},
	} {
		if got := pluralForm(tt.lang, tt.n); got != tt.want {
			t.Errorf("pluralForm(%s, %d): got %s, want %s", tt.lang, tt.n, got, tt.want)
		}
	}
}

func TestPickLang(t *testing.T) {
	for _, tt := range []struct{ accept, want string }{
		{"", "en"},
		{"pl", "pl"},
		{"cs-CZ, en;q=0.8", "cs"},
		{"en;q=0.5, pl;q=0.9", "pl"},
		{"fr, de;q=0.9", "en"},
		{"pl;q=0, cs;q=0.1", "cs"},
		{"pl;q=abc, cs;q=0.1", "cs"},
		{"PL", "pl"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tt.accept)
		if got := pickLang(r); got != tt.want {
			t.Errorf("Accept-Language %q: got %s, want %s", tt.accept, got, tt.want)
		}
	}
}

func FuzzFormatLeft(f *testing.F) {
	c, err := loadCatalogs()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(int64(0), int64(900e9))
	f.Add(int64(59e9), int64(3600e9))
	f.Add(int64(86400e9), int64(86400e9))
	f.Fuzz(func(t *testing.T, d, lifetime int64) {
		for _, l := range languages() {
			if s := formatLeft(c.lang(l), time.Duration(d), time.Duration(lifetime)); s == "" || strings.Contains(s, "%!") || strings.Contains(s, "[[") {
				t.Errorf("formatLeft(%d, %d) = %q", d, lifetime, s)
			}
		}
	})
}
