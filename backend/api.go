package backend

import (
	"context"
	_ "embed"
	"encoding/base64"
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

// An apiHandler serves a request authenticated by an API token.
type apiHandler func(http.ResponseWriter, *http.Request, Token)

// The realm of the API's bearer tokens.
const bearerRealm = `Bearer realm="logout"`

// bearer serves h for a request with a valid token of scope (a write
// token may also read). A request without a token gets 401; one with a
// wrong, revoked or expired token gets the same 401 with
// error="invalid_token" and nothing to tell which; a read token on a
// write path 403. Token guesses are throttled by client address as
// sign-in attempts are: each token checked counts, a valid one is taken
// back, and an address over its count gets 429 without its token being
// checked.
func (a *App) bearer(scope string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", bearerRealm)
			apiError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		ctx := r.Context()
		ip := addrKey(clientAddr(r, a.cfg.TrustedProxies))
		wait, err := a.limit.reserveToken(ctx, a.now(), ip)
		if err != nil {
			a.apiInternal(w, r, err)
			return
		}
		if wait > 0 {
			secs := int64((wait + time.Second - 1) / time.Second)
			a.log.LogAttrs(ctx, slog.LevelWarn, "backend: API token throttled", slog.String("ip", ip), slog.Int64("retry_after", secs))
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			apiError(w, http.StatusTooManyRequests, "too many wrong tokens from this address; try again later")
			return
		}
		tok, err := a.users.tokenBy(ctx, token, a.now())
		if errors.Is(err, errNoUser) {
			a.log.LogAttrs(ctx, slog.LevelWarn, "backend: API token refused", slog.String("ip", ip), slog.String("path", r.URL.Path))
			w.Header().Set("WWW-Authenticate", bearerRealm+`, error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if err != nil {
			a.apiInternal(w, r, err)
			return
		}
		if err := a.limit.tokenSucceeded(ctx, ip); err != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "backend: API token throttle", slog.String("error", err.Error()))
		}
		if scope == ScopeWrite && tok.Scope != ScopeWrite {
			w.Header().Set("WWW-Authenticate", bearerRealm+`, error="insufficient_scope", scope="write"`)
			apiError(w, http.StatusForbidden, "this token may only read")
			return
		}
		h(w, r, tok)
	})
}

// bearerToken returns the token of the request's one Authorization
// header of the Bearer scheme.
func bearerToken(r *http.Request) (string, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(hs[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// tokenCounters are the throttle's counters of token guesses from one
// address: apart from the sign-in counts, with the rule of an address's
// sign-ins (20 at once, then waits from 1 s, one forgiven every 5 min).
func (t *throttle) tokenCounters(addr string) []throttleCounter {
	return []throttleCounter{{"tok:" + addr, t.addr}}
}

// reserveToken counts a token check from addr, or returns how long until
// the address may check one.
func (t *throttle) reserveToken(ctx context.Context, now time.Time, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	wait, err := t.store.reserve(ctx, now, t.tokenCounters(addr))
	if err != nil {
		return 0, fmt.Errorf("backend: token throttle: %w: %w", logout.ErrUnavailable, err)
	}
	return wait, nil
}

// tokenSucceeded takes a valid token's check back.
func (t *throttle) tokenSucceeded(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	if err := t.store.forgive(ctx, t.tokenCounters(addr), nil); err != nil {
		return fmt.Errorf("backend: token throttle: %w", err)
	}
	return nil
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

// sessionOrders are the orders by name, as the API and the command take
// them.
var sessionOrders = map[string]logout.SessionOrder{
	"oldest": logout.OldestFirst, "newest": logout.NewestFirst, "active": logout.ActiveFirst, "ending": logout.EndingFirst,
}

// ParseOrder reads an order of sessions by name: oldest (the default for
// ""), newest, active or ending.
func ParseOrder(s string) (logout.SessionOrder, error) {
	if s == "" {
		return logout.OldestFirst, nil
	}
	o, ok := sessionOrders[s]
	if !ok {
		return 0, fmt.Errorf("order %q: want oldest, newest, active or ending", s)
	}
	return o, nil
}

// A SessionFilter selects sessions as typed in the API's parameters or a
// command's flags.
type SessionFilter struct {
	// User is a backend user's name or a session's user ID, or behind
	// logout-proxy a panel user's name; "" for every user.
	User string
	// Address is a client address as sessions keep it; "" for any.
	Address string
	// Order is oldest (default), newest, active or ending.
	Order string
	// PanelUser, when set, reads a User that names no backend user as the
	// panel's user of that name (see [Config.PanelUser]).
	PanelUser func(name string) string
}

// Options returns the list options of f; names maps user IDs to backend
// user names.
func (f SessionFilter) Options(names map[string]string) (logout.ListOptions, error) {
	o, err := ParseOrder(f.Order)
	if err != nil {
		return logout.ListOptions{}, err
	}
	opts := logout.ListOptions{Address: strings.TrimSpace(f.Address), Order: o}
	if u := strings.TrimSpace(f.User); u != "" {
		opts.UserID = resolveUser(u, names, f.PanelUser)
	}
	return opts, nil
}

// ResolveUser returns the user ID that a typed user names, as the pages
// and the API read it: a backend user's name, a session's user ID, or
// with panel (logout-proxy's) a panel user's name.
func ResolveUser(typed string, names map[string]string, panel func(string) string) string {
	return resolveUser(strings.TrimSpace(typed), names, panel)
}

// UserName returns the name to show for a session's user ID: the backend
// user's name, "name (panel)" for a panel user, else fallback when not ""
// (such as [logout.Session.UserName]), else the ID.
func UserName(id string, names map[string]string, fallback string) string {
	if n := displayUser(id, names); n != id || fallback == "" {
		return n
	}
	return fallback
}

// A SessionJSON is one session as the API and the command list it.
type SessionJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	User      string    `json:"user"`
	Roles     []string  `json:"roles"`
	UserAgent string    `json:"user_agent"`
	Address   string    `json:"address"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Deadline  time.Time `json:"deadline"`
}

// SessionOf returns s as listed; names maps user IDs to backend user
// names.
func SessionOf(s logout.Session, names map[string]string) SessionJSON {
	roles := s.Roles
	if roles == nil {
		roles = []string{}
	}
	return SessionJSON{
		ID: s.ID, UserID: s.UserID, User: UserName(s.UserID, names, s.UserName), Roles: roles,
		UserAgent: s.UserAgent, Address: s.Address,
		Created: s.Created.UTC(), LastSeen: s.LastSeen.UTC(), Deadline: s.Deadline.UTC(),
	}
}

// FormatCursor returns c as the opaque "next" of a page of sessions.
func FormatCursor(c logout.Cursor) string {
	s := fmt.Sprintf("%d.%d.%d.%s", c.Created.UnixMicro(), c.LastSeen.UnixMicro(), c.Deadline.UnixMicro(), c.ID)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseCursor reads what FormatCursor wrote; "" is the zero Cursor.
func ParseCursor(v string) (logout.Cursor, error) {
	if v == "" {
		return logout.Cursor{}, nil
	}
	bad := errors.New("malformed cursor: pass the next value of the previous page")
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) > 256 {
		return logout.Cursor{}, bad
	}
	parts := strings.SplitN(string(b), ".", 4)
	if len(parts) != 4 || parts[3] == "" {
		return logout.Cursor{}, bad
	}
	var ts [3]time.Time
	for i := range ts {
		n, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil {
			return logout.Cursor{}, bad
		}
		ts[i] = time.UnixMicro(n).UTC()
	}
	return logout.Cursor{Created: ts[0], LastSeen: ts[1], Deadline: ts[2], ID: parts[3]}, nil
}

// sessionPage is the answer of GET /sessions.
type sessionPage struct {
	Sessions []SessionJSON `json:"sessions"`
	Total    int           `json:"total"`
	Next     string        `json:"next,omitempty"`
}

// apiSessions lists a page of sessions with the total that the filters
// select.
func (a *App) apiSessions(w http.ResponseWriter, r *http.Request, _ Token) {
	q, names, ok := a.queryNames(w, r, "user", "address", "order", "limit", "after")
	if !ok {
		return
	}
	ctx := r.Context()
	var bad []apiFieldError
	opts, err := SessionFilter{User: q.Get("user"), Address: q.Get("address"), Order: q.Get("order"), PanelUser: a.cfg.PanelUser}.Options(names)
	if err != nil {
		bad = append(bad, apiFieldError{Field: "order", Code: "syntax", Reason: err.Error()})
	}
	limit, fe := pageLimit(q)
	if fe != nil {
		bad = append(bad, *fe)
	}
	if opts.After, err = ParseCursor(q.Get("after")); err != nil {
		bad = append(bad, apiFieldError{Field: "after", Code: "syntax", Reason: err.Error()})
	}
	if bad != nil {
		apiError(w, http.StatusBadRequest, "bad query parameters", bad...)
		return
	}
	opts.Limit = limit
	list, err := a.m.Sessions(ctx, opts)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	total, err := a.m.CountSessions(ctx, opts)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	out := sessionPage{Sessions: make([]SessionJSON, 0, len(list)), Total: total}
	for _, s := range list {
		out.Sessions = append(out.Sessions, SessionOf(s, names))
	}
	if len(list) == limit {
		out.Next = FormatCursor(logout.CursorOf(list[len(list)-1]))
	}
	writeJSON(w, http.StatusOK, out)
}

// endRequest is the body of POST /sessions/end: exactly one of Session,
// User and All.
type endRequest struct {
	Session string `json:"session"`
	User    string `json:"user"`
	All     bool   `json:"all"`
	Except  string `json:"except"`
	Reason  string `json:"reason"`
}

// EndSelector returns the selector and the reason of an end of sessions
// as the API and the command take it: exactly one of session (an ID),
// user (as [ResolveUser] reads it) and all, with except (an ID) kept
// out; reason forced (default) or manual.
func EndSelector(session, user string, all bool, except, reason string, names map[string]string, panel func(string) string) (logout.Selector, logout.Reason, error) {
	var sel logout.Selector
	n := 0
	if session != "" {
		sel.IDs, n = []string{session}, n+1
	}
	if strings.TrimSpace(user) != "" {
		sel.UserID, n = ResolveUser(user, names, panel), n+1
	}
	if all {
		sel.All, n = true, n+1
	}
	if n != 1 {
		return sel, 0, errors.New("give exactly one of session, user and all")
	}
	sel.Except = except
	rsn := logout.ReasonForced
	switch reason {
	case "", "forced":
	case "manual":
		rsn = logout.ReasonManual
	default:
		return sel, 0, fmt.Errorf("reason %q: want forced (an administrator ended them) or manual (the user signed out)", reason)
	}
	if err := sel.Validate(); err != nil {
		return sel, 0, err
	}
	return sel, rsn, nil
}

// apiEndSessions ends sessions with [logout.Manager.EndSessions], so that
// their open pages learn of it at once, and answers how many ended.
func (a *App) apiEndSessions(w http.ResponseWriter, r *http.Request, tok Token) {
	var req endRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx := r.Context()
	names, err := a.users.names(ctx)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	sel, reason, err := EndSelector(req.Session, req.User, req.All, req.Except, req.Reason, names, a.cfg.PanelUser)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	evs, err := a.m.EndSessions(ctx, sel, reason)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "backend: API ended sessions", slog.String("token", tok.Name), slog.String("token_id", tok.ID),
		slog.String("action", "end sessions"), slog.String("selector", selectorKind(sel)), slog.String("reason", reason.String()),
		slog.Int("count", len(evs)))
	writeJSON(w, http.StatusOK, map[string]int{"ended": len(evs)})
}

// selectorKind names what sel selects, for the log: never a user's name.
func selectorKind(sel logout.Selector) string {
	k := "all"
	switch {
	case len(sel.IDs) > 0:
		k = "session"
	case sel.UserID != "":
		k = "user " + sel.UserID
	}
	if sel.Except != "" {
		k += " except one"
	}
	return k
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
// [logout.ParseSettings]: the same checks as the settings page. A key
// left out is absent from the form (so a required one is refused); a
// role the page does not offer, or a user given twice, is an error.
func (in apiSettingsJSON) values(names map[string]string, panel func(string) string) (url.Values, []apiFieldError) {
	v := url.Values{}
	in.fill(v, func(string) {})
	clearPrefix(v, logout.FieldRolePrefix)
	clearPrefix(v, logout.FieldUserPrefix)
	var bad []apiFieldError
	for _, role := range slices.Sorted(maps.Keys(in.RoleLifetimes)) {
		if !slices.Contains(knownRoles(), role) {
			bad = append(bad, apiFieldError{Field: "role_lifetimes." + role, Code: logout.CodeRoleName,
				Reason: "unknown role; known: " + strings.Join(knownRoles(), ", ")})
			continue
		}
		v.Set(logout.FieldRolePrefix+role, strconv.FormatInt(in.RoleLifetimes[role], 10))
	}
	seen := map[string]string{}
	for _, typed := range slices.Sorted(maps.Keys(in.UserLifetimes)) {
		if strings.TrimSpace(typed) == "" {
			bad = append(bad, apiFieldError{Field: "user_lifetimes", Code: logout.CodeRequired, Reason: "a user name is empty"})
			continue
		}
		id := resolveUser(strings.TrimSpace(typed), names, panel)
		if other, ok := seen[id]; ok {
			bad = append(bad, apiFieldError{Field: "user_lifetimes." + typed, Code: "user_twice", Reason: fmt.Sprintf("names the same user as %q", other)})
			continue
		}
		seen[id] = typed
		v.Set(logout.FieldUserPrefix+id, strconv.FormatInt(in.UserLifetimes[typed], 10))
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
		apiError(w, http.StatusBadRequest, "version is required: that of the settings read", apiFieldError{Field: "version", Code: logout.CodeRequired, Reason: "is required"})
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
	s, err := logout.ParseSettings(form)
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
	if errs := logout.FieldErrors(err); errs != nil || bad != nil {
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

// An eventJSON is one sign-out as the API lists it.
type eventJSON struct {
	At        time.Time `json:"at"`
	UserID    string    `json:"user_id"`
	User      string    `json:"user"`
	Reason    string    `json:"reason"`
	SessionID string    `json:"session_id"`
}

// apiEvents lists a page of the sign-out log, newest first, filtered as
// the export is ([Filter]). A page's next is where the following page
// starts: the oldest time on this page and how many of its entries of
// that time were read.
func (a *App) apiEvents(w http.ResponseWriter, r *http.Request, _ Token) {
	q, names, ok := a.queryNames(w, r, "since", "until", "user", "reason", "limit", "after")
	if !ok {
		return
	}
	ctx := r.Context()
	eq, err := a.filterParams(q).EventQuery(names, time.Local)
	bad := filterErrors(err)
	limit, fe := pageLimit(q)
	if fe != nil {
		bad = append(bad, *fe)
	}
	skip := 0
	if after := q.Get("after"); after != "" {
		until, n, ok := parseEventCursor(after)
		if !ok {
			bad = append(bad, apiFieldError{Field: "after", Code: "syntax", Reason: "malformed cursor: pass the next value of the previous page"})
		}
		eq.Until, skip = until, n
	}
	if bad != nil {
		apiError(w, http.StatusBadRequest, "bad query parameters", bad...)
		return
	}
	// As ExportEvents pages: the entries of the page's oldest time that
	// were read come first again on the next page, and are skipped.
	eq.Limit = limit + skip
	evs, err := a.m.QueryEvents(ctx, eq)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	page := evs[min(skip, len(evs)):]
	out := struct {
		Events []eventJSON `json:"events"`
		Next   string      `json:"next,omitempty"`
	}{Events: make([]eventJSON, 0, len(page))}
	for _, e := range page {
		out.Events = append(out.Events, eventJSON{At: e.At.UTC(), UserID: e.UserID, User: UserName(e.UserID, names, ""),
			Reason: e.Reason.String(), SessionID: e.SessionID})
	}
	if len(evs) == eq.Limit && len(page) > 0 {
		last, n := evs[len(evs)-1].At, 0
		for _, e := range evs {
			if e.At.Equal(last) {
				n++
			}
		}
		out.Next = formatEventCursor(last.Add(time.Microsecond), n)
	}
	writeJSON(w, http.StatusOK, out)
}

func formatEventCursor(until time.Time, skip int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", until.UnixMicro(), skip))
}

func parseEventCursor(v string) (time.Time, int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return time.Time{}, 0, false
	}
	us, n, ok := strings.Cut(string(b), ".")
	t, err1 := strconv.ParseInt(us, 10, 64)
	skip, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || skip < 0 {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(t).UTC(), skip, true
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
		for _, f := range c.Fields() {
			ch.Changes = append(ch.Changes, exportedField(f))
		}
		out.Changes = append(out.Changes, ch)
	}
	if len(cs) == limit {
		out.Next = strconv.FormatInt(cs[len(cs)-1].New.Version, 10)
	}
	writeJSON(w, http.StatusOK, out)
}
