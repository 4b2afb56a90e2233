package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/sqlitestore"
)

// seedStore writes a sign-out log and two saves of the settings into the
// SQLite store of dir, as a running backend would.
func seedStore(t *testing.T, dir string) {
	t.Helper()
	st, err := sqlitestore.New(t.Context(), filepath.Join(dir, "sessions.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.Local) }
	for i, e := range []struct {
		user   string
		reason logout.Reason
		at     time.Time
	}{{"7", logout.ReasonIdle, day(2)}, {"=cmd|' /C calc'!A0", logout.ReasonForced, day(3)}, {"7", logout.ReasonManual, day(4)}, {"8", logout.ReasonIdle, day(5)}} {
		id := strings.Repeat(string(rune('a'+i)), 16)
		if err := st.CreateSession(t.Context(), logout.Session{ID: id, UserID: e.user, Created: e.at.Add(-time.Hour), LastSeen: e.at, Deadline: e.at}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EndSessions(t.Context(), logout.Selector{IDs: []string{id}}, e.reason, e.at); err != nil {
			t.Fatal(err)
		}
	}
	clock := fakeclock.At(day(6))
	m, err := logout.New(st, logout.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	s := logout.DefaultSettings()
	s.Lifetime = 600 * time.Second
	if _, err := m.UpdateSettings(t.Context(), s, "alice"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(day(7).Sub(day(6)))
	s.Version, s.MaxSessions = 1, 3
	if _, err := m.UpdateSettings(t.Context(), s, "settings file"); err != nil {
		t.Fatal(err)
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	seedStore(t, dir)
	for _, tt := range []struct {
		name string
		args []string
		want []string // the CSV rows after the header, by their first cells but the time
	}{
		{"every event", []string{"events"}, []string{"8,,idle", "7,,manual", "'=cmd|' /C calc'!A0,,forced", "7,,idle"}},
		{"events of a user in a date range", []string{"events", "--user", "7", "--since", "2026-01-03", "--until", "2026-01-04"}, []string{"7,,manual"}},
		{"events by reason", []string{"events", "--reason", "idle"}, []string{"8,,idle", "7,,idle"}},
		{"the settings history", []string{"settings"}, []string{"settings file,2,max_sessions,none,3", "alice,1,lifetime,900 s,600 s"}},
		{"the settings history since a day", []string{"settings", "--since", "2026-01-07"}, []string{"settings file,2,max_sessions,none,3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"export"}, tt.args...)
			if err := run(t.Context(), append(args, "--data", dir), getenv(nil), &out, &errOut); err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			rows, err := csv.NewReader(&out).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows[1:] {
				cells := r[1:4]
				if tt.args[0] == "settings" {
					cells = r[1:]
				}
				got = append(got, strings.Join(cells, ","))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rows:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
	t.Run("JSON", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), []string{"export", "events", "--format", "json", "--user", "8", "--data", dir}, getenv(nil), &out, &errOut); err != nil {
			t.Fatalf("run: %v\n%s", err, errOut.String())
		}
		var got []map[string]string
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0]["reason"] != "idle" || got[0]["session"] != "dddddddddddd" {
			t.Errorf("JSON: got %v (%v)\n%s", got, err, out.String())
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no kind", []string{"--format", "csv"}, "want events or settings"},
		{"unknown kind", []string{"users"}, `want events or settings, not "users"`},
		{"unknown format", []string{"events", "--format", "xml"}, `--format "xml": want csv or json`},
		{"bad date", []string{"events", "--since", "yesterday"}, `since "yesterday": want a date such as 2026-01-31`},
		{"reversed range", []string{"events", "--since", "2026-02-01", "--until", "2026-01-01"}, "is not before until"},
		{"unknown reason", []string{"events", "--reason", "sleepy"}, `reason "sleepy"`},
		{"user filter on the settings", []string{"settings", "--user", "7"}, "filtered by date only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), append(append([]string{"export"}, tt.args...), "--data", dir), getenv(nil), &out, &errOut)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(errOut.String(), "export --help") {
				t.Errorf("got %v (stderr %q), want a usage error with %q", err, errOut.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("output: %q", out.String())
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), []string{"export", "--help"}, getenv(nil), &out, &errOut); err != nil || !strings.Contains(out.String(), "Usage: backend export events|settings") {
			t.Errorf("help: %v\n%s", err, out.String())
		}
	})
}

// TestSettingsFile: an invalid settings file or variable stops the start
// with the field and the reason, before anything listens.
func TestSettingsFile(t *testing.T) {
	write := func(t *testing.T, text string) string {
		p := filepath.Join(t.TempDir(), "settings.toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, file string
		env        map[string]string
		args       []string
		usage      bool
		want       string
	}{
		{name: "a value out of range", file: "lifetime = 0\n", want: "lifetime: must be at least 1 second"},
		{name: "an unknown key", file: "lifetime = 600\nidle = 3\n", want: "idle: is not a settings key"},
		{name: "a wrong type", file: "max_sessions = \"two\"\n", want: "max_sessions: incompatible types"},
		{name: "a bad variable", env: map[string]string{"LOGOUT_SETTINGS_MAX_SESSIONS": "lots"}, want: "LOGOUT_SETTINGS_MAX_SESSIONS: logout: max_sessions"},
		{name: "locked without settings", args: []string{"--settings-locked"}, usage: true, want: "--settings-locked needs --settings-file"},
		{name: "a missing file", args: []string{"--settings-file", "/nonexistent/settings.toml"}, want: "settings file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, tt.args...)
			if tt.file != "" {
				args = append(args, "--settings-file", write(t, tt.file))
			}
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, getenv(tt.env), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, errUsage) != tt.usage {
				t.Errorf("got %v, want an error with %q (usage %v)", err, tt.want, tt.usage)
			}
			if strings.Contains(out.String(), "listening") {
				t.Errorf("it listened: %q", out.String())
			}
		})
	}
}
