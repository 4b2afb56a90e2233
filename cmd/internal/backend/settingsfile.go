package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// SettingsAuthor is the name under which the settings read at start are
// saved, for the settings history.
const SettingsAuthor = "settings file"

// CodeUnknownKey is the [logout.FieldError] code of a settings file key
// or table that [LoadSettings] does not know.
const CodeUnknownKey = "unknown_key"

// SettingsEnvPrefix starts the environment variables that [LoadSettings]
// reads: LOGOUT_SETTINGS_ and a settings file key in capitals, such as
// LOGOUT_SETTINGS_LIFETIME=900.
const SettingsEnvPrefix = "LOGOUT_SETTINGS_"

// A SettingsSource is the settings read at start from a settings file and
// the environment by [LoadSettings], and where each value came from.
type SettingsSource struct {
	// Settings are the values: the defaults, then the file's keys, then
	// the environment variables.
	Settings logout.Settings
	// File is the path of the settings file read; "" when none.
	File string
	// Origins gives, by form field name ([settingsform.FieldLifetime], or
	// [settingsform.FieldRolePrefix] for every role lifetime), the file path or
	// the environment variable that set the field; a field not listed
	// has its default.
	Origins map[string]string
}

// settingsFile is the settings file: every key optional, durations in
// whole seconds, the retention in days. The API's settings have the same
// keys (apiSettings).
type settingsFile struct {
	Lifetime         *int64           `toml:"lifetime" json:"lifetime"`
	AbsoluteLifetime *int64           `toml:"absolute_lifetime" json:"absolute_lifetime"`
	WarningLead      *int64           `toml:"warning_lead" json:"warning_lead"`
	ShowCounter      *bool            `toml:"show_counter" json:"show_counter"`
	FrontendActivity *bool            `toml:"frontend_activity" json:"frontend_activity"`
	MaxSessions      *int64           `toml:"max_sessions" json:"max_sessions"`
	Policy           *string          `toml:"policy" json:"policy"`
	RetentionDays    *int64           `toml:"retention_days" json:"retention_days"`
	SignOutOnClose   *bool            `toml:"sign_out_on_close" json:"sign_out_on_close"`
	CloseGrace       *int64           `toml:"close_grace" json:"close_grace"`
	RoleLifetimes    map[string]int64 `toml:"role_lifetimes" json:"role_lifetimes"`
	UserLifetimes    map[string]int64 `toml:"user_lifetimes" json:"user_lifetimes"`
}

// maxSettingsFile is the largest settings file that [LoadSettings] reads,
// 1 MiB: every key with a lifetime for thousands of users fits many times.
const maxSettingsFile = 1 << 20

// The keys of the settings file (and, in capitals after
// [SettingsEnvPrefix], of the environment) that hold maps.
const (
	keyRoleLifetimes = "role_lifetimes"
	keyUserLifetimes = "user_lifetimes"
)

// LoadSettings reads the settings file at path (none when "") and the
// LOGOUT_SETTINGS_* variables that getenv returns, over
// [logout.DefaultSettings]: a key left out keeps its default, and a
// variable wins over the file. The file is TOML with the keys of the
// settings form (lifetime, absolute_lifetime, warning_lead, show_counter,
// frontend_activity, max_sessions, policy, retention_days,
// sign_out_on_close, close_grace) and the tables role_lifetimes and
// user_lifetimes; numbers are whole seconds (days for retention_days).
// A variable holds what the form field would ("900", "on"); the maps are
// lists such as LOGOUT_SETTINGS_ROLE_LIFETIMES="editor=3600,display=86400".
//
// It refuses, with the field and the reason as [*logout.FieldError]s
// joined (read them with [settingsform.FieldErrors]), an unknown key, a value of
// the wrong type and every value that [logout.Settings.Validate] refuses;
// a file that cannot be read or parsed is an error naming the file. A
// file larger than 1 MiB is refused, after reading no more than its first
// MiB, whatever its size says: it may be a pipe or a device.
func LoadSettings(path string, getenv func(string) string) (*SettingsSource, error) {
	src := &SettingsSource{File: path, Origins: map[string]string{}}
	form := settingsform.Values(logout.DefaultSettings())
	if path != "" {
		b, err := readSettingsBytes(path)
		if err != nil {
			return nil, fmt.Errorf("backend: settings file: %w", err)
		}
		if err := readSettingsFile(b, path, form, src.Origins); err != nil {
			return nil, fmt.Errorf("backend: settings file %s: %w", path, err)
		}
	}
	if err := readSettingsEnv(getenv, form, src.Origins); err != nil {
		return nil, fmt.Errorf("backend: settings from the environment: %w", err)
	}
	s, err := settingsform.Parse(form)
	if err != nil {
		return nil, fmt.Errorf("backend: settings: %w", src.blame(err))
	}
	src.Settings = s
	return src, nil
}

