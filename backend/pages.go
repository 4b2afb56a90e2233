package backend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/widget"
)

// routes builds the App's handler.
func (a *App) routes() http.Handler {
	p := a.cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.front)
	mux.HandleFunc("GET /lang", a.setLang)
	mux.Handle("GET /assets/app/", http.StripPrefix("/assets/app", a.assets))
	mux.Handle("GET /assets/logout/", http.StripPrefix("/assets/logout", widget.Handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, nil, http.StatusNotFound, "error.not_found")
	})

	mux.Handle(p+"/session/", a.m.Endpoints())
	mux.HandleFunc("GET "+p+"/auth/signin", a.signInPage)
	mux.HandleFunc("POST "+p+"/auth/signin", a.signIn)
	mux.Handle("GET "+p, a.auth(a.dashboard))
	mux.Handle("GET "+p+"/{$}", a.auth(a.dashboard))
	mux.Handle("GET "+p+"/api/stats", a.auth(a.stats))
	mux.Handle("POST "+p+"/draft", a.auth(a.saveDraft))
	mux.Handle("GET "+p+settingsPath, a.need(PermSettings, a.settingsPage))
	mux.Handle("POST "+p+settingsPath, a.need(PermSettings, a.saveSettings))
	mux.Handle("POST "+p+settingsPath+"/reset", a.need(PermSettings, a.resetSettings))
	mux.Handle("GET "+p+sessionsPath, a.need(PermSessions, a.sessionsPage))
	mux.Handle("POST "+p+sessionsPath+"/signout", a.need(PermSessions, a.forceSignOut))
	mux.Handle(p+"/", a.auth(func(w http.ResponseWriter, r *http.Request, u *user) {
		a.fail(w, r, u, http.StatusNotFound, "error.not_found")
	}))
	return a.headers(a.accessLog(a.m.Handler(mux)))
}

// front is the public front page. A backend timeout never redirects it:
// the Manager serves it as an anonymous visitor.
func (a *App) front(w http.ResponseWriter, r *http.Request) {
	p := a.page(r, nil, "front.title")
	name := ""
	if s, ok := logout.FromContext(r.Context()); ok {
		if u, err := a.users.byID(r.Context(), s.UserID); err == nil {
			name = u.Name
		}
	}
	p.Data = name
	a.render(w, r, http.StatusOK, "front", p)
}

// setLang sets the language cookie and goes back to the same-origin
// return path. It changes no account state, so it is a GET.
func (a *App) setLang(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if lang := q.Get("lang"); slices.Contains(languages(), lang) {
		http.SetCookie(w, &http.Cookie{
			Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
		})
	}
	ret, ok := logout.SafeReturnPath(q.Get("return"))
	if !ok {
		ret = "/"
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// A formField is a field of the dashboard's long form; multi-line ones
// are text areas.
type formField struct {
	Name      string
	Multiline bool
}

// draftFields returns the fields of the dashboard's long form.
func draftFields() []formField {
	return []formField{
		{"title", false}, {"slug", false}, {"summary", true}, {"body", true}, {"category", false},
		{"tags", false}, {"meta_title", false}, {"meta_description", true}, {"notes", true},
	}
}

// A draftField is one field of the long form, ready to render.
type draftField struct {
	Name, ID, Label, Help, Value string
	Multiline                    bool
}

// A stat is one value of the dashboard's stats; Key names it in JSON.
type stat struct {
	Key, Label, Value string
}

// dashboardView is the dashboard's data.
type dashboardView struct {
	Stats    []stat
	Fields   []draftField
	Saved    string
	DraftKey string
}

// dashboard shows the stats that "Refresh stats" reloads by fetch, and a
// long form to try losing (and keeping) unsaved work.
func (a *App) dashboard(w http.ResponseWriter, r *http.Request, u *user) {
	p := a.page(r, u, "dashboard.title")
	p.Active = "dashboard"
	if r.URL.Query().Get("done") == "draft" {
		p.Notices = append(p.Notices, notice{Kind: "success", Text: p.T("draft.saved")})
	}
	stats, err := a.statList(r, u, p.translator)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	values, saved, err := a.users.draft(r.Context(), u.ID)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	v := dashboardView{Stats: stats, DraftKey: u.SessionUser()}
	if !saved.IsZero() {
		v.Saved = formatTime(saved)
	}
	for _, f := range draftFields() {
		v.Fields = append(v.Fields, draftField{
			Name: f.Name, ID: "draft-" + f.Name, Label: p.T("draft.field." + f.Name),
			Value: values.Get(f.Name), Multiline: f.Multiline,
		})
	}
	p.Data = v
	a.render(w, r, http.StatusOK, "dashboard", p)
}

// statList computes the dashboard's stats.
func (a *App) statList(r *http.Request, u *user, tr translator) ([]stat, error) {
	s, _ := logout.FromContext(r.Context())
	mine, err := a.m.Sessions(r.Context(), s.UserID)
	if err != nil {
		return nil, err
	}
	now := a.now()
	return []stat{
		{"server_time", tr.T("stats.server_time"), formatTime(now)},
		{"signed_in", tr.T("stats.signed_in"), formatTime(s.Created)},
		{"deadline", tr.T("stats.deadline"), formatTime(s.Deadline)},
		{"time_left", tr.T("stats.time_left"), formatLeft(tr, s.Deadline.Sub(now))},
		{"sessions", tr.T("stats.sessions"), fmt.Sprint(len(mine))},
		{"roles", tr.T("stats.roles"), roleNames(tr, u.Roles)},
	}, nil
}

func roleNames(tr translator, roles []string) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = tr.T("role." + r)
	}
	return strings.Join(names, ", ")
}

// stats answers the dashboard's fetch with the stats as JSON. As a
// backend request it extends the session and carries the new deadline,
// which resets the counter.
func (a *App) stats(w http.ResponseWriter, r *http.Request, u *user) {
	list, err := a.statList(r, u, a.cat.lang(pickLang(r)))
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	out := make(map[string]string, len(list))
	for _, s := range list {
		out[s.Key] = s.Value
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(out)
}

// saveDraft saves the long form.
func (a *App) saveDraft(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.checkCSRF(w, r, u) {
		return
	}
	fields := make(map[string]string, len(draftFields()))
	for _, f := range draftFields() {
		v := r.PostFormValue(f.Name)
		if len(v) > 20000 {
			v = v[:20000]
		}
		fields[f.Name] = v
	}
	if err := a.users.saveDraft(r.Context(), u.ID, fields, a.now()); err != nil {
		a.internal(w, r, u, err)
		return
	}
	http.Redirect(w, r, a.cfg.Prefix+"?done=draft", http.StatusSeeOther)
}

// until is time.Until on the App's clock.
func (a *App) until(t time.Time) time.Duration { return t.Sub(a.now()) }
