package backend_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// TestSettingsPolicies posts the policy, limit, retention, sign-out on
// close and per-user fields: valid values are saved; each invalid one is
// refused next to its field with what was typed kept and the stored
// settings unchanged.
func TestSettingsPolicies(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(url.Values)
		want   func(logout.Settings) bool // the saved settings, on success
		done   string                     // the redirect's done= on success
		errID  string                     // the input whose error shows, on failure
		errMsg string
		typed  []string // values that the 422 page must still hold
	}{
		{name: "a policy chosen alone applies its lengths", edit: func(v url.Values) { v.Set("policy", "nist-aal2") },
			want: func(s logout.Settings) bool {
				return s.Policy == "nist-aal2" && s.Lifetime == time.Hour && s.AbsoluteLifetime == 24*time.Hour
			}, done: "preset"},
		{name: "a policy chosen with new numbers keeps the numbers", edit: func(v url.Values) {
			v.Set("policy", "nist-aal3")
			v.Set("lifetime", "600")
			v.Set("absolute_lifetime", "3600")
		}, want: func(s logout.Settings) bool {
			return s.Policy == "nist-aal3" && s.Lifetime == 600*time.Second && s.AbsoluteLifetime == time.Hour
		}, done: "saved"},
		{name: "numbers above the policy", edit: func(v url.Values) {
			v.Set("policy", "nist-aal3")
			v.Set("lifetime", "1200")
			v.Set("absolute_lifetime", "3600")
		}, errID: "f-lifetime", errMsg: "Must be at most 900 seconds under the chosen policy.", typed: []string{"1200", "3600"}},
		{name: "a policy without the maximum length it needs", edit: func(v url.Values) {
			v.Set("policy", "nist-aal3")
			v.Set("lifetime", "600")
		}, errID: "f-absolute_lifetime", errMsg: "The chosen policy needs a maximum length of at most 43200 seconds (not 0)."},
		{name: "unknown policy", edit: func(v url.Values) { v.Set("policy", "hipaa") },
			errID: "f-policy", errMsg: "Choose one of the listed policies."},
		{name: "session limit", edit: func(v url.Values) { v.Set("max_sessions", "3") },
			want: func(s logout.Settings) bool { return s.MaxSessions == 3 }, done: "saved"},
		{name: "session limit too high", edit: func(v url.Values) { v.Set("max_sessions", "1001") },
			errID: "f-max_sessions", errMsg: "Must be at most 1000 sessions.", typed: []string{"1001"}},
		{name: "session limit not a number", edit: func(v url.Values) { v.Set("max_sessions", "three") },
			errID: "f-max_sessions", errMsg: "Enter a whole number of sessions, using only the digits 0–9.", typed: []string{"three"}},
		{name: "retention", edit: func(v url.Values) { v.Set("retention_days", "90") },
			want: func(s logout.Settings) bool { return s.Retention == 90*24*time.Hour }, done: "saved"},
		{name: "retention too long", edit: func(v url.Values) { v.Set("retention_days", "99999") },
			errID: "f-retention_days", errMsg: "Must be at most 3660 days.", typed: []string{"99999"}},
		{name: "retention negative", edit: func(v url.Values) { v.Set("retention_days", "-1") },
			errID: "f-retention_days", errMsg: "Must not be negative."},
		{name: "sign-out on close with a grace", edit: func(v url.Values) {
			v.Set("sign_out_on_close", "on")
			v.Set("close_grace", "45")
		}, want: func(s logout.Settings) bool { return s.SignOutOnClose && s.CloseGrace == 45*time.Second }, done: "saved"},
		{name: "grace too long", edit: func(v url.Values) { v.Set("close_grace", "4000") },
			errID: "f-close_grace", errMsg: "Must be at most 3600 seconds (one hour).", typed: []string{"4000"}},
		{name: "per-user rule by name", edit: func(v url.Values) {
			v["override_user"] = []string{"editor", ""}
			v["override_lifetime"] = []string{"3600", ""}
		}, want: func(s logout.Settings) bool { return len(s.UserLifetimes) == 1 && s.UserLifetimes["2"] == time.Hour }, done: "saved"},
		{name: "per-user rule by session user ID", edit: func(v url.Values) {
			v["override_user"] = []string{"panel-7"}
			v["override_lifetime"] = []string{"120"}
		}, want: func(s logout.Settings) bool { return s.UserLifetimes["panel-7"] == 2*time.Minute }, done: "saved"},
		{name: "per-user rule without a lifetime", edit: func(v url.Values) {
			v["override_user"] = []string{"editor"}
			v["override_lifetime"] = []string{""}
		}, errID: "f-override-lifetime-1", errMsg: "Enter a value.", typed: []string{"editor"}},
		{name: "per-user rule without a user", edit: func(v url.Values) {
			v["override_user"] = []string{" "}
			v["override_lifetime"] = []string{"600"}
		}, errID: "f-override-user-1", errMsg: "Enter the user, or clear the lifetime to remove the rule.", typed: []string{"600"}},
		{name: "per-user rule given twice", edit: func(v url.Values) {
			v["override_user"] = []string{"editor", "editor"}
			v["override_lifetime"] = []string{"600", "700"}
		}, errID: "f-override-user-2", errMsg: "This user already has a rule above.", typed: []string{"600", "700"}},
		{name: "per-user lifetime not a number", edit: func(v url.Values) {
			v["override_user"] = []string{"editor"}
			v["override_lifetime"] = []string{"1h"}
		}, errID: "f-override-lifetime-1", errMsg: "Enter a whole number of seconds, using only the digits 0–9.", typed: []string{"1h"}},
		{name: "per-user rule not above the warning", edit: func(v url.Values) {
			v["override_user"] = []string{"panel-7"}
			v["override_lifetime"] = []string{"30"}
		}, errID: "f-override-lifetime-1", errMsg: "Must be more than the warning before sign-out (60 seconds).", typed: []string{"panel-7", "30"}},
		{name: "per-user ID with a space", edit: func(v url.Values) {
			v["override_user"] = []string{"a b"}
			v["override_lifetime"] = []string{"600"}
		}, errID: "f-override-user-1", errMsg: "Enter a user of 1 to 128 characters without spaces.", typed: []string{"a b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, c, form := adminForm(t)
			tt.edit(form)
			r := c.post(settingsURL, form)
			s, err := e.app.Manager().Settings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				wantStatus(t, r, http.StatusSeeOther)
				if got, want := r.Header.Get("Location"), settingsURL+"?done="+tt.done; got != want {
					t.Errorf("Location: got %q, want %q", got, want)
				}
				if !tt.want(s) {
					t.Errorf("saved settings: got %+v", s)
				}
				return
			}
			wantStatus(t, r, http.StatusUnprocessableEntity)
			checkPage(t, r, "en")
			wantContains(t, r.body, `<a href="#`+tt.errID+`">`, `id="`+tt.errID+`-error">`+html.EscapeString(tt.errMsg)+`<`, "The settings were not saved")
			for _, v := range tt.typed {
				wantContains(t, r.body, `value="`+html.EscapeString(v)+`"`)
			}
			if !s.Equal(logout.DefaultSettings()) {
				t.Errorf("stored settings changed: %+v", s)
			}
		})
	}
}

