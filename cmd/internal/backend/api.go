package backend

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// The admin API: JSON below Prefix + apiPath, authenticated by bearer
// tokens (tokens.go), described by openapi.json, which is served at
// Prefix + openAPIPath. It sits beside the pages, outside the Manager's
// middleware: it reads no cookie, so a signed-in browser cannot reach it
// (no CSRF), and it sets none.
const (
	apiPath     = "/api/v1"
	openAPIPath = "/api/openapi.json"
)

//go:embed openapi.json
var openAPIDoc []byte

// API limits.
const (
	// apiMaxPage is the most entries one page of the API returns.
	apiMaxPage = 500
	// apiDefaultPage is the page size when the request gives none.
	apiDefaultPage = 100
	// apiMaxBody bounds a request body.
	apiMaxBody = 1 << 20
)

// isAPI reports whether path is the API's or its description's.
func (a *App) isAPI(path string) bool {
	p := a.cfg.Prefix
	return path == p+openAPIPath || path == p+apiPath || strings.HasPrefix(path, p+apiPath+"/")
}

// apiRoutes returns the API's handler. A method that a path does not take
// answers 405 with Allow, an unknown path 404, both as JSON.
func (a *App) apiRoutes() http.Handler {
	p := a.cfg.Prefix + apiPath
	mux := http.NewServeMux()
	allow := make(map[string][]string)
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		allow[path] = append(allow[path], method)
	}
	handle("GET", a.cfg.Prefix+openAPIPath, http.HandlerFunc(a.openAPI))
	handle("GET", p+"/sessions", a.bearer(ScopeRead, a.apiSessions))
	handle("POST", p+"/sessions/end", a.bearer(ScopeWrite, a.apiEndSessions))
	handle("GET", p+"/settings", a.bearer(ScopeRead, a.apiSettings))
	handle("PUT", p+"/settings", a.bearer(ScopeWrite, a.apiSaveSettings))
	handle("GET", p+"/settings/history", a.bearer(ScopeRead, a.apiHistory))
	handle("GET", p+"/events", a.bearer(ScopeRead, a.apiEvents))
	for path, methods := range allow {
		list := slices.Clone(methods)
		if slices.Contains(list, http.MethodGet) {
			list = append(list, http.MethodHead)
		}
		slices.Sort(list)
		methods := strings.Join(list, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			apiError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; allowed: "+methods)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "no such API path")
	})
	return mux
}

// An apiFieldError is one wrong field or parameter of a request.
type apiFieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// apiErrorBody is the body of every API error.
type apiErrorBody struct {
	Error  string          `json:"error"`
	Fields []apiFieldError `json:"fields,omitempty"`
}

func apiError(w http.ResponseWriter, code int, msg string, fields ...apiFieldError) {
	writeJSON(w, code, apiErrorBody{Error: msg, Fields: fields})
}

// apiInternal logs err and answers 500, or 503 when the store is
// unavailable.
func (a *App) apiInternal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.LogAttrs(r.Context(), slog.LevelError, "backend: API request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	if errors.Is(err, logout.ErrUnavailable) {
		a.m.Unavailable(w, r, err) // the Manager's 503, in the API's words (deny)
		return
	}
	apiError(w, http.StatusInternalServerError, "internal error")
}

// openAPI serves the API's description, with its server's URL below this
// App's prefix. It needs no token: it is the same for every install.
func (a *App) openAPI(w http.ResponseWriter, r *http.Request) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		a.apiInternal(w, r, err)
		return
	}
	doc["servers"] = []map[string]string{{"url": a.cfg.Prefix + apiPath}}
	writeJSON(w, http.StatusOK, doc)
}

// query reads a GET request's parameters, refusing any not in known and
// any given twice; on failure it has answered 400.
func query(w http.ResponseWriter, r *http.Request, known ...string) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed query: "+err.Error())
		return nil, false
	}
	var bad []apiFieldError
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(known, k):
			bad = append(bad, apiFieldError{Field: k, Code: "unknown", Reason: "unknown parameter; known: " + strings.Join(known, ", ")})
		case len(q[k]) > 1:
			bad = append(bad, apiFieldError{Field: k, Code: "syntax", Reason: "must be given once"})
		}
	}
	if bad != nil {
		apiError(w, http.StatusBadRequest, "bad query parameters", bad...)
		return nil, false
	}
	return q, true
}

// queryNames reads a GET request's parameters as query does, and the
// backend's user names by ID; on failure it has answered.
func (a *App) queryNames(w http.ResponseWriter, r *http.Request, known ...string) (url.Values, map[string]string, bool) {
	q, ok := query(w, r, known...)
	if !ok {
		return nil, nil, false
	}
	names, err := a.users.names(r.Context())
	if err != nil {
		a.apiInternal(w, r, err)
		return nil, nil, false
	}
	return q, names, true
}

