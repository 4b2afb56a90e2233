package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/settingsform"
)

const settingsURL = "/backend/system/settings/user-session"

// settingsForm returns the default settings as the form posts them:
// every field, the role lifetimes empty.
func settingsForm(tok string, version string) url.Values {
	v := settingsform.Values(logout.DefaultSettings())
	for _, role := range []string{"admin", "editor"} {
		v.Set(settingsform.FieldRolePrefix+role, "")
	}
	v.Set("csrf_token", tok)
	v.Set("version", version)
	return v
}

func TestSettingsInvalid(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	tok := c.token()
	digits := "Enter a whole number of seconds, using only the digits 0–9."
	for _, tt := range []struct {
		name, field, value, want string
	}{
		{"not a number", settingsform.FieldLifetime, "abc", digits},
		{"zero", settingsform.FieldLifetime, "0", "Must be at least 1 second."},
		{"negative", settingsform.FieldLifetime, "-5", "Must not be negative."},
		{"exponent", settingsform.FieldLifetime, "1e3", digits},
		{"decimal", settingsform.FieldLifetime, "9.5", digits},
		{"huge", settingsform.FieldLifetime, "99999999999999999999", "Must be at most 31536000 seconds (one year)."},
		{"over a year", settingsform.FieldLifetime, "31536001", "Must be at most 31536000 seconds (one year)."},
		{"empty", settingsform.FieldLifetime, "", "Enter a value."},
		{"other digits", settingsform.FieldLifetime, "١٢", digits},
		{"markup", settingsform.FieldLifetime, `"><b>x`, digits},
		{"warning not below lifetime", settingsform.FieldWarningLead, "900", "Must be less than the session lifetime (900 seconds)."},
		{"absolute below lifetime", settingsform.FieldAbsoluteLifetime, "10", "Must be 0 (off) or at least the session lifetime (900 seconds)."},
		{"role not above warning", settingsform.FieldRolePrefix + "editor", "30", "Must be more than the warning before sign-out (60 seconds)."},
		{"role not a number", settingsform.FieldRolePrefix + "admin", "ten", digits},
		{"checkbox", settingsform.FieldShowCounter, "maybe", "Must be on or off."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := settingsForm(tok, "0")
			form.Set(tt.field, tt.value)
			r := c.post(settingsURL, form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			checkPage(t, r, "en")
			id := "f-" + tt.field
			wantContains(t, r.body,
				"<title>Error: User Session",
				tt.want,
				`<a href="#`+id+`">`,
				`id="`+id+`-error"`,
				`aria-describedby="`+id+`-help `+id+`-error" aria-invalid="true"`,
				"The settings were not saved",
			)
			if tt.field != settingsform.FieldShowCounter {
				wantContains(t, r.body, `name="`+tt.field+`" type="text" inputmode="numeric" autocomplete="off" class="input-number" value="`+html.EscapeString(tt.value)+`"`)
			}
			s, err := e.app.Manager().Settings(t.Context())
			if err != nil || !s.Equal(logout.DefaultSettings()) {
				t.Errorf("stored settings changed: %+v (%v)", s, err)
			}
		})
	}
	t.Run("in Polish", func(t *testing.T) {
		c.header.Set("Accept-Language", "pl")
		defer c.header.Del("Accept-Language")
		form := settingsForm(tok, "0")
		form.Set(settingsform.FieldLifetime, "0")
		r := c.post(settingsURL, form)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		checkPage(t, r, "pl")
		wantContains(t, r.body, "Musi wynosić co najmniej 1 sekundę.", "Błąd: Sesja użytkownika")
	})
}