// adminForm starts an App, signs the administrator in and returns the
// default settings form with the session's token.
func adminForm(t *testing.T) (*env, *client, url.Values) {
	t.Helper()
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	return e, c, settingsForm(c.token(), "0")
}

// TestSettingsRowsUnpaired: per-user rows that do not pair up are a form
// this page never sends: 400, nothing saved.
func TestSettingsRowsUnpaired(t *testing.T) {
	e, c, form := adminForm(t)
	form["override_user"] = []string{"editor", "admin"}
	form["override_lifetime"] = []string{"600"}
	wantStatus(t, c.post(settingsURL, form), http.StatusBadRequest)
	if s, _ := e.app.Manager().Settings(t.Context()); s.Version != 0 {
		t.Errorf("settings saved: version %d", s.Version)
	}
}

// TestSettingsPageRules: the page shows the saved per-user rules by user
// name, empty rows to add more, the presets with their sources, and the
// exemptions: each rule longer than the lifetime or the preset's limit.
func TestSettingsPageRules(t *testing.T) {
	_, c, form := adminForm(t)
	form.Set("policy", "pci-dss")
	form.Set(settingsform.FieldRolePrefix+"editor", "3600")
	form.Set(settingsform.FieldRolePrefix+"admin", "300")
	form["override_user"] = []string{"admin", "panel-7"}
	form["override_lifetime"] = []string{"7200", "600"}
	wantStatus(t, c.post(settingsURL, form), http.StatusSeeOther)

	r := c.get(settingsURL)
	wantStatus(t, r, http.StatusOK)
	checkPage(t, r, "en")
	wantContains(t, r.body,
		`<option value="pci-dss" data-lifetime="900" data-absolute="0" selected>PCI DSS v4.0 requirement 8.2.8</option>`,
		`<span class="source" lang="en">NIST SP 800-63B-4, section 2.2.3`,
		`Idle at most 3600 s, overall at most 86400 s.`,
		`id="f-override-user-1" name="override_user" type="text" autocomplete="off" value="admin"`,
		`id="f-override-lifetime-1" name="override_lifetime" type="text" inputmode="numeric" autocomplete="off" class="input-number" value="7200"`,
		`id="f-override-user-2" name="override_user" type="text" autocomplete="off" value="panel-7"`,
		`id="f-override-user-5" name="override_user" type="text" autocomplete="off" value=""`,
		`<strong>Editor</strong> (role): 3600 s – longer than the session lifetime (900 s); above the limit of PCI DSS v4.0 requirement 8.2.8 (900 s)`,
		`<strong>admin</strong> (user): 7200 s – longer than the session lifetime (900 s); above the limit`,
	)
	for _, absent := range []string{"<strong>Administrator</strong>", "<strong>panel-7</strong>", `id="f-override-user-6"`} {
		if strings.Contains(r.body, absent) {
			t.Errorf("page has %q", absent)
		}
	}
}
