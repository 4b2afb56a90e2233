package backend_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/settingsform"
)

// writeFile writes a settings file in a temporary directory.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envOf returns a getenv over the map.
func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadSettings(t *testing.T) {
	const full = `
policy = "nist-aal2"
lifetime = 1800
absolute_lifetime = 43200
warning_lead = 120
show_counter = false
frontend_activity = true
max_sessions = 2
retention_days = 365
sign_out_on_close = true
close_grace = 20

[role_lifetimes]
editor = 900

[user_lifetimes]
wall-display = 86400
`
	for _, tt := range []struct {
		name    string
		file    string // "" for no file
		env     map[string]string
		check   func(t *testing.T, src *backend.SettingsSource, path string)
		field   string // the field error wanted, when the load must fail
		code    string
		message string // a part of the error text wanted
	}{
		{name: "every key", file: full, check: func(t *testing.T, src *backend.SettingsSource, path string) {
			s := src.Settings
			if s.Policy != "nist-aal2" || s.Lifetime != 30*time.Minute || s.AbsoluteLifetime != 12*time.Hour ||
				s.WarningLead != 2*time.Minute || s.ShowCounter || !s.FrontendActivity || s.MaxSessions != 2 ||
				s.Retention != 365*24*time.Hour || !s.SignOutOnClose || s.CloseGrace != 20*time.Second ||
				s.RoleLifetimes["editor"] != 15*time.Minute || s.UserLifetimes["wall-display"] != 24*time.Hour {
				t.Errorf("settings: got %+v", s)
			}
			if src.Origins[settingsform.FieldLifetime] != path || src.Origins[settingsform.FieldRolePrefix] != path {
				t.Errorf("origins: got %v, want the file for lifetime and roles", src.Origins)
			}
		}},
		{name: "keys left out keep their defaults", file: "lifetime = 600\n", check: func(t *testing.T, src *backend.SettingsSource, _ string) {
			want := logout.DefaultSettings()
			want.Lifetime = 10 * time.Minute
			if !src.Settings.Equal(want) {
				t.Errorf("settings: got %+v, want %+v", src.Settings, want)
			}
			if _, ok := src.Origins[settingsform.FieldWarningLead]; ok {
				t.Errorf("warning lead has an origin: %v", src.Origins)
			}
		}},
		{name: "environment over the file", file: "lifetime = 600\nmax_sessions = 2\n",
			env: map[string]string{"LOGOUT_SETTINGS_LIFETIME": "300", "LOGOUT_SETTINGS_SHOW_COUNTER": "off", "LOGOUT_SETTINGS_ROLE_LIFETIMES": "editor=120, admin=600"},
			check: func(t *testing.T, src *backend.SettingsSource, path string) {
				s := src.Settings
				if s.Lifetime != 5*time.Minute || s.ShowCounter || s.MaxSessions != 2 || len(s.RoleLifetimes) != 2 || s.RoleLifetimes["editor"] != 2*time.Minute {
					t.Errorf("settings: got %+v", s)
				}
				if src.Origins[settingsform.FieldLifetime] != "LOGOUT_SETTINGS_LIFETIME" || src.Origins[settingsform.FieldMaxSessions] != path {
					t.Errorf("origins: got %v", src.Origins)
				}
			}},
		{name: "environment alone", env: map[string]string{"LOGOUT_SETTINGS_POLICY": "pci-dss", "LOGOUT_SETTINGS_USER_LIFETIMES": "alice=3600"},
			check: func(t *testing.T, src *backend.SettingsSource, _ string) {
				if src.File != "" || src.Settings.Policy != "pci-dss" || src.Settings.UserLifetimes["alice"] != time.Hour {
					t.Errorf("got %+v", src)
				}
			}},
		{name: "unknown key", file: "lifetime = 600\nidle = 5\n", field: "idle", code: backend.CodeUnknownKey, message: "idle: is not a settings key"},
		{name: "misspelt key", file: "lifetim = 600\n", field: "lifetim", code: backend.CodeUnknownKey, message: "lifetim: is not a settings key; did you mean lifetime?"},
		{name: "swapped letters", file: "wraning_lead = 60\n", field: "wraning_lead", code: backend.CodeUnknownKey, message: "did you mean warning_lead?"},
		{name: "unknown key in a table", file: "[limits]\nsessions = 2\n", field: "limits", code: backend.CodeUnknownKey},
		{name: "a string for a number", file: `lifetime = "15m"`, field: "lifetime", code: settingsform.CodeSyntax, message: "incompatible types"},
		{name: "a number for a flag", file: `show_counter = 1`, field: "show_counter", code: settingsform.CodeSyntax},
		{name: "not TOML", file: "lifetime = = 3\n", message: "line 1"},
		{name: "below the minimum", file: "lifetime = 0\n", field: settingsform.FieldLifetime, code: settingsform.CodeMin, message: "lifetime: must be at least 1 second"},
		{name: "negative", file: "retention_days = -3\n", field: settingsform.FieldRetention, code: settingsform.CodeNegative},
		{name: "above the policy", file: "policy = \"pci-dss\"\nlifetime = 3600\n", field: settingsform.FieldLifetime, code: settingsform.CodePreset},
		{name: "unknown policy", file: "policy = \"hipaa\"\n", field: settingsform.FieldPolicy, code: settingsform.CodePolicy},
		{name: "warning not below the lifetime", file: "lifetime = 60\n", field: settingsform.FieldWarningLead, code: settingsform.CodeWarning},
		{name: "bad role name", file: "[role_lifetimes]\n\"wall display\" = 600\n", field: settingsform.FieldRolePrefix + "wall display", code: settingsform.CodeRoleName},
		{name: "bad variable", env: map[string]string{"LOGOUT_SETTINGS_MAX_SESSIONS": "lots"}, field: settingsform.FieldMaxSessions, code: settingsform.CodeSyntax,
			message: "LOGOUT_SETTINGS_MAX_SESSIONS: logout: max_sessions"},
		{name: "bad list variable", env: map[string]string{"LOGOUT_SETTINGS_ROLE_LIFETIMES": "editor"}, field: "LOGOUT_SETTINGS_ROLE_LIFETIMES", code: settingsform.CodeSyntax},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			src, err := backend.LoadSettings(path, envOf(tt.env))
			if tt.check != nil {
				if err != nil {
					t.Fatalf("LoadSettings: %v", err)
				}
				tt.check(t, src, path)
				return
			}
			if err == nil {
				t.Fatalf("LoadSettings: got %+v, want an error", src.Settings)
			}
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.message)
			}
			if tt.field == "" {
				return
			}
			fe := settingsform.FieldErrors(err)[tt.field]
			if fe == nil || fe.Code != tt.code {
				t.Errorf("field errors: got %v (%v), want %s with code %s", settingsform.FieldErrors(err), err, tt.field, tt.code)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := backend.LoadSettings(filepath.Join(t.TempDir(), "none.toml"), envOf(nil))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want a not-exist error", err)
		}
	})
}

