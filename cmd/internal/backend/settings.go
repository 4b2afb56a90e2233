package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/proxy"
	"github.com/gologout/logout/settingsform"
)

// Paths below the prefix of the System pages.
const (
	settingsPath = "/system/settings/user-session"
	sessionsPath = "/system/sessions"
)

// fieldVersion is the hidden field that carries the settings version the
// form was built from.
const fieldVersion = "version"

// The repeated fields of the per-user rows: the user (a backend user's
// name or a session's user ID) and the lifetime in seconds, in pairs.
const (
	fieldOverrideUser     = "override_user"
	fieldOverrideLifetime = "override_lifetime"
)

// blankOverrides is how many empty per-user rows the form offers, so
// that overrides can be added without JavaScript.
const blankOverrides = 3

// maxOverrides bounds the per-user rows one form may post.
const maxOverrides = 500

// A settingsField is one input of the settings form.
type settingsField struct {
	Name, ID, Label, Help, Value, Error string
	Checkbox, Checked                   bool
}

// An overrideRow is one per-user row of the form: the user as typed or
// shown, the lifetime in seconds, and the errors of each input.
type overrideRow struct {
	Index                    int
	User, Lifetime           string
	UserError, LifetimeError string
	id                       string // the user ID the row resolves to; "" when blank
}

// A presetOption is one choice of the policy chooser.
type presetOption struct {
	Name, Title, Source string
	Lifetime, Absolute  int64 // seconds; Absolute 0 when the preset sets none
	Selected            bool
}

// An exemption is a role or user rule that lets a session idle longer
// than the global lifetime, or longer than the named preset allows.
type exemption struct {
	Kind, Name string // Kind is the translated "role" or "user"
	Seconds    int64
	Why        string
}

// settingsView is the settings page's data.
type settingsView struct {
	Version      int64
	Policy       settingsField
	Presets      []presetOption
	Fields       []settingsField // the lifetimes, counter and front-end activity
	Roles        []settingsField
	Overrides    []overrideRow
	Limits       []settingsField // session limit and sign-out on close
	Audit        []settingsField // retention
	Exemptions   []exemption     // of the settings in force
	Errors       []settingsField // the fields with errors, for the summary
	ConfirmError string
	Locked       *lockedView // not nil when a settings file locks the page
}

// settingsInput is a settings form as posted or as built from the
// settings: the scalar and role fields by name, and the per-user rows.
type settingsInput struct {
	values    url.Values
	overrides []overrideRow
}

// inputOf returns the form of s: its values and one row per user
// override, by user name where the user is known, in that order.
func inputOf(s logout.Settings, names map[string]string) settingsInput {
	in := settingsInput{values: settingsform.Values(s)}
	for k := range in.values {
		if strings.HasPrefix(k, settingsform.FieldUserPrefix) {
			delete(in.values, k)
		}
	}
	for id, d := range s.UserLifetimes {
		in.overrides = append(in.overrides, overrideRow{User: displayUser(id, names), Lifetime: strconv.FormatInt(seconds(d), 10), id: id})
	}
	slices.SortFunc(in.overrides, func(x, y overrideRow) int { return strings.Compare(x.User, y.User) })
	return in
}

// displayUser names the user ID id as the pages show it: the backend
// user's name, a panel user's name behind the proxy ([proxy.PanelUser])
// followed by " (panel)", or else the ID itself.
func displayUser(id string, names map[string]string) string {
	if n, ok := names[id]; ok {
		return n
	}
	if n, ok := proxy.PanelUserName(id); ok {
		return n + " (panel)"
	}
	return id
}

// resolveUser returns the user ID of what a row's user field holds: the
// ID of the backend user of that name; a panel user's ID ("panel:name")
// as it is, and a name as displayUser shows it ("name (panel)") as that
// panel user; else, with panel set (the admin pages of logout-proxy,
// where every other user is the panel's), the panel user of that name,
// and without it the text itself as a session's user ID.
func resolveUser(typed string, names map[string]string, panel func(string) string) string {
	for id, n := range names {
		if n == typed {
			return id
		}
	}
	if _, ok := proxy.PanelUserName(typed); ok {
		return typed
	}
	if n, ok := strings.CutSuffix(typed, " (panel)"); ok {
		if panel == nil {
			return proxy.PanelUser(n)
		}
		return panel(n)
	}
	if _, ok := names[typed]; ok || panel == nil {
		return typed
	}
	return panel(typed)
}

