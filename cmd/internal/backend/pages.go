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

// routes builds the App's handler. A path asked for with a method that
// none of its patterns takes answers 405 with Allow, as a ServeMux without
// catch-all patterns would; the exact paths of prefix patterns answer 404
// rather than ServeMux's 307 to the path with a slash.
func (a *App) routes() http.Handler {
	p := a.cfg.Prefix
	mux := http.NewServeMux()
	allow := make(map[string][]string) // methods by path
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		allow[path] = append(allow[path], method)
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, nil, http.StatusNotFound, "error.not_found")
	}
	handle("GET", "/{$}", http.HandlerFunc(a.front))
	handle("GET", "/lang", http.HandlerFunc(a.setLang))
	handle("GET", "/assets/app/", http.StripPrefix("/assets/app", a.assets))
	handle("GET", "/assets/logout/", http.StripPrefix("/assets/logout", widget.Handler()))
	// Browsers ask for /favicon.ico whatever the pages link to.
	handle("GET", "/favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawQuery = "/favicon.svg", ""
		a.assets.ServeHTTP(w, r2)
	}))
	mux.HandleFunc("/", notFound)

	paths := a.paths                                      // the sign-in page and the endpoints, as Config.Logout sets them
	mux.Handle(paths.Endpoints+"/", a.m.Endpoints())      // answers its own 405s
	handle("GET", p+"/lang", http.HandlerFunc(a.setLang)) // the switch in the pages: inside the prefix, which behind logout-proxy is all the admin pages have
	handle("GET", paths.SignIn, http.HandlerFunc(a.signInPage))
	handle("POST", paths.SignIn, http.HandlerFunc(a.signIn))
	handle("GET", p, a.auth(a.dashboard))
	handle("GET", p+"/{$}", a.auth(a.dashboard))
	handle("GET", p+"/api/stats", a.auth(a.stats))
	handle("POST", p+"/draft", a.auth(a.saveDraft))
	handle("GET", p+settingsPath, a.need(PermSettings, a.settingsPage))
	handle("POST", p+settingsPath, a.need(PermSettings, a.saveSettings))
	handle("POST", p+settingsPath+"/reset", a.need(PermSettings, a.resetSettings))
	handle("GET", p+sessionsPath, a.need(PermSessions, a.sessionsPage))
	handle("POST", p+sessionsPath, a.need(PermSessions, a.sessionsPage)) // the address filter
	handle("POST", p+sessionsPath+"/confirm", a.need(PermSessions, a.confirmEnd(false)))
	handle("POST", p+sessionsPath+"/signout", a.need(PermSessions, a.forceSignOut))
	handle("GET", p+accountSessionsPath, a.auth(a.ownSessionsPage))
	handle("POST", p+accountSessionsPath+"/confirm", a.auth(a.confirmEnd(true)))
	handle("POST", p+accountSessionsPath+"/signout", a.auth(a.endOwnSessions))
	handle("GET", p+logPath, a.need(PermSessions, a.signOutLog))
	handle("GET", p+historyPath, a.need(PermSettings, a.settingsHistory))
	handle("GET", p+tokensPath, a.canTokens(a.tokensPage))
	handle("POST", p+tokensPath, a.canTokens(a.createTokenForm))
	handle("POST", p+tokensPath+"/revoke", a.canTokens(a.revokeTokenForm))
	mux.Handle(p+"/", a.auth(func(w http.ResponseWriter, r *http.Request, u *user) {
		a.fail(w, r, u, http.StatusNotFound, "error.not_found")
	}))

	for path, methods := range allow {
		mux.Handle(path, a.methodNotAllowed(methods))
	}
	for _, path := range []string{"/assets/app", "/assets/logout", paths.Endpoints} {
		mux.HandleFunc(path, notFound)
	}
	pages, api := a.m.Handler(mux), a.apiRoutes() // the API reads no session cookie (api.go)
	return a.headers(a.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.isAPI(r.URL.Path) {
			api.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})))
}

// methodNotAllowed answers 405 with Allow listing the methods, HEAD
// included with GET; on a backend path a signed-in user gets the page
// with the navigation. It answers anyone: the paths are no secret.
func (a *App) methodNotAllowed(methods []string) http.Handler {
	list := slices.Clone(methods)
	if slices.Contains(list, http.MethodGet) {
		list = append(list, http.MethodHead)
	}
	slices.Sort(list)
	allow := strings.Join(slices.Compact(list), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		var u *user
		if a.isBackend(r.URL.Path) {
			u = a.viewer(r)
		}
		a.fail(w, r, u, http.StatusMethodNotAllowed, "error.method")
	})
}

// viewer returns the signed-in user of r, or nil.
func (a *App) viewer(r *http.Request) *user {
	s, ok := logout.FromContext(r.Context())
	if !ok {
		return nil
	}
	u, err := a.users.byID(r.Context(), s.UserID)
	if err != nil {
		return nil
	}
	return u
}

// front is the public front page. A backend timeout never redirects it:
// the Manager serves it as an anonymous visitor. Personalised for a
// signed-in visitor, it is private and kept by no cache, so that no one
// else, nor the browser's back button after a sign-out, shows the name.
func (a *App) front(w http.ResponseWriter, r *http.Request) {
	p := a.page(r, nil, "front.title")
	name := ""
	if u := a.viewer(r); u != nil {
		name = u.Name
		w.Header().Set("Cache-Control", "private, no-store")
	}
	p.Data = name
	a.render(w, r, http.StatusOK, "front", p)
}

// setLang sets the language cookie and goes back to the same-origin
// return path. It changes no account state, so it is a GET.
func (a *App) setLang(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if lang := q.Get("lang"); slices.Contains(languages(), lang) {
		path := "/"
		if a.cfg.PanelUser != nil {
			path = a.cfg.Prefix // behind logout-proxy the rest of the site is the panel's, and so are its cookies
		}
		http.SetCookie(w, &http.Cookie{
			Name: langCookie, Value: lang, Path: path, MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
		})
	}
	ret, ok := logout.SafeReturnPath(q.Get("return"))
	if !ok {
		ret = "/"
		if r.URL.Path != "/lang" {
			ret = a.cfg.Prefix
		}
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
	mine, err := a.m.CountSessions(r.Context(), logout.ListOptions{UserID: s.UserID})
	if err != nil {
		return nil, err
	}
	now := a.now()
	st, _ := a.m.Status(r) // the counter's lifetime, for its format
	return []stat{
		{"server_time", tr.T("stats.server_time"), formatTime(now)},
		{"signed_in", tr.T("stats.signed_in"), formatTime(s.Created)},
		{"deadline", tr.T("stats.deadline"), formatTime(s.Deadline)},
		{"time_left", tr.T("stats.time_left"), formatLeft(tr, s.Deadline.Sub(now), st.Lifetime)},
		{"sessions", tr.T("stats.sessions"), fmt.Sprint(mine)},
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
	if !a.readForm(w, r, u, maxDraftBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	fields := make(map[string]string, len(draftFields()))
	for _, f := range draftFields() {
		v := r.PostForm.Get(f.Name)
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