// TestSettingsLocked: settings from a file are saved at start as "settings
// file"; locked, the page shows them read-only with where each came from
// and refuses every change.
func TestSettingsLocked(t *testing.T) {
	path := writeFile(t, "policy = \"pci-dss\"\nlifetime = 600\nmax_sessions = 2\n[role_lifetimes]\neditor = 3600\n")
	src, err := backend.LoadSettings(path, envOf(map[string]string{"LOGOUT_SETTINGS_RETENTION_DAYS": "30"}))
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, false, func(cfg *backend.Config) {
		cfg.Settings, cfg.SettingsLocked = src, true
	})
	s, err := e.app.Manager().Settings(t.Context())
	if err != nil || s.Version != 1 || s.Lifetime != 10*time.Minute || s.Retention != 30*24*time.Hour {
		t.Fatalf("settings at start: got %+v (%v), want the file's, saved once", s, err)
	}
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	r := c.get(settingsURL)
	wantStatus(t, r, http.StatusOK)
	checkPage(t, r, "en")
	wantContains(t, r.body, "Settings set by configuration",
		"<th scope=\"row\">Session lifetime in seconds</th><td>600</td><td>settings file "+path+"</td>",
		"<th scope=\"row\">Warning before sign-out in seconds</th><td>60</td><td>default</td>",
		"<th scope=\"row\">Keep the sign-out log and settings history for (days)</th><td>30</td><td>environment variable LOGOUT_SETTINGS_RETENTION_DAYS</td>",
		"<th scope=\"row\">Session lifetime in seconds for the role Editor</th><td>3600</td><td>settings file",
		"<strong>Editor</strong> (role)")
	for _, absent := range []string{`<form method="post" action="/backend/system/settings/user-session"`, `name="lifetime"`, "Reset to defaults"} {
		if strings.Contains(r.body, absent) {
			t.Errorf("locked page has %q", absent)
		}
	}
	wantContains(t, c.get("/backend/system/settings/history").body, "<td>settings file</td>", "<code>max_sessions</code>: none → 2")
	tok := c.token()
	for _, tt := range []struct {
		name, path string
		form       url.Values
	}{
		{"save", settingsURL, settingsForm(tok, "1")},
		{"reset", settingsURL + "/reset", url.Values{"csrf_token": {tok}, "version": {"1"}, "confirm": {"yes"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post(tt.path, tt.form)
			wantStatus(t, r, http.StatusForbidden)
			wantContains(t, r.body, "The settings are locked by the settings file")
			if got, _ := e.app.Manager().Settings(t.Context()); got.Version != 1 {
				t.Errorf("settings saved: version %d", got.Version)
			}
		})
	}
	t.Run("a restart with the same file saves nothing", func(t *testing.T) {
		dir := e.dir
		e.stop()
		e3 := startWith(t, false, func(cfg *backend.Config) { cfg.DataDir, cfg.Settings = dir, src })
		if s, _ := e3.app.Manager().Settings(t.Context()); s.Version != 1 {
			t.Errorf("version after restart: got %d, want 1", s.Version)
		}
	})
	t.Run("locked without settings", func(t *testing.T) {
		_, err := backend.New(t.Context(), backend.Config{DataDir: t.TempDir(), SettingsLocked: true})
		if err == nil || !strings.Contains(err.Error(), "locked settings need") {
			t.Errorf("got %v", err)
		}
	})
}