// settingsForm builds the form from in (the stored settings, or what was
// posted), the errors by field name, and the settings in force for the
// exemptions.
func (a *App) settingsForm(tr translator, in settingsInput, version int64, errs map[string]*logout.FieldError, cur logout.Settings, names map[string]string) settingsView {
	view := settingsView{Version: version}
	v := in.values
	field := func(name, key string, checkbox bool, args ...any) settingsField {
		f := settingsField{
			Name: name, ID: "f-" + name, Label: tr.T("settings."+key+".label", args...), Help: tr.T("settings." + key + ".help"),
			Value: v.Get(name), Checkbox: checkbox,
		}
		if checkbox {
			switch strings.ToLower(strings.TrimSpace(f.Value)) {
			case "on", "1", "true": // as settingsform.Parse reads a checkbox
				f.Checked = true
			}
		}
		if fe, ok := errs[name]; ok {
			f.Error = fieldMessage(tr, fe)
			view.Errors = append(view.Errors, f)
		}
		return f
	}
	view.Policy = field(settingsform.FieldPolicy, "policy", false)
	policy := v.Get(settingsform.FieldPolicy)
	view.Presets = append(view.Presets, presetOption{Name: logout.PolicyCustom, Title: tr.T("settings.policy.custom"),
		Selected: policy == "" || policy == logout.PolicyCustom})
	for _, p := range logout.Presets() {
		view.Presets = append(view.Presets, presetOption{Name: p.Name, Title: p.Title, Source: p.Source,
			Lifetime: seconds(p.Lifetime), Absolute: seconds(p.AbsoluteLifetime), Selected: policy == p.Name})
	}
	view.Fields = []settingsField{
		field(settingsform.FieldLifetime, "lifetime", false),
		field(settingsform.FieldAbsoluteLifetime, "absolute", false),
		field(settingsform.FieldWarningLead, "warning", false),
		field(settingsform.FieldShowCounter, "show_counter", true),
		field(settingsform.FieldFrontendActivity, "frontend", true),
	}
	for _, role := range knownRoles() {
		view.Roles = append(view.Roles, field(settingsform.FieldRolePrefix+role, "role", false, tr.T("role."+role)))
	}
	rows := slices.Clone(in.overrides)
	for range blankOverrides {
		rows = append(rows, overrideRow{})
	}
	for i := range rows {
		row := &rows[i]
		row.Index = i + 1
		if fe, ok := errs[settingsform.FieldUserPrefix+row.id]; ok && row.id != "" {
			if fe.Code == settingsform.CodeUserName {
				row.UserError = fieldMessage(tr, fe)
			} else {
				row.LifetimeError = fieldMessage(tr, fe)
			}
		}
		if row.UserError != "" {
			view.Errors = append(view.Errors, settingsField{ID: fmt.Sprintf("f-override-user-%d", row.Index),
				Label: tr.T("settings.override.user_label", row.Index), Error: row.UserError})
		}
		if row.LifetimeError != "" {
			view.Errors = append(view.Errors, settingsField{ID: fmt.Sprintf("f-override-lifetime-%d", row.Index),
				Label: tr.T("settings.override.lifetime_label", row.Index), Error: row.LifetimeError})
		}
	}
	view.Overrides = rows
	view.Limits = []settingsField{
		field(settingsform.FieldMaxSessions, "max_sessions", false),
		field(settingsform.FieldSignOutOnClose, "sign_out_on_close", true),
		field(settingsform.FieldCloseGrace, "close_grace", false),
	}
	view.Audit = []settingsField{field(settingsform.FieldRetention, "retention", false)}
	view.Exemptions = exemptions(tr, cur, names)
	return view
}