// pageLimit reads the limit parameter: 1 to apiMaxPage, default
// apiDefaultPage.
func pageLimit(q url.Values) (int, *apiFieldError) {
	v := q.Get("limit")
	if v == "" {
		return apiDefaultPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > apiMaxPage || strings.Trim(v, "0123456789") != "" {
		return 0, &apiFieldError{Field: "limit", Code: "range", Reason: fmt.Sprintf("want a whole number from 1 to %d", apiMaxPage)}
	}
	return n, nil
}

// decodeBody reads a JSON body into v strictly: application/json (or no
// Content-Type), at most apiMaxBody bytes, one value, no unknown fields.
// On failure it has answered 400, 413 or 415.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			apiError(w, http.StatusUnsupportedMediaType, "the body must be application/json")
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, apiMaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON value")
	}
	if err == nil {
		return true
	}
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", apiMaxBody))
		return false
	}
	apiError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
	return false
}

// apiSettingsJSON is the settings as the API reads and writes them: the
// keys of the settings file (times in whole seconds, the retention in
// days; per-user lifetimes by user name or user ID), with the version.
type apiSettingsJSON struct {
	Version *int64 `json:"version"`
	settingsFile
	// Read only: ignored in a PUT.
	ChangedBy *string    `json:"changed_by,omitempty"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
	Locked    *bool      `json:"locked,omitempty"`
}

// settingsJSON returns s as the API shows it.
func settingsJSON(s logout.Settings, names map[string]string, locked bool) apiSettingsJSON {
	i := func(n int64) *int64 { return &n }
	b := func(v bool) *bool { return &v }
	policy := cmp(s.Policy, logout.PolicyCustom)
	out := apiSettingsJSON{Version: i(s.Version), Locked: b(locked), settingsFile: settingsFile{
		Policy: &policy, Lifetime: i(seconds(s.Lifetime)), AbsoluteLifetime: i(seconds(s.AbsoluteLifetime)),
		WarningLead: i(seconds(s.WarningLead)), ShowCounter: b(s.ShowCounter), FrontendActivity: b(s.FrontendActivity),
		RoleLifetimes: map[string]int64{}, UserLifetimes: map[string]int64{},
		MaxSessions: i(int64(s.MaxSessions)), SignOutOnClose: b(s.SignOutOnClose), CloseGrace: i(seconds(s.CloseGrace)),
		RetentionDays: i(int64(s.Retention / logout.RetentionUnit)),
	}}
	for r, d := range s.RoleLifetimes {
		out.RoleLifetimes[r] = seconds(d)
	}
	for u, d := range s.UserLifetimes {
		out.UserLifetimes[displayUser(u, names)] = seconds(d)
	}
	if s.ChangedBy != "" {
		out.ChangedBy = &s.ChangedBy
		at := s.ChangedAt.UTC()
		out.ChangedAt = &at
	}
	return out
}

// values returns in as the settings form's values, for
// [settingsform.Parse]: the same checks as the settings page. A key
// left out is absent from the form (so a required one is refused); a
// role the page does not offer, or a user given twice, is an error.
func (in apiSettingsJSON) values(names map[string]string, panel func(string) string) (url.Values, []apiFieldError) {
	v := url.Values{}
	in.fill(v, func(string) {})
	clearPrefix(v, settingsform.FieldRolePrefix)
	clearPrefix(v, settingsform.FieldUserPrefix)
	var bad []apiFieldError
	for _, role := range slices.Sorted(maps.Keys(in.RoleLifetimes)) {
		if !slices.Contains(knownRoles(), role) {
			bad = append(bad, apiFieldError{Field: "role_lifetimes." + role, Code: settingsform.CodeRoleName,
				Reason: "unknown role; known: " + strings.Join(knownRoles(), ", ")})
			continue
		}
		v.Set(settingsform.FieldRolePrefix+role, strconv.FormatInt(in.RoleLifetimes[role], 10))
	}
	seen := map[string]string{}
	for _, typed := range slices.Sorted(maps.Keys(in.UserLifetimes)) {
		if strings.TrimSpace(typed) == "" {
			bad = append(bad, apiFieldError{Field: "user_lifetimes", Code: settingsform.CodeRequired, Reason: "a user name is empty"})
			continue
		}
		id := resolveUser(strings.TrimSpace(typed), names, panel)
		if other, ok := seen[id]; ok {
			bad = append(bad, apiFieldError{Field: "user_lifetimes." + typed, Code: "user_twice", Reason: fmt.Sprintf("names the same user as %q", other)})
			continue
		}
		seen[id] = typed
		v.Set(settingsform.FieldUserPrefix+id, strconv.FormatInt(in.UserLifetimes[typed], 10))
	}
	return v, bad
}

// apiSettings answers the settings in force.
func (a *App) apiSettings(w http.ResponseWriter, r *http.Request, _ Token) {
	if _, ok := query(w, r); !ok {
		return
	}
	cur, err := a.m.Settings(r.Context())
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	names, err := a.users.names(r.Context())
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, settingsJSON(cur, names, a.cfg.Settings != nil && a.cfg.SettingsLocked))
}

// apiSaveSettings saves the settings as the settings page does, with the
// same checks, and the token's name as the author: "API token NAME".
// version must be that of the settings in force (409 and the current
// settings otherwise); invalid values answer 400 with each field's error.
func (a *App) apiSaveSettings(w http.ResponseWriter, r *http.Request, tok Token) {
	if a.cfg.Settings != nil && a.cfg.SettingsLocked {
		apiError(w, http.StatusForbidden, "the settings are locked by the settings file")
		return
	}
	var in apiSettingsJSON
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Version == nil || *in.Version < 0 {
		apiError(w, http.StatusBadRequest, "version is required: that of the settings read", apiFieldError{Field: "version", Code: settingsform.CodeRequired, Reason: "is required"})
		return
	}
	ctx := r.Context()
	before, err := a.m.Settings(ctx)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	names, err := a.users.names(ctx)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	form, bad := in.values(names, a.cfg.PanelUser)
	s, err := settingsform.Parse(form)
	var after logout.Settings
	if err == nil && bad == nil {
		s.Version = *in.Version
		by := "API token " + tok.Name
		if after, err = a.m.UpdateSettings(ctx, s, by); err == nil {
			a.logChange(ctx, by, "backend: settings saved", before, after)
			a.log.LogAttrs(ctx, slog.LevelInfo, "backend: API saved settings", slog.String("token", tok.Name), slog.String("token_id", tok.ID),
				slog.String("action", "save settings"), slog.Int64("version", after.Version), slog.Int("count", 1))
			writeJSON(w, http.StatusOK, settingsJSON(after, names, false))
			return
		}
	}
	if errs := settingsform.FieldErrors(err); errs != nil || bad != nil {
		for _, k := range slices.Sorted(maps.Keys(errs)) {
			bad = append(bad, apiFieldError{Field: k, Code: errs[k].Code, Reason: errs[k].Reason})
		}
		apiError(w, http.StatusBadRequest, "invalid settings; nothing was saved", bad...)
		return
	}
	if errors.Is(err, logout.ErrConflict) {
		apiError(w, http.StatusConflict, "the settings changed since version "+strconv.FormatInt(*in.Version, 10)+"; read them again")
		return
	}
	a.apiInternal(w, r, err)
}

// filterParams reads the since, until, user and reason parameters; with
// FilterErrors as 400.
func (a *App) filterParams(q url.Values) Filter {
	return Filter{Since: q.Get("since"), Until: q.Get("until"), User: q.Get("user"), Reason: q.Get("reason"), PanelUser: a.cfg.PanelUser}
}

// filterErrors returns the FilterErrors of err as field errors.
func filterErrors(err error) []apiFieldError {
	var out []apiFieldError
	var walk func(error)
	walk = func(err error) {
		var fe *FilterError
		if errors.As(err, &fe) {
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					walk(e)
				}
				return
			}
			out = append(out, apiFieldError{Field: fe.Field, Code: fe.Code, Reason: fe.Error()})
		}
	}
	walk(err)
	return out
}

// apiHistory lists a page of the settings history, newest first, by date
// as the export filters it; next is the version the following page
// starts below.
func (a *App) apiHistory(w http.ResponseWriter, r *http.Request, _ Token) {
	q, ok := query(w, r, "since", "until", "limit", "after")
	if !ok {
		return
	}
	hq, err := a.filterParams(q).HistoryQuery(time.Local)
	bad := filterErrors(err)
	limit, fe := pageLimit(q)
	if fe != nil {
		bad = append(bad, *fe)
	}
	if after := q.Get("after"); after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 1 {
			bad = append(bad, apiFieldError{Field: "after", Code: "syntax", Reason: "malformed cursor: pass the next value of the previous page"})
		}
		hq.Before = n
	}
	if bad != nil {
		apiError(w, http.StatusBadRequest, "bad query parameters", bad...)
		return
	}
	hq.Limit = limit
	cs, err := a.m.SettingsHistory(r.Context(), hq)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	out := struct {
		Changes []exportedChange `json:"changes"`
		Next    string           `json:"next,omitempty"`
	}{Changes: make([]exportedChange, 0, len(cs))}
	for _, c := range cs {
		ch := exportedChange{At: c.At.UTC().Format(time.RFC3339Nano), By: c.By, Version: c.New.Version, Changes: []exportedField{}}
		for _, f := range settingsform.Diff(c) {
			ch.Changes = append(ch.Changes, exportedField(f))
		}
		out.Changes = append(out.Changes, ch)
	}
	if len(cs) == limit {
		out.Next = strconv.FormatInt(cs[len(cs)-1].New.Version, 10)
	}
	writeJSON(w, http.StatusOK, out)
}