// FuzzLoadSettings: no settings file makes LoadSettings panic, and every
// file it accepts holds settings that validate.
func FuzzLoadSettings(f *testing.F) {
	f.Add("lifetime = 600\n[role_lifetimes]\neditor = 300\n")
	f.Add("policy = \"nist-aal3\"\nlifetime = 900\nabsolute_lifetime = 43200\n")
	f.Add("[user_lifetimes]\n\"a=b\" = 99999999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		src, err := backend.LoadSettings(writeFile(t, text), envOf(nil))
		if err == nil {
			if verr := src.Settings.Validate(); verr != nil {
				t.Fatalf("accepted invalid settings %+v: %v", src.Settings, verr)
			}
		}
	})
}

func TestCheckSettingsEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		unknown string // named in the error; "" for none
		suggest string // the error's "did you mean"
	}{
		{"none", []string{"HOME=/root", "PATH=/bin"}, "", ""},
		{"known", []string{"LOGOUT_SETTINGS_LIFETIME=900", "LOGOUT_SETTINGS_ROLE_LIFETIMES=editor=600", "LOGOUT_SETTINGS_FILE=s.toml", "LOGOUT_SETTINGS_LOCKED=1"}, "", ""},
		{"misspelt", []string{"LOGOUT_SETTINGS_LIFETIM=900"}, "LOGOUT_SETTINGS_LIFETIM", "did you mean LOGOUT_SETTINGS_LIFETIME?"},
		{"lower case", []string{"LOGOUT_SETTINGS_lifetime=900"}, "LOGOUT_SETTINGS_lifetime", "did you mean LOGOUT_SETTINGS_LIFETIME?"},
		{"far from any", []string{"LOGOUT_SETTINGS_COLOUR=red"}, "LOGOUT_SETTINGS_COLOUR", "known: LOGOUT_SETTINGS_LIFETIME"},
		{"other prefixes pass", []string{"LOGOUT_SETTINGSX=1", "LOGOUT_STORE=sqlite"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := backend.CheckSettingsEnv(tt.environ)
			switch {
			case tt.unknown == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.unknown != "" && (err == nil || !strings.Contains(err.Error(), tt.unknown+";") || !strings.Contains(err.Error(), tt.suggest)):
				t.Fatalf("got %v, want an error naming %s with %q", err, tt.unknown, tt.suggest)
			}
		})
	}
}