// exemptions lists the role and user rules of s that are longer than
// its global lifetime or than its preset's limit, roles first, each
// sorted by name.
func exemptions(tr translator, s logout.Settings, names map[string]string) []exemption {
	preset, hasPreset := logout.PresetNamed(s.Policy)
	var out []exemption
	add := func(kind, name string, d time.Duration) {
		var why []string
		if d > s.Lifetime {
			why = append(why, tr.T("settings.exemptions.longer", seconds(s.Lifetime)))
		}
		if hasPreset && d > preset.Lifetime {
			why = append(why, tr.T("settings.exemptions.above_preset", preset.Title, seconds(preset.Lifetime)))
		}
		if len(why) > 0 {
			out = append(out, exemption{Kind: kind, Name: name, Seconds: seconds(d), Why: strings.Join(why, "; ")})
		}
	}
	for _, r := range slices.Sorted(maps.Keys(s.RoleLifetimes)) {
		add(tr.T("settings.exemptions.role"), tr.T("role."+r), s.RoleLifetimes[r])
	}
	users := slices.SortedFunc(maps.Keys(s.UserLifetimes), func(x, y string) int {
		return strings.Compare(displayUser(x, names), displayUser(y, names))
	})
	for _, id := range users {
		add(tr.T("settings.exemptions.user"), displayUser(id, names), s.UserLifetimes[id])
	}
	return out
}

// scalarFields are the settings form's fields that hold one value.
func scalarFields() []string {
	return []string{settingsform.FieldLifetime, settingsform.FieldShowCounter, settingsform.FieldAbsoluteLifetime,
		settingsform.FieldWarningLead, settingsform.FieldFrontendActivity, settingsform.FieldPolicy, settingsform.FieldMaxSessions,
		settingsform.FieldSignOutOnClose, settingsform.FieldCloseGrace, settingsform.FieldRetention}
}

// readInput reads a posted settings form: the known fields, and the
// per-user rows resolved to user IDs. It reports false when the rows do
// not pair up (a form this page never sends). A row with a user but no
// lifetime, a lifetime but no user, or a user given twice gets its error
// in the row; a row left blank is dropped.
func readInput(form url.Values, names map[string]string, panel func(string) string) (settingsInput, bool) {
	in := settingsInput{values: url.Values{}}
	for _, n := range scalarFields() {
		if x, ok := form[n]; ok {
			in.values[n] = x
		}
	}
	for _, role := range knownRoles() {
		if x, ok := form[settingsform.FieldRolePrefix+role]; ok {
			in.values[settingsform.FieldRolePrefix+role] = x
		}
	}
	users, lifetimes := form[fieldOverrideUser], form[fieldOverrideLifetime]
	if len(users) != len(lifetimes) || len(users) > maxOverrides {
		return in, false
	}
	seen := map[string]bool{}
	for i := range users {
		row := overrideRow{User: strings.TrimSpace(users[i]), Lifetime: strings.TrimSpace(lifetimes[i])}
		if row.User == "" && row.Lifetime == "" {
			continue
		}
		if row.User != "" {
			row.id = resolveUser(row.User, names, panel)
		}
		switch {
		case row.User == "":
			row.UserError = "settings.err.user_required"
		case seen[row.id]:
			row.UserError = "settings.err.user_twice"
		case row.Lifetime == "":
			row.LifetimeError = "settings.err.required"
		default:
			in.values.Set(settingsform.FieldUserPrefix+row.id, row.Lifetime)
		}
		if row.id != "" {
			seen[row.id] = true
		}
		in.overrides = append(in.overrides, row)
	}
	return in, true
}

// rowErrors reports whether any row has an error of its own; the keys
// are translated in place.
func (in settingsInput) rowErrors(tr translator) bool {
	bad := false
	for i := range in.overrides {
		row := &in.overrides[i]
		if row.UserError != "" {
			row.UserError, bad = tr.T(row.UserError), true
		}
		if row.LifetimeError != "" {
			row.LifetimeError, bad = tr.T(row.LifetimeError), true
		}
	}
	return bad
}

