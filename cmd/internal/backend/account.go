package backend

import (
	"net/http"

	"github.com/gologout/logout"
)

// accountSessionsPath is the page, below the prefix, where every
// signed-in user sees and ends their own sessions.
const accountSessionsPath = "/account/sessions"

// ownSessionsPage lists the signed-in user's own sessions, a page at a
// time, with a button to end each but this one (which has the ordinary
// sign-out) and one to end all but this one.
func (a *App) ownSessionsPage(w http.ResponseWriter, r *http.Request, u *user) {
	p := a.page(r, u, "own.title")
	p.Active = "own"
	doneNotice(p, r, "ended", "own.done")
	me, _ := logout.FromContext(r.Context())
	list, ok := readListRequest(r.URL.Query())
	if !ok || list.User != "" {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	list.userID = me.UserID
	v, ok := a.sessionList(w, r, u, p, list, func(string) string { return u.Name })
	if !ok {
		return
	}
	v.Others = max(v.Total-1, 0)
	v.Path, v.Own = a.cfg.Prefix+accountSessionsPath, true
	p.Data = v
	a.render(w, r, http.StatusOK, "account", p)
}

// endOwnSessions ends one of the user's other sessions ("session", with
// the id and created of its row) or all of them ("others"). It fails
// closed: 400 for a bad form or this very session, 404 for a session that
// is not the user's (or no longer is), and neither ends anything.
func (a *App) endOwnSessions(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	ctx := r.Context()
	me, _ := logout.FromContext(ctx)
	var sel logout.Selector
	switch r.PostFormValue("scope") {
	case "session":
		id := r.PostFormValue("id")
		_, found, ok, err := a.findSession(ctx, me.UserID, r.PostFormValue("created"), id)
		switch {
		case err != nil:
			a.internal(w, r, u, err)
			return
		case !ok || id == me.ID:
			a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
			return
		case !found:
			a.fail(w, r, u, http.StatusNotFound, "error.not_found")
			return
		}
		sel.IDs = []string{id}
	case "others":
		sel.UserID, sel.Except = me.UserID, me.ID
	default:
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	a.endSessions(w, r, u, sel, logout.ReasonManual, accountSessionsPath, "ended") // the user signed those out
}