// readSettingsBytes reads the file at path, refusing one larger than
// maxSettingsFile without reading more than one byte past it.
func readSettingsBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSettingsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxSettingsFile {
		return nil, fmt.Errorf("%s: larger than the limit of 1 MiB (%d bytes)", path, maxSettingsFile)
	}
	return b, nil
}

// blame prefixes each field error in err with where its field was set
// (the file's path or the variable's name), as errors that
// [settingsform.FieldErrors] still finds.
func (src *SettingsSource) blame(err error) error {
	errs := settingsform.FieldErrors(err)
	if errs == nil {
		return err
	}
	var out []error
	for _, field := range slices.Sorted(maps.Keys(errs)) {
		origin := src.Origins[field]
		if origin == "" {
			for prefix, o := range src.Origins {
				if strings.HasSuffix(prefix, ".") && strings.HasPrefix(field, prefix) {
					origin = o
				}
			}
		}
		if origin == "" {
			origin = "default"
		}
		out = append(out, fmt.Errorf("%s: %w", origin, errs[field]))
	}
	return errors.Join(out...)
}

// readSettingsFile decodes the TOML file b into form, strictly, and notes
// each key it sets in origins.
func readSettingsFile(b []byte, path string, form url.Values, origins map[string]string) error {
	var f settingsFile
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return typeError(err) // a value of the wrong type

	}
	var errs []error
	for _, k := range md.Undecoded() {
		reason := "is not a settings key"
		if s := suggest(k.String(), settingsEnvKeys()); s != "" {
			reason += "; did you mean " + s + "?"
		}
		errs = append(errs, &logout.FieldError{Field: k.String(), Code: CodeUnknownKey, Reason: reason})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	f.fill(form, func(field string) { origins[field] = path })
	return nil
}

// fill sets the form fields of the keys that f holds, as
// [settingsform.Parse] reads them, and calls set with each field's name
// ([settingsform.FieldRolePrefix] or [settingsform.FieldUserPrefix] for the role or
// user lifetimes, which replace those of form).
func (f settingsFile) fill(form url.Values, set func(field string)) {
	num := func(field string, v *int64) {
		if v != nil {
			form.Set(field, strconv.FormatInt(*v, 10))
			set(field)
		}
	}
	flag := func(field string, v *bool) {
		if v != nil {
			form.Set(field, strconv.FormatBool(*v))
			set(field)
		}
	}
	num(settingsform.FieldLifetime, f.Lifetime)
	num(settingsform.FieldAbsoluteLifetime, f.AbsoluteLifetime)
	num(settingsform.FieldWarningLead, f.WarningLead)
	flag(settingsform.FieldShowCounter, f.ShowCounter)
	flag(settingsform.FieldFrontendActivity, f.FrontendActivity)
	num(settingsform.FieldMaxSessions, f.MaxSessions)
	num(settingsform.FieldRetention, f.RetentionDays)
	flag(settingsform.FieldSignOutOnClose, f.SignOutOnClose)
	num(settingsform.FieldCloseGrace, f.CloseGrace)
	if f.Policy != nil {
		form.Set(settingsform.FieldPolicy, *f.Policy)
		set(settingsform.FieldPolicy)
	}
	for _, m := range []struct {
		prefix string
		v      map[string]int64
	}{{settingsform.FieldRolePrefix, f.RoleLifetimes}, {settingsform.FieldUserPrefix, f.UserLifetimes}} {
		if m.v == nil {
			continue
		}
		clearPrefix(form, m.prefix)
		set(m.prefix)
		for _, k := range slices.Sorted(maps.Keys(m.v)) {
			form.Set(m.prefix+k, strconv.FormatInt(m.v[k], 10))
		}
	}
}

