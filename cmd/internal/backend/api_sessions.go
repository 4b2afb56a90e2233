package backend

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

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
