package backend

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
// old version is refused with the current settings shown.
func (a *App) saveSettings(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.checkCSRF(w, r, u) {
		return
	}
	tr := a.cat.lang(pickLang(r))
	form := settingsValues(r.PostForm)
	version, err := strconv.ParseInt(r.PostFormValue(fieldVersion), 10, 64)
	if err != nil || version < 0 {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	s, err := logout.ParseSettings(form)
	if err == nil {
		s.Version = version
		_, err = a.m.UpdateSettings(r.Context(), s)
	}
	if a.settingsFailed(w, r, u, tr, err, form, version) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: settings saved", slog.String("by", u.Name))
	http.Redirect(w, r, a.cfg.Prefix+settingsPath+"?done=saved", http.StatusSeeOther)
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
	if !a.checkCSRF(w, r, u) {
		return
	}
	tr := a.cat.lang(pickLang(r))
	version, err := strconv.ParseInt(r.PostFormValue(fieldVersion), 10, 64)
	if err != nil || version < 0 {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		cur, err := a.m.Settings(r.Context())
		if err != nil {
			a.internal(w, r, u, err)
			return
		}
		view := a.settingsForm(tr, cur.Values(), cur.Version, nil)
		view.ConfirmError = tr.T("settings.reset.confirm_missing")
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, view)
		return
	}
	_, err = a.m.ResetSettings(r.Context(), version)
	if a.settingsFailed(w, r, u, tr, err, nil, version) {
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: settings reset to defaults", slog.String("by", u.Name))
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