// typeError reads a TOML decoding error, such as a string where a
// number belongs, as a field error on the key it names.
func typeError(err error) *logout.FieldError {
	msg := err.Error()
	fe := &logout.FieldError{Field: "file", Code: settingsform.CodeSyntax, Reason: msg}
	if _, rest, ok := strings.Cut(msg, `(last key "`); ok {
		if key, reason, ok := strings.Cut(rest, `"): `); ok {
			fe.Field, fe.Reason = key, reason
		}
	}
	return fe
}

// clearPrefix removes the fields that start with prefix.
func clearPrefix(form url.Values, prefix string) {
	for k := range form {
		if strings.HasPrefix(k, prefix) {
			delete(form, k)
		}
	}
}

// settingsEnvKeys are the keys that LOGOUT_SETTINGS_* variables set, in
// the order the documentation lists them.
func settingsEnvKeys() []string {
	return []string{settingsform.FieldLifetime, settingsform.FieldAbsoluteLifetime, settingsform.FieldWarningLead,
		settingsform.FieldShowCounter, settingsform.FieldFrontendActivity, settingsform.FieldMaxSessions, settingsform.FieldPolicy,
		settingsform.FieldRetention, settingsform.FieldSignOutOnClose, settingsform.FieldCloseGrace, keyRoleLifetimes, keyUserLifetimes}
}

// SettingsEnvNames returns the names of the environment variables that
// [LoadSettings] reads, such as LOGOUT_SETTINGS_LIFETIME.
func SettingsEnvNames() []string {
	var out []string
	for _, k := range settingsEnvKeys() {
		out = append(out, SettingsEnvPrefix+strings.ToUpper(k))
	}
	return out
}