// TestLoadSettingsSize: a settings file of up to 1 MiB is read; a larger
// one is refused with an error that names the file and the limit, after
// reading little more than the limit, whatever the file's size says.
func TestLoadSettingsSize(t *testing.T) {
	const limit = 1 << 20
	// valid returns a valid settings file of n bytes: a key and a comment.
	valid := func(n int) []byte {
		b := []byte("lifetime = 600\n#")
		return append(b, bytes.Repeat([]byte("x"), n-len(b))...)
	}
	for _, tt := range []struct {
		name string
		open func(t *testing.T) string // returns the path
		ok   bool
	}{
		{"at the limit", func(t *testing.T) string { return writeFile(t, string(valid(limit))) }, true},
		{"one byte over the limit", func(t *testing.T) string { return writeFile(t, string(valid(limit+1))) }, false},
		{"64 MiB, sparse", func(t *testing.T) string {
			p := writeFile(t, "lifetime = 600\n")
			if err := os.Truncate(p, 64<<20); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"a pipe that says nothing of its size", func(t *testing.T) string {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			p := fmt.Sprintf("/dev/fd/%d", r.Fd())
			if _, err := os.Stat(p); err != nil {
				r.Close()
				w.Close()
				t.Skipf("no /dev/fd to name a pipe: %v", err)
			}
			data, done := valid(8<<20), make(chan int64)
			go func() {
				n, _ := w.Write(data) // fails once r is closed
				w.Close()
				done <- int64(n)
			}()
			t.Cleanup(func() {
				r.Close()
				if n := <-done; n > 2*limit {
					t.Errorf("the pipe gave %d bytes, want at most %d", n, 2*limit)
				}
			})
			return p
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.open(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			src, err := backend.LoadSettings(path, envOf(nil))
			runtime.ReadMemStats(&after)
			if tt.ok {
				if err != nil || src.Settings.Lifetime != 10*time.Minute {
					t.Fatalf("got %v, want the file's lifetime of 10 minutes", err)
				}
				return
			}
			if err == nil || src != nil {
				t.Fatalf("got %+v, want an error", src)
			}
			if want := "backend: settings file: " + path + ": larger than the limit of 1 MiB"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error: got %q, want it to start with %q", err, want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8*limit {
				t.Errorf("allocated %d bytes to refuse the file, want at most %d", n, 8*limit)
			}
		})
	}
}

// TestPackagedSettingsFile loads the example settings file that the
// Linux package installs as /etc/logout-proxy/settings.toml: the service
// must start with it as it is.
func TestPackagedSettingsFile(t *testing.T) {
	src, err := backend.LoadSettings(filepath.Join("..", "release", "linux", "settings.toml"), func(string) string { return "" })
	if err != nil {
		t.Fatalf("LoadSettings: %v", err)
	}
	if src.Settings.Lifetime != logout.DefaultSettings().Lifetime {
		t.Errorf("the example sets the lifetime %v; it should leave every key to its default", src.Settings.Lifetime)
	}
}