// TestSettingsRequired: a settings POST that lacks a field is refused for
// that field, with what was typed kept, rather than saved with a zero.
func TestSettingsRequired(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	tok := c.token()
	for _, tt := range []struct {
		name, field string
		blank       bool // sent empty rather than left out
	}{
		{"no lifetime", settingsform.FieldLifetime, false},
		{"no maximum length", settingsform.FieldAbsoluteLifetime, false},
		{"empty maximum length", settingsform.FieldAbsoluteLifetime, true},
		{"no warning", settingsform.FieldWarningLead, false},
		{"blank warning", settingsform.FieldWarningLead, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := settingsForm(tok, "0")
			typed := map[string]string{settingsform.FieldLifetime: "600", settingsform.FieldAbsoluteLifetime: "7200", settingsform.FieldWarningLead: "30"}
			for k, v := range typed {
				form.Set(k, v)
			}
			form.Set(settingsform.FieldRolePrefix+"editor", "300")
			typed[settingsform.FieldRolePrefix+"editor"] = "300"
			if tt.blank {
				form.Set(tt.field, " ")
			} else {
				form.Del(tt.field)
			}
			r := c.post(settingsURL, form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			checkPage(t, r, "en")
			id := "f-" + tt.field
			wantContains(t, r.body, `<a href="#`+id+`">`, `<p class="field-error" id="`+id+`-error">Enter a value.</p>`)
			if n := strings.Count(r.body, `class="field-error"`); n != 1 {
				t.Errorf("fields with errors: got %d, want 1", n)
			}
			for k, v := range typed {
				if k != tt.field {
					wantContains(t, r.body, `name="`+k+`" type="text" inputmode="numeric" autocomplete="off" class="input-number" value="`+v+`"`)
				}
			}
			s, err := e.app.Manager().Settings(t.Context())
			if err != nil || !s.Equal(logout.DefaultSettings()) {
				t.Errorf("stored settings changed: %+v (%v)", s, err)
			}
		})
	}
}

