package backend

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/gologout/logout"
)

// forceSignOut signs out one session ("session", id), every session of
// a user ("user", user) or every session but this one ("others"): the
// second step, after the confirmation page.
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

// confirmView is the data of the page that asks before sessions end.
type confirmView struct {
	Message                  string      // what ends
	Count                    int         // how many sessions end, as counted now
	Row                      *sessionRow // the session, when one ends
	Own                      bool        // the user's own sessions
	Action                   string      // where the confirmed form goes
	Cancel                   string      // the list's page
	Scope, ID, User, Created string      // the form's fields, passed on
	Addresses                bool        // Row's address is shown
}

// confirmEnd is the first step of ending sessions: a page that shows what
// will end and how many, with the form whose POST ends them (to
// Path+"/signout"). It takes the form of the list's buttons: "session"
// with id, created and, on the active sessions page, user; "user" with
// user (that page only); "others". Its answers end nothing: a session
// that is not the user's own (on their page) is not found, 404.
func (a *App) confirmEnd(own bool) func(http.ResponseWriter, *http.Request, *user) {
	return func(w http.ResponseWriter, r *http.Request, u *user) {
		if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
			return
		}
		ctx := r.Context()
		me, _ := logout.FromContext(ctx)
		title, base, key := "sessions.confirm_title", sessionsPath, "sessions."
		if own {
			title, base, key = "own.confirm_title", accountSessionsPath, "own."
		}
		p := a.page(r, u, title)
		p.Active = "sessions"
		if own {
			p.Active = "own"
		}
		names, err := a.users.names(ctx)
		if err != nil {
			a.internal(w, r, u, err)
			return
		}
		name := a.namer(p, names)
		v := confirmView{
			Own: own, Action: a.cfg.Prefix + base + "/signout", Cancel: a.cfg.Prefix + base,
			Scope: r.PostFormValue("scope"), Addresses: a.cfg.SessionAddress != AddressNone,
		}
		switch {
		case v.Scope == "session":
			userID := r.PostFormValue("user")
			if own {
				userID = me.UserID
			}
			s, found, ok, err := a.findSession(ctx, userID, r.PostFormValue("created"), r.PostFormValue("id"))
			switch {
			case err != nil:
				a.internal(w, r, u, err)
				return
			case !ok || (own && s.ID == me.ID):
				a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
				return
			case !found:
				a.fail(w, r, u, http.StatusNotFound, "error.not_found")
				return
			}
			set, err := a.m.Settings(ctx)
			if err != nil {
				a.internal(w, r, u, err)
				return
			}
			row := a.sessionRow(p.translator, s, name, set, me.ID)
			v.Row, v.Count, v.ID, v.User, v.Created = &row, 1, s.ID, s.UserID, row.Since
			if v.Message = p.T("own.confirm_one"); !own {
				v.Message = p.T("sessions.confirm_one", row.User)
			}
		case v.Scope == "user" && !own && r.PostFormValue("user") != "":
			v.User = r.PostFormValue("user")
			if v.Count, err = a.m.CountSessions(ctx, logout.ListOptions{UserID: v.User}); err != nil {
				a.internal(w, r, u, err)
				return
			}
			v.Message = p.N("sessions.confirm_user", v.Count, name(v.User))
		case v.Scope == "others":
			opts := logout.ListOptions{}
			if own {
				opts.UserID = me.UserID
			}
			if v.Count, err = a.m.CountSessions(ctx, opts); err != nil {
				a.internal(w, r, u, err)
				return
			}
			v.Count = max(v.Count-1, 0) // all but this one
			v.Message = p.N(key+"confirm_others", v.Count)
		default:
			a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
			return
		}
		if v.Count == 0 {
			v.Message, v.Row = p.T("confirm.none"), nil
		}
		w.Header().Set("Cache-Control", "no-store")
		p.Data = v
		a.render(w, r, http.StatusOK, "confirm", p)
	}
}

// findSession finds the session id among userID's (everyone's when "")
// by the time it was created, in Unix microseconds as a row gives it:
// one short read, however many sessions there are. It reports whether
// it found it, and whether created and id were well formed.
func (a *App) findSession(ctx context.Context, userID, created, id string) (s logout.Session, found, ok bool, err error) {
	t, ok := parseMicros(created)
	if !ok || !validID(id) {
		return logout.Session{}, false, false, nil
	}
	list, err := a.m.Sessions(ctx, logout.ListOptions{UserID: userID, After: logout.Cursor{Created: t}, Limit: sessionsPageSize})
	if err != nil {
		return logout.Session{}, false, true, err
	}
	if i := slices.IndexFunc(list, func(s logout.Session) bool { return s.ID == id }); i >= 0 {
		return list[i], true, true, nil
	}
	return logout.Session{}, false, true, nil
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
