package backend

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gologout/logout"
)

// eventLimit is how many entries of the sign-out log the page shows.
const eventLimit = 50

// sessionsView is the active sessions page's data.
type sessionsView struct {
	Sessions []sessionRow
	Users    []userRow
	Events   []eventRow
	Others   int // sessions other than this one
}

type sessionRow struct {
	ID, Short, User, Roles, Created, LastSeen, Left string
	This                                            bool
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
	switch r.URL.Query().Get("done") {
	case "forced":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		p.Notices = append(p.Notices, notice{Kind: "success", Text: p.N("sessions.done", n)})
	}
	list, err := a.m.Sessions(ctx, logout.ListOptions{Limit: 1000}) // the first 1000 only: this page does not page yet
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	events, err := a.m.Events(ctx, eventLimit)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	names, err := a.users.names(ctx)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return p.T("sessions.unknown_user", id)
	}
	me, _ := logout.FromContext(ctx)
	var v sessionsView
	counts := map[string]int{}
	for _, s := range list {
		v.Sessions = append(v.Sessions, sessionRow{
			ID: s.ID, Short: shortID(s.ID), User: name(s.UserID), Roles: roleNames(p.translator, s.Roles),
			Created: formatTime(s.Created), LastSeen: formatTime(s.LastSeen),
			Left: formatLeft(p.translator, a.until(s.Deadline)), This: s.ID == me.ID,
		})
		if counts[s.UserID] == 0 {
			v.Users = append(v.Users, userRow{ID: s.UserID, Name: name(s.UserID)})
		}
		counts[s.UserID]++
		if s.ID != me.ID {
			v.Others++
		}
	}
	for i := range v.Users {
		v.Users[i].Count = counts[v.Users[i].ID]
	}
	for _, e := range events {
		v.Events = append(v.Events, eventRow{
			At: formatTime(e.At), User: name(e.UserID), Reason: p.T("event." + e.Reason.String()), Short: shortID(e.SessionID),
		})
	}
	p.Data = v
	a.render(w, r, http.StatusOK, "sessions", p)
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
	evs, err := a.m.ForceSignOut(r.Context(), sel)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: forced sign-out", slog.String("by", u.Name),
		slog.String("scope", r.PostFormValue("scope")), slog.Int("sessions", len(evs)))
	http.Redirect(w, r, a.cfg.Prefix+sessionsPath+"?done=forced&n="+strconv.Itoa(len(evs)), http.StatusSeeOther)
}
