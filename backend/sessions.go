package backend

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/proxy"
)

// eventLimit is how many entries of the sign-out log the page shows.
const eventLimit = 50

// sessionsView is the active sessions page's data.
type sessionsView struct {
	Sessions []sessionRow
	Users    []userRow
	Events   []eventRow
	Total    int    // all sessions (the user's own on their page)
	Others   int    // sessions other than this one
	Next     string // the next page's cursor; "" on the last page
	Paged    bool   // this is not the first page
	Path     string // the page's path: its pager's links, and Path+"/signout" its buttons'
	Own      bool   // the user's own sessions: no user or roles, no button on this one
}

// sessionTable is the data of the "sessiontable" template: a page and
// its list of sessions.
type sessionTable struct {
	*page
	sessionsView
}

// SessionTable returns the data of the "sessiontable" template, for the
// pages that list sessions.
func (p *page) SessionTable(v sessionsView) sessionTable { return sessionTable{p, v} }

// sessionsPageSize is how many sessions one page lists.
const sessionsPageSize = 50

// formatCursor writes a page cursor for a URL: the session's creation in
// Unix microseconds, a dot, and its ID.
func formatCursor(c logout.Cursor) string {
	return strconv.FormatInt(c.Created.UnixMicro(), 10) + "." + c.ID
}

// parseCursor reads formatCursor's form; "" is the first page. Anything
// else is refused.
func parseCursor(v string) (logout.Cursor, bool) {
	if v == "" {
		return logout.Cursor{}, true
	}
	micros, id, ok := strings.Cut(v, ".")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || len(id) > 128 {
		return logout.Cursor{}, false
	}
	return logout.Cursor{Created: time.UnixMicro(n).UTC(), ID: id}, true
}

type sessionRow struct {
	ID, Short, UserID, User, Roles, Created, LastSeen, Left string
	Since                                                   string // Created in Unix microseconds: with ID, the session's cursor
	This                                                    bool
}

type userRow struct {
	ID, Name string
	Count    int
}

type eventRow struct {
	At, User, Reason, Short string
}

// shortID is how the page names a session: the start of its ID, itself
// a hash of the secret token.
func shortID(id string) string { return id[:min(len(id), 8)] }

// sessionsPage lists every session and the sign-out log.
func (a *App) sessionsPage(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	p := a.page(r, u, "sessions.title")
	p.Active = "sessions"
	doneNotice(p, r, "forced", "sessions.done")
	names, err := a.users.names(ctx)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	name := func(id string) string {
		if n := displayUser(id, names); n != id {
			return n
		}
		return p.T("sessions.unknown_user", id)
	}
	v, ok := a.sessionList(w, r, u, p, "", name)
	if !ok {
		return
	}
	v.Path = a.cfg.Prefix + sessionsPath
	events, err := a.m.Events(ctx, eventLimit)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	// Per-user counts: one count per known user, bounded by the users,
	// and per panel user of this page (behind logout-proxy), bounded by
	// the page, so that "sign out by user" reaches the panel's users too.
	ids := slices.Collect(maps.Keys(names))
	for _, row := range v.Sessions {
		if _, panel := proxy.PanelUserName(row.UserID); panel && !slices.Contains(ids, row.UserID) {
			ids = append(ids, row.UserID)
		}
	}
	slices.SortFunc(ids, func(x, y string) int { return strings.Compare(displayUser(x, names), displayUser(y, names)) })
	for _, id := range ids {
		n, err := a.m.CountSessions(ctx, logout.ListOptions{UserID: id})
		if err != nil {
			a.internal(w, r, u, err)
			return
		}
		if n > 0 {
			v.Users = append(v.Users, userRow{ID: id, Name: displayUser(id, names), Count: n})
		}
	}
	for _, e := range events {
		v.Events = append(v.Events, eventRow{
			At: formatTime(e.At), User: name(e.UserID), Reason: p.T("event." + e.Reason.String()), Short: shortID(e.SessionID),
		})
	}
	p.Data = v
	a.render(w, r, http.StatusOK, "sessions", p)
}