// applyPreset applies the preset that the form's policy names when the
// administrator changed only the chooser: the policy differs from the
// saved one while the idle and maximum lengths are still the saved ones.
// Then the lengths become the preset's ([logout.Preset.Apply]), as the
// page's script fills them in a browser. When the numbers were changed
// too, they are kept, and checked against the preset's limits. It
// reports whether it applied a preset.
func applyPreset(v url.Values, saved logout.Settings) bool {
	p, ok := logout.PresetNamed(strings.TrimSpace(v.Get(settingsform.FieldPolicy)))
	if !ok || p.Name == saved.Policy {
		return false
	}
	sv := settingsform.Values(saved)
	if strings.TrimSpace(v.Get(settingsform.FieldLifetime)) != sv.Get(settingsform.FieldLifetime) ||
		strings.TrimSpace(v.Get(settingsform.FieldAbsoluteLifetime)) != sv.Get(settingsform.FieldAbsoluteLifetime) {
		return false
	}
	s := p.Apply(saved)
	v.Set(settingsform.FieldLifetime, strconv.FormatInt(seconds(s.Lifetime), 10))
	v.Set(settingsform.FieldAbsoluteLifetime, strconv.FormatInt(seconds(s.AbsoluteLifetime), 10))
	return true
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
	cur, names, ok := a.settingsState(w, r, u)
	if !ok {
		return
	}
	tr := a.cat.lang(pickLang(r))
	var notices []notice
	switch r.URL.Query().Get("done") {
	case "saved":
		notices = append(notices, notice{Kind: "success", Text: tr.T("settings.saved")})
	case "preset":
		if p, ok := logout.PresetNamed(cur.Policy); ok {
			notices = append(notices, notice{Kind: "success", Text: tr.T("settings.saved_preset", p.Title)})
		}
	case "reset":
		notices = append(notices, notice{Kind: "success", Text: tr.T("settings.reset_done")})
	}
	view := a.settingsForm(tr, inputOf(cur, names), cur.Version, nil, cur, names)
	view.Locked = a.lockedView(tr, cur, names)
	a.showSettings(w, r, u, http.StatusOK, view, notices...)
}

// settingsState reads the settings in force and the backend's user
// names by ID; on failure it has answered and returns false.
func (a *App) settingsState(w http.ResponseWriter, r *http.Request, u *user) (logout.Settings, map[string]string, bool) {
	cur, err := a.m.Settings(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return cur, nil, false
	}
	names, err := a.users.names(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return cur, nil, false
	}
	return cur, names, true
}

// settingsPost starts the handling of a settings form's POST (save or
// reset): it reads the form, checks its CSRF token and that no settings
// file locks the settings, and returns the page's language, the version
// the page was rendered from, the settings in force and the user names.
// On false it has answered.
func (a *App) settingsPost(w http.ResponseWriter, r *http.Request, u *user) (tr translator, version int64, before logout.Settings, names map[string]string, ok bool) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) || !a.unlocked(w, r, u) {
		return tr, 0, before, nil, false
	}
	version, err := strconv.ParseInt(r.PostForm.Get(fieldVersion), 10, 64)
	if err != nil || version < 0 {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return tr, 0, before, nil, false
	}
	before, names, ok = a.settingsState(w, r, u)
	return a.cat.lang(pickLang(r)), version, before, names, ok
}

// saveSettings validates and saves the settings. Invalid values are shown
// again with their errors, the stored settings unchanged and nothing typed
// lost; an edit of an old version is refused with the current settings
// shown. A body that does not parse changes nothing (400); while a
// settings file locks the settings, nothing is saved (403). A policy
// chosen without changing the lengths applies the preset ([applyPreset]).
// The log line names who saved and each changed field's old and new value.
func (a *App) saveSettings(w http.ResponseWriter, r *http.Request, u *user) {
	tr, version, before, names, ok := a.settingsPost(w, r, u)
	if !ok {
		return
	}
	in, ok := readInput(r.PostForm, names, a.cfg.PanelUser)
	if !ok {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	applied := before.Version == version && applyPreset(in.values, before)
	// settingsform.Parse refuses a missing or blank number field ("required").
	s, err := settingsform.Parse(in.values)
	if in.rowErrors(tr) {
		errs := settingsform.FieldErrors(err)
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, a.settingsForm(tr, in, version, errs, before, names),
			notice{Kind: "error", Text: tr.T("settings.invalid")})
		return
	}
	var after logout.Settings
	if err == nil {
		s.Version = version
		after, err = a.m.UpdateSettings(r.Context(), s, u.Name)
	}
	if a.settingsFailed(w, r, u, tr, err, in, version, before, names) {
		return
	}
	a.logChange(r.Context(), u.Name, "backend: settings saved", before, after)
	done := "saved"
	if applied {
		done = "preset"
	}
	http.Redirect(w, r, a.cfg.Prefix+settingsPath+"?done="+done, http.StatusSeeOther)
}

