package backend

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// Paths below the prefix of the System pages.
const (
	settingsPath = "/system/settings/user-session"
	sessionsPath = "/system/sessions"
)

// fieldVersion is the hidden field that carries the settings version the
// form was built from.
const fieldVersion = "version"

// A settingsField is one input of the settings form.
type settingsField struct {
	Name, ID, Label, Help, Value, Error string
	Checkbox, Checked                   bool
}

// settingsView is the settings page's data.
type settingsView struct {
	Version      int64
	Fields       []settingsField // in form order, role lifetimes included
	Errors       []settingsField // the fields with errors, for the summary
	ConfirmError string
}

// settingsForm builds the form from values (the stored settings, or what
// was posted) and the errors by field name.
func (a *App) settingsForm(tr translator, v url.Values, version int64, errs map[string]*logout.FieldError) settingsView {
	view := settingsView{Version: version}
	add := func(name, key string, checkbox bool, args ...any) {
		f := settingsField{
			Name: name, ID: "f-" + name, Label: tr.T("settings."+key+".label", args...), Help: tr.T("settings." + key + ".help"),
			Value: v.Get(name), Checkbox: checkbox,
		}
		if checkbox {
			switch strings.ToLower(strings.TrimSpace(f.Value)) {
			case "on", "1", "true": // as logout.ParseSettings reads a checkbox
				f.Checked = true
			}
		}
		if fe, ok := errs[name]; ok {
			f.Error = fieldMessage(tr, fe)
			view.Errors = append(view.Errors, f)
		}
		view.Fields = append(view.Fields, f)
	}
	add(logout.FieldLifetime, "lifetime", false)
	add(logout.FieldShowCounter, "show_counter", true)
	add(logout.FieldAbsoluteLifetime, "absolute", false)
	add(logout.FieldWarningLead, "warning", false)
	for _, role := range knownRoles() {
		add(logout.FieldRolePrefix+role, "role", false, tr.T("role."+role))
	}
	add(logout.FieldFrontendActivity, "frontend", true)
	return view
}

// settingsValues keeps only the form's known fields.
func settingsValues(form url.Values) url.Values {
	names := []string{logout.FieldLifetime, logout.FieldShowCounter, logout.FieldAbsoluteLifetime,
		logout.FieldWarningLead, logout.FieldFrontendActivity}
	for _, role := range knownRoles() {
		names = append(names, logout.FieldRolePrefix+role)
	}
	v := url.Values{}
	for _, n := range names {
		if x, ok := form[n]; ok {
			v[n] = x
		}
	}
	return v
}

// showSettings renders the settings page.
func (a *App) showSettings(w http.ResponseWriter, r *http.Request, u *user, code int, view settingsView, notices ...notice) {
	p := a.page(r, u, "settings.title")
	p.Active = "settings"
	p.Notices = append(p.Notices, notices...)
	if len(view.Errors) > 0 || view.ConfirmError != "" {
		p.Title = p.T("settings.error_title", p.Title)
	}
	p.Data = view
	a.render(w, r, code, "settings", p)
}