// CheckSettingsEnv returns an error naming every variable in environ
// (as [os.Environ] lists them) that starts with [SettingsEnvPrefix] but is
// neither one of [SettingsEnvNames] nor LOGOUT_SETTINGS_FILE or
// LOGOUT_SETTINGS_LOCKED (the commands' flags): a misspelt setting that
// would otherwise be left out without a word.
func CheckSettingsEnv(environ []string) error {
	known := SettingsEnvNames()
	known = append(known, SettingsEnvPrefix+"FILE", SettingsEnvPrefix+"LOCKED")
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, SettingsEnvPrefix) && !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if len(unknown) == 1 {
		if s := suggest(unknown[0], known); s != "" {
			return fmt.Errorf("backend: unknown settings variable %s; did you mean %s?", unknown[0], s)
		}
	}
	return fmt.Errorf("backend: unknown settings variable %s; known: %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// suggest returns the one of known closest to the misspelt s, within
// two edits (a letter added, left out, changed or two swapped), or "".
func suggest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and
// b: Levenshtein's, with a swap of two neighbours as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// readSettingsEnv sets form from the LOGOUT_SETTINGS_* variables.
func readSettingsEnv(getenv func(string) string, form url.Values, origins map[string]string) error {
	var errs []error
	for _, k := range settingsEnvKeys() {
		name := SettingsEnvPrefix + strings.ToUpper(k)
		v := getenv(name)
		if v == "" {
			continue
		}
		prefix := ""
		switch k {
		case keyRoleLifetimes:
			prefix = settingsform.FieldRolePrefix
		case keyUserLifetimes:
			prefix = settingsform.FieldUserPrefix
		default:
			form.Set(k, v)
			origins[k] = name
			continue
		}
		clearPrefix(form, prefix)
		origins[prefix] = name
		for item := range strings.SplitSeq(v, ",") {
			key, n, ok := strings.Cut(strings.TrimSpace(item), "=")
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if !ok || strings.TrimSpace(key) == "" {
				errs = append(errs, &logout.FieldError{Field: name, Code: settingsform.CodeSyntax,
					Reason: fmt.Sprintf("must be a list of name=seconds, not %q", item)})
				continue
			}
			form.Set(prefix+strings.TrimSpace(key), strings.TrimSpace(n))
		}
	}
	return errors.Join(errs...)
}

// applySettings saves src's settings through the Manager as
// [SettingsAuthor], unless the store already holds them. Of several
// instances starting at once, one saves and the others get
// [logout.ErrConflict], after which the Manager rereads the store: each
// retries with the version another saved.
func (a *App) applySettings(ctx context.Context, src *SettingsSource) error {
	for range 3 {
		cur, err := a.m.Settings(ctx) // never saved: the defaults, version 0
		if err != nil {
			return fmt.Errorf("backend: apply the settings file: %w", err)
		}
		want := src.Settings
		want.Version = cur.Version
		if cur.Version > 0 && want.Equal(cur) {
			return nil
		}
		saved, err := a.m.UpdateSettings(ctx, want, SettingsAuthor)
		if errors.Is(err, logout.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backend: apply the settings file: %w", err)
		}
		a.logChange(ctx, SettingsAuthor, "backend: settings applied at start", cur, saved)
		return nil
	}
	return fmt.Errorf("backend: apply the settings file: %w", logout.ErrConflict)
}

// A lockedRow is one setting on the locked settings page: its label,
// value and where the value came from.
type lockedRow struct {
	Label, Value, Origin string
}

// lockedView is the locked settings page's data.
type lockedView struct {
	Rows []lockedRow
}

// lockedView returns the locked page's rows for the settings in force,
// or nil when the settings are not locked.
func (a *App) lockedView(tr translator, cur logout.Settings, names map[string]string) *lockedView {
	src := a.cfg.Settings
	if src == nil || !a.cfg.SettingsLocked {
		return nil
	}
	origin := func(field string) string {
		o, ok := src.Origins[field]
		switch {
		case !ok:
			return tr.T("settings.locked.default")
		case o == src.File:
			return tr.T("settings.locked.file", o)
		}
		return tr.T("settings.locked.env", o)
	}
	v := &lockedView{}
	val := settingsform.Values(cur)
	flag := func(field string) string {
		if val.Get(field) == "on" {
			return tr.T("settings.locked.on")
		}
		return tr.T("settings.locked.off")
	}
	row := func(field, key, value string) {
		v.Rows = append(v.Rows, lockedRow{Label: tr.T("settings." + key + ".label"), Value: value, Origin: origin(field)})
	}
	policy := tr.T("settings.policy.custom")
	if p, ok := logout.PresetNamed(cur.Policy); ok {
		policy = p.Title
	}
	row(settingsform.FieldPolicy, "policy", policy)
	row(settingsform.FieldLifetime, "lifetime", val.Get(settingsform.FieldLifetime))
	row(settingsform.FieldAbsoluteLifetime, "absolute", val.Get(settingsform.FieldAbsoluteLifetime))
	row(settingsform.FieldWarningLead, "warning", val.Get(settingsform.FieldWarningLead))
	row(settingsform.FieldShowCounter, "show_counter", flag(settingsform.FieldShowCounter))
	row(settingsform.FieldFrontendActivity, "frontend", flag(settingsform.FieldFrontendActivity))
	for _, r := range slices.Sorted(maps.Keys(cur.RoleLifetimes)) {
		v.Rows = append(v.Rows, lockedRow{Label: tr.T("settings.role.label", tr.T("role."+r)),
			Value: strconv.FormatInt(seconds(cur.RoleLifetimes[r]), 10), Origin: origin(settingsform.FieldRolePrefix)})
	}
	for _, id := range slices.Sorted(maps.Keys(cur.UserLifetimes)) {
		v.Rows = append(v.Rows, lockedRow{Label: tr.T("settings.override.locked_label", displayUser(id, names)),
			Value: strconv.FormatInt(seconds(cur.UserLifetimes[id]), 10), Origin: origin(settingsform.FieldUserPrefix)})
	}
	row(settingsform.FieldMaxSessions, "max_sessions", val.Get(settingsform.FieldMaxSessions))
	row(settingsform.FieldSignOutOnClose, "sign_out_on_close", flag(settingsform.FieldSignOutOnClose))
	row(settingsform.FieldCloseGrace, "close_grace", strconv.FormatInt(seconds(cur.CloseGrace), 10))
	row(settingsform.FieldRetention, "retention", val.Get(settingsform.FieldRetention))
	return v
}

// unlocked reports whether the settings may be changed from the page;
// while a settings file locks them it answers 403 and returns false.
func (a *App) unlocked(w http.ResponseWriter, r *http.Request, u *user) bool {
	if a.cfg.Settings == nil || !a.cfg.SettingsLocked {
		return true
	}
	a.fail(w, r, u, http.StatusForbidden, "settings.locked.refused")
	return false
}