// logChange logs a change of the settings: who made it, the version it
// was compared with and the new one, and for each field that changed a
// group with its old and new value in words
// ([settingsform.Diff]). The
// settings before are the cached ones, so after another instance's save
// they may be older than the version edited: from_version then differs
// from version-1.
func (a *App) logChange(ctx context.Context, by, msg string, before, after logout.Settings) {
	var changed []any
	for _, c := range settingsform.Diff(logout.SettingsChange{Old: before, New: after}) {
		changed = append(changed, slog.Group(c.Field, slog.String("old", c.Old), slog.String("new", c.New)))
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, msg, slog.String("by", by),
		slog.Int64("from_version", before.Version), slog.Int64("version", after.Version),
		slog.Group("changed", changed...))
}

// seconds returns d in whole seconds, as the settings form shows it.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// settingsFailed answers a failed save or reset and reports whether it did.
func (a *App) settingsFailed(w http.ResponseWriter, r *http.Request, u *user, tr translator, err error, in settingsInput, version int64, cur logout.Settings, names map[string]string) bool {
	if err == nil {
		return false
	}
	if errs := settingsform.FieldErrors(err); errs != nil {
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, a.settingsForm(tr, in, version, errs, cur, names),
			notice{Kind: "error", Text: tr.T("settings.invalid")})
		return true
	}
	if errors.Is(err, logout.ErrConflict) {
		cur, names, ok := a.settingsState(w, r, u)
		if !ok {
			return true
		}
		a.showSettings(w, r, u, http.StatusConflict, a.settingsForm(tr, inputOf(cur, names), cur.Version, nil, cur, names),
			notice{Kind: "error", Text: tr.T("settings.conflict")})
		return true
	}
	a.internal(w, r, u, err)
	return true
}

// resetSettings saves the default settings, once confirmed.
func (a *App) resetSettings(w http.ResponseWriter, r *http.Request, u *user) {
	tr, version, before, names, ok := a.settingsPost(w, r, u)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		view := a.settingsForm(tr, inputOf(before, names), before.Version, nil, before, names)
		view.ConfirmError = tr.T("settings.reset.confirm_missing")
		a.showSettings(w, r, u, http.StatusUnprocessableEntity, view)
		return
	}
	after, err := a.m.ResetSettings(r.Context(), version, u.Name)
	if a.settingsFailed(w, r, u, tr, err, inputOf(before, names), version, before, names) {
		return
	}
	a.logChange(r.Context(), u.Name, "backend: settings reset to defaults", before, after)
	http.Redirect(w, r, a.cfg.Prefix+settingsPath+"?done=reset", http.StatusSeeOther)
}

// fieldMessage translates a field error by its code and, where the
// field's unit is not seconds, its field; the messages for a bound or
// another field's value name the limit.
func fieldMessage(tr translator, fe *logout.FieldError) string {
	key := "settings.err." + fe.Code
	switch {
	case fe.Field == settingsform.FieldMaxSessions && (fe.Code == settingsform.CodeMax || fe.Code == settingsform.CodeSyntax):
		key += ".sessions"
	case fe.Field == settingsform.FieldRetention && (fe.Code == settingsform.CodeMax || fe.Code == settingsform.CodeSyntax || fe.Code == settingsform.CodeWhole):
		key += ".days"
	case fe.Field == settingsform.FieldCloseGrace && fe.Code == settingsform.CodeMax:
		key += ".grace"
	case fe.Field == settingsform.FieldAbsoluteLifetime && fe.Code == settingsform.CodePreset:
		key += ".absolute"
	}
	switch fe.Code {
	case settingsform.CodeMax, settingsform.CodeAbsolute, settingsform.CodeWarning, settingsform.CodeRole, settingsform.CodePreset:
		return tr.T(key, strconv.FormatInt(fe.Limit, 10))
	}
	return tr.T(key)
}