// settingsPage shows the stored settings.
func (a *App) settingsPage(w http.ResponseWriter, r *http.Request, u *user) {
	cur, err := a.m.Settings(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	tr := a.cat.lang(pickLang(r))
	var notices []notice
	switch r.URL.Query().Get("done") {
	case "saved":
		notices = append(notices, notice{Kind: "success", Text: tr.T("settings.saved")})
	case "reset":
		notices = append(notices, notice{Kind: "success", Text: tr.T("settings.reset_done")})
	}
	a.showSettings(w, r, u, http.StatusOK, a.settingsForm(tr, cur.Values(), cur.Version, nil), notices...)
}

// saveSettings validates and saves the settings. Invalid values are shown
// again with their errors, the stored settings unchanged; an edit of an
// old version is refused with the current settings shown. A body that
// does not parse changes nothing (400). The log line names who saved and,
// for each changed field, its old and new value.
func (a *App) saveSettings(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	tr := a.cat.lang(pickLang(r))
	form := settingsValues(r.PostForm)
	version, err := strconv.ParseInt(r.PostForm.Get(fieldVersion), 10, 64)
	if err != nil || version < 0 {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	before, err := a.m.Settings(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	// ParseSettings refuses a missing or blank number field ("required").
	s, err := logout.ParseSettings(form)
	var after logout.Settings
	if err == nil {
		s.Version = version
		after, err = a.m.UpdateSettings(r.Context(), s, u.Name)
	}
	if a.settingsFailed(w, r, u, tr, err, form, version) {
		return
	}
	a.logChange(r, u, "backend: settings saved", before, after)
	http.Redirect(w, r, a.cfg.Prefix+settingsPath+"?done=saved", http.StatusSeeOther)
}

// logChange logs a change of the settings: who made it, the version it
// was compared with and the new one, and for each field that changed a
// group with its old and new value (seconds, or on/off; a role without
// a lifetime of its own is ""). The settings before are the cached ones,
// so after another instance's save they may be older than the version
// edited: from_version then differs from version-1.
func (a *App) logChange(r *http.Request, u *user, msg string, before, after logout.Settings) {
	var changed []any
	field := func(name string, from, to any) {
		if from != to {
			changed = append(changed, slog.Group(name, slog.Any("old", from), slog.Any("new", to)))
		}
	}
	field(logout.FieldLifetime, seconds(before.Lifetime), seconds(after.Lifetime))
	field(logout.FieldShowCounter, before.ShowCounter, after.ShowCounter)
	field(logout.FieldAbsoluteLifetime, seconds(before.AbsoluteLifetime), seconds(after.AbsoluteLifetime))
	field(logout.FieldWarningLead, seconds(before.WarningLead), seconds(after.WarningLead))
	roles := slices.AppendSeq(slices.Collect(maps.Keys(before.RoleLifetimes)), maps.Keys(after.RoleLifetimes))
	slices.Sort(roles)
	for _, role := range slices.Compact(roles) {
		field(logout.FieldRolePrefix+role, roleSeconds(before, role), roleSeconds(after, role))
	}
	field(logout.FieldFrontendActivity, before.FrontendActivity, after.FrontendActivity)
	a.log.LogAttrs(r.Context(), slog.LevelInfo, msg, slog.String("by", u.Name),
		slog.Int64("from_version", before.Version), slog.Int64("version", after.Version),
		slog.Group("changed", changed...))
}

// seconds returns d in whole seconds, as the settings form shows it.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// roleSeconds returns the role's own lifetime in seconds, or "" when it
// has none.
func roleSeconds(s logout.Settings, role string) any {
	if d, ok := s.RoleLifetimes[role]; ok {
		return seconds(d)
	}
	return ""
}

// settingsFailed answers a failed save or reset and reports whether it did.
func (a *App) settingsFailed(w http.ResponseWriter, r *http.Request, u *user, tr translator, err error, form url.Values, version int64) bool {
	if err == nil {
		return false
	}
	if errs := logout.FieldErrors(err); errs != nil {
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, a.settingsForm(tr, form, version, errs),
			notice{Kind: "error", Text: tr.T("settings.invalid")})
		return true
	}
	if errors.Is(err, logout.ErrConflict) {
		cur, err := a.m.Settings(r.Context())
		if err != nil {
			a.internal(w, r, u, err)
			return true
		}
		a.showSettings(w, r, u, http.StatusConflict, a.settingsForm(tr, cur.Values(), cur.Version, nil),
			notice{Kind: "error", Text: tr.T("settings.conflict")})
		return true
	}
	a.internal(w, r, u, err)
	return true
}

// resetSettings saves the default settings, once confirmed.
func (a *App) resetSettings(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	tr := a.cat.lang(pickLang(r))
	version, err := strconv.ParseInt(r.PostForm.Get(fieldVersion), 10, 64)
	if err != nil || version < 0 {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	before, err := a.m.Settings(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		view := a.settingsForm(tr, before.Values(), before.Version, nil)
		view.ConfirmError = tr.T("settings.reset.confirm_missing")
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, view)
		return
	}
	after, err := a.m.ResetSettings(r.Context(), version, u.Name)
	if a.settingsFailed(w, r, u, tr, err, nil, version) {
		return
	}
	a.logChange(r, u, "backend: settings reset to defaults", before, after)
	http.Redirect(w, r, a.cfg.Prefix+settingsPath+"?done=reset", http.StatusSeeOther)
}

// fieldMessage translates a field error by its code; the messages for
// an upper bound or another field's value name the limit.
func fieldMessage(tr translator, fe *logout.FieldError) string {
	key := "settings.err." + fe.Code
	switch fe.Code {
	case logout.CodeMax, logout.CodeAbsolute, logout.CodeWarning, logout.CodeRole:
		return tr.T(key, strconv.FormatInt(fe.Limit, 10))
	}
	return tr.T(key)
}