// logBuffer collects JSON log lines; the server writes to it while the
// test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// find returns the log records with the message.
func (l *logBuffer) find(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// startLogged starts an App as start does, logging JSON into the buffer.
func startLogged(t *testing.T) (*env, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	c := fakeclock.New()
	app, err := backend.New(context.Background(), backend.Config{
		DataDir: t.TempDir(), Clock: c, BcryptCost: bcrypt.MinCost,
		AdminPassword: adminPassword, EditorPassword: editorPassword,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("backend.New: %v", err)
	}
	e := &env{t: t, app: app, srv: httptest.NewServer(app.Handler()), clock: c}
	t.Cleanup(e.stop)
	return e, logs
}

// TestSettingsChangeLogged: the log line of a save or a reset names who
// made it and, for each changed field only, the old and new value.
func TestSettingsChangeLogged(t *testing.T) {
	e, logs := startLogged(t)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	type change = map[string]any
	for _, tt := range []struct {
		name, msg string
		post      func() response
		want      map[string]any
	}{
		{"save", "backend: settings saved", func() response {
			form := settingsForm(c.token(), "0")
			form.Set(settingsform.FieldLifetime, "600")
			form.Del(settingsform.FieldShowCounter)
			form.Set(settingsform.FieldRolePrefix+"editor", "300")
			return c.post(settingsURL, form)
		}, map[string]any{
			"by": "admin", "from_version": 0.0, "version": 1.0, "changed": change{
				"lifetime":             change{"old": "900 s", "new": "600 s"},
				"show_counter":         change{"old": "on", "new": "off"},
				"role_lifetime.editor": change{"old": "none", "new": "300 s"},
			},
		}},
		{"save of nothing new", "backend: settings saved", func() response {
			form := settingsForm(c.token(), "1")
			form.Set(settingsform.FieldLifetime, "600")
			form.Del(settingsform.FieldShowCounter)
			form.Set(settingsform.FieldRolePrefix+"editor", "300")
			return c.post(settingsURL, form)
		}, map[string]any{"by": "admin", "from_version": 1.0, "version": 2.0}},
		{"reset", "backend: settings reset to defaults", func() response {
			return c.post(settingsURL+"/reset", url.Values{"csrf_token": {c.token()}, "version": {"2"}, "confirm": {"yes"}})
		}, map[string]any{
			"by": "admin", "from_version": 2.0, "version": 3.0, "changed": change{
				"lifetime":             change{"old": "600 s", "new": "900 s"},
				"show_counter":         change{"old": "off", "new": "on"},
				"role_lifetime.editor": change{"old": "300 s", "new": "none"},
			},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.find(t, tt.msg))
			wantStatus(t, tt.post(), http.StatusSeeOther)
			recs := logs.find(t, tt.msg)
			if len(recs) != before+1 {
				t.Fatalf("%q lines: got %d, want %d", tt.msg, len(recs), before+1)
			}
			got := recs[len(recs)-1]
			for _, k := range []string{"time", "level", "msg"} {
				delete(got, k)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if !bytes.Equal(g, w) {
				t.Errorf("log line: got %s, want %s", g, w)
			}
		})
	}
}

func TestSettingsSave(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	page := c.get(settingsURL)
	wantContains(t, page.body,
		"Session lifetime in seconds",
		"Signs a user out after this many seconds without activity.",
		"Display counter", "Shows the time left until the sign-out next to the user&#39;s avatar.",
		`name="version" value="0"`, `name="role_lifetime.admin"`, `name="role_lifetime.editor"`)
	form := settingsForm(csrf(t, page.body), "0")
	form.Set(settingsform.FieldLifetime, "600")
	form.Del(settingsform.FieldShowCounter)
	form.Set(settingsform.FieldRolePrefix+"editor", "300")
	form.Set("role_lifetime.intruder", "5") // not a known role: ignored
	r := c.post(settingsURL, form)
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != settingsURL+"?done=saved" {
		t.Errorf("Location: got %q", got)
	}
	r = c.follow(r)
	wantContains(t, r.body, "Settings saved.", `name="lifetime" type="text" inputmode="numeric" autocomplete="off" class="input-number" value="600"`,
		`name="version" value="1"`, `value="300"`)
	if strings.Contains(r.body, `id="f-show_counter" name="show_counter" type="checkbox" value="on" checked`) {
		t.Error("counter still on")
	}
	s, _ := e.app.Manager().Settings(t.Context())
	if s.Lifetime != 600*time.Second || s.ShowCounter || s.RoleLifetimes["editor"] != 300*time.Second || len(s.RoleLifetimes) != 1 {
		t.Errorf("saved settings: %+v", s)
	}
	// The counter is hidden now; the widget is still there.
	wantContains(t, c.get("/backend").body, `data-lifetime="600"`, `data-expired="Session expired" hidden>`)

	// A second editor who loaded version 0 gets a conflict.
	r = c.post(settingsURL, settingsForm(csrf(t, r.body), "0"))
	wantStatus(t, r, http.StatusConflict)
	wantContains(t, r.body, "Someone else saved the settings while you were editing them.", `name="version" value="1"`)
	if s2, _ := e.app.Manager().Settings(t.Context()); !s2.Equal(s) {
		t.Errorf("settings changed by a conflicting save: %+v", s2)
	}
}

func TestSettingsReset(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	form := settingsForm(c.token(), "0")
	form.Set(settingsform.FieldLifetime, "600")
	wantStatus(t, c.post(settingsURL, form), http.StatusSeeOther)

	tok := c.token()
	r := c.post(settingsURL+"/reset", url.Values{"csrf_token": {tok}, "version": {"1"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r.body, "Tick the box to confirm the reset.", `aria-describedby="f-confirm-error"`)
	if s, _ := e.app.Manager().Settings(t.Context()); s.Lifetime != 600*time.Second {
		t.Errorf("reset without confirmation changed the settings: %+v", s)
	}
	r = c.post(settingsURL+"/reset", url.Values{"csrf_token": {tok}, "version": {"1"}, "confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, c.follow(r).body, "The settings were reset to their defaults.", `value="900"`)
	s, _ := e.app.Manager().Settings(t.Context())
	want := logout.DefaultSettings()
	want.Version = 2
	if !s.Equal(want) {
		t.Errorf("after reset: got %+v, want %+v", s, want)
	}
}

// TestSettingsApplyAtOnce: with a lifetime of 10 s, a request 10 s after
// the last one goes to the sign-in page, which says why.
func TestSettingsApplyAtOnce(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	other := e.client()
	other.mustSignIn("editor", editorPassword)

	form := settingsForm(c.token(), "0")
	form.Set(settingsform.FieldLifetime, "10")
	form.Set(settingsform.FieldWarningLead, "5")
	r := c.post(settingsURL, form)
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, c.follow(r), 200)

	e.clock.Advance(9 * time.Second)
	wantStatus(t, c.get("/backend"), 200) // 9 s idle: still signed in
	e.clock.Advance(10 * time.Second)
	for _, cl := range []*client{c, other} { // the editor's older session too
		r = cl.get("/backend/system/settings/user-session")
		wantStatus(t, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/backend/auth/signin?") || !strings.Contains(loc, "reason=idle") {
			t.Errorf("Location: got %q, want the sign-in page with reason=idle", loc)
		}
		page := cl.follow(r)
		wantStatus(t, page, 200)
		checkPage(t, page, "en")
		wantContains(t, page.body, "You have been logged out!")
	}
	// Signing in again returns to the page asked for.
	r = c.get("/backend/system/settings/user-session")
	wantStatus(t, r, http.StatusSeeOther)
	loginPage := c.follow(r)
	r = c.post("/backend/auth/signin", url.Values{
		"csrf_token": {csrf(t, loginPage.body)}, "username": {"admin"}, "password": {adminPassword},
		"return": {"/backend/system/settings/user-session"},
	})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != settingsURL {
		t.Errorf("after sign-in: got %q, want %q", got, settingsURL)
	}
}