// doneNotice adds to p the notice of a sign-out's redirect, ?done=done&n=N:
// N sessions, in the plural forms of key.
func doneNotice(p *page, r *http.Request, done, key string) {
	if q := r.URL.Query(); q.Get("done") == done {
		n, _ := strconv.Atoi(q.Get("n"))
		p.Notices = append(p.Notices, notice{Kind: "success", Text: p.N(key, n)})
	}
}

// sessionList reads the page of sessions that r's ?after= asks for, of
// userID or of every user when "", with their count, the rows named by
// name. One page and a count rather than lists, so that the work of one
// request is bounded whatever the number of sessions. It reports whether
// it did; when it did not, the answer (400 for a bad cursor) is written.
func (a *App) sessionList(w http.ResponseWriter, r *http.Request, u *user, p *page, userID string, name func(string) string) (sessionsView, bool) {
	ctx := r.Context()
	after, ok := parseCursor(r.URL.Query().Get("after"))
	if !ok {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return sessionsView{}, false
	}
	list, err := a.m.Sessions(ctx, logout.ListOptions{UserID: userID, After: after, Limit: sessionsPageSize})
	if err != nil {
		a.internal(w, r, u, err)
		return sessionsView{}, false
	}
	total, err := a.m.CountSessions(ctx, logout.ListOptions{UserID: userID})
	if err != nil {
		a.internal(w, r, u, err)
		return sessionsView{}, false
	}
	set, err := a.m.Settings(ctx) // each session's lifetime, for the format of its time left
	if err != nil {
		a.internal(w, r, u, err)
		return sessionsView{}, false
	}
	me, _ := logout.FromContext(ctx)
	v := sessionsView{Total: total, Others: max(total-1, 0), Paged: !after.IsZero()}
	for _, s := range list {
		v.Sessions = append(v.Sessions, sessionRow{
			ID: s.ID, Short: shortID(s.ID), UserID: s.UserID, User: name(s.UserID), Roles: roleNames(p.translator, s.Roles),
			Created: formatTime(s.Created), Since: strconv.FormatInt(s.Created.UnixMicro(), 10), LastSeen: formatTime(s.LastSeen),
			Left: formatLeft(p.translator, a.until(s.Deadline), set.IdleLifetime(s.UserID, s.Roles)), This: s.ID == me.ID,
		})
	}
	if len(list) == sessionsPageSize {
		v.Next = formatCursor(logout.CursorOf(list[len(list)-1]))
	}
	return v, true
}

// forceSignOut signs out one session ("session", id), every session of
// a user ("user", user) or every session but this one ("others").
func (a *App) forceSignOut(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	me, _ := logout.FromContext(r.Context())
	var sel logout.Selector
	switch r.PostFormValue("scope") {
	case "session":
		sel.IDs = []string{r.PostFormValue("id")}
	case "user":
		sel.UserID = r.PostFormValue("user")
	case "others":
		sel.All, sel.Except = true, me.ID
	}
	if sel.Validate() != nil || (len(sel.IDs) == 1 && sel.IDs[0] == "") {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	a.endSessions(w, r, u, sel, logout.ReasonForced, sessionsPath, "forced")
}

// endSessions ends the sessions that sel selects for reason, logs it, and
// sends the browser back to the page at path (below the prefix) with
// ?done=done and the count.
func (a *App) endSessions(w http.ResponseWriter, r *http.Request, u *user, sel logout.Selector, reason logout.Reason, path, done string) {
	me, _ := logout.FromContext(r.Context())
	evs, err := a.m.EndSessions(r.Context(), sel, reason)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: sessions ended", slog.String("by", u.Name), slog.String("reason", reason.String()),
		slog.String("page", path), slog.String("scope", r.PostFormValue("scope")), slog.Int("sessions", len(evs)))
	if slices.ContainsFunc(evs, func(ev logout.Event) bool { return ev.SessionID == me.ID }) {
		// This answer ended its own session: it must not describe it as
		// alive, as a sign-out's does not.
		w.Header().Del(logout.HeaderDeadline)
	}
	http.Redirect(w, r, a.cfg.Prefix+path+"?done="+done+"&n="+strconv.Itoa(len(evs)), http.StatusSeeOther)
}
