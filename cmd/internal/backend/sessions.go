package backend

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
	"github.com/gologout/logout/proxy"
)

// eventLimit is how many entries of the sign-out log the page shows.
const eventLimit = 50

// sessionsView is the data of the pages that list sessions: the active
// sessions page, and each user's own.
type sessionsView struct {
	Sessions []sessionRow
	Users    []userRow
	Events   []eventRow
	Total    int    // the sessions that the filters select (the user's own on their page)
	Others   int    // sessions other than this one: everyone's, or the user's own
	From, To int    // the places of the rows on this page among Total, from 1
	Next     string // the next page's cursor; "" on the last page
	Paged    bool   // this is not the first page
	Path     string // the page's path: its links', and Path+"/confirm" and Path+"/signout" its buttons'
	Own      bool   // the user's own sessions: no user column, no button on this one
	List     listRequest
	Sorts    []sortOption
	// Addresses shows the address column and filter: sessions keep
	// addresses (Config.SessionAddress is not "none").
	Addresses bool
	// ByAddress is an answer to the address filter's POST: the address
	// is in no URL, so its sort and page controls submit that form again.
	ByAddress   bool
	AddressErr  string // why the address typed is no address
	AddressForm string // the id of the address filter's form
}

// validID reports whether id may be a session ID that a form names.
func validID(id string) bool { return id != "" && len(id) <= 128 }

type sessionRow struct {
	ID, Short, UserID, User, Created, LastSeen, Left string
	Device, Kind, Address                            string
	Since                                            string // Created in Unix microseconds: with ID, finds the session
	This                                             bool
}

// deviceName is how a row names the browser and system: "Firefox 128
// on Windows".
func deviceName(tr translator, b browserInfo) string {
	switch {
	case b.Browser != "" && b.OS != "":
		return tr.T("device.on", b.Browser, b.OS)
	case b.Browser != "":
		return b.Browser
	case b.OS != "":
		return b.OS
	}
	return tr.T("device.unknown")
}

type userRow struct {
	ID, Name string
	Count    int
}

type eventRow struct {
	At, User, Reason, Short string
}

// sessionsPage lists the sessions, filtered, sorted and a page at a
// time, and the sign-out log. A GET takes the order, the user and the
// page in its query; a POST is the address filter, with a CSRF token,
// whose answer no one keeps: addresses go in no URL.
func (a *App) sessionsPage(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
			return
		}
		form = r.PostForm
		w.Header().Set("Cache-Control", "no-store")
	}
	list, ok := readListRequest(form)
	if !ok {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	p := a.page(r, u, "sessions.title")
	p.Active = "sessions"
	doneNotice(p, r, "forced", "sessions.done")
	names, err := a.users.names(ctx)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	name := a.namer(p, names)
	if list.User != "" {
		list.userID = resolveUser(list.User, names, a.cfg.PanelUser)
	}
	var addrErr string
	if r.Method == http.MethodPost && a.cfg.SessionAddress != AddressNone {
		list.Address = strings.TrimSpace(r.PostFormValue("address"))
		if list.Address != "" {
			if list.address, ok = filterAddress(list.Address, a.cfg.SessionAddress); !ok {
				addrErr, list.nothing = p.T("sessions.bad_address"), true
			}
		}
	}
	v, ok := a.sessionList(w, r, u, p, list, name)
	if !ok {
		return
	}
	v.Path = a.cfg.Prefix + sessionsPath
	v.ByAddress, v.AddressErr, v.AddressForm = r.Method == http.MethodPost, addrErr, "address-filter"
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
	if v.Others, err = a.m.CountSessions(ctx, logout.ListOptions{}); err != nil {
		a.internal(w, r, u, err)
		return
	}
	v.Others = max(v.Others-1, 0)
	for _, e := range events {
		v.Events = append(v.Events, eventRow{
			At: formatTime(e.At), User: name(e.UserID), Reason: p.T("event." + e.Reason.String()), Short: logid.Short(e.SessionID),
		})
	}
	p.Data = v
	a.render(w, r, http.StatusOK, "sessions", p)
}

// namer returns how the page names a user ID: the user's name, or
// "unknown user (ID)".
func (a *App) namer(p *page, names map[string]string) func(string) string {
	return func(id string) string {
		if n := displayUser(id, names); n != id {
			return n
		}
		return p.T("sessions.unknown_user", id)
	}
}

// doneNotice adds to p the notice of a sign-out's redirect, ?done=done&n=N:
// N sessions, in the plural forms of key.
func doneNotice(p *page, r *http.Request, done, key string) {
	if q := r.URL.Query(); q.Get("done") == done {
		n, _ := strconv.Atoi(q.Get("n"))
		p.Notices = append(p.Notices, notice{Kind: "success", Text: p.N(key, n)})
	}
}

// sessionList reads the page of sessions that list asks for, with their
// count, the rows named by name. One page and a count rather than lists,
// so that the work of one request is bounded whatever the number of
// sessions. It reports whether it did; when it did not, the answer is
// written.
func (a *App) sessionList(w http.ResponseWriter, r *http.Request, u *user, p *page, list listRequest, name func(string) string) (sessionsView, bool) {
	ctx := r.Context()
	opts := logout.ListOptions{UserID: list.userID, Address: list.address, Order: list.order}
	var (
		total    int
		sessions []logout.Session
		err      error
	)
	if !list.nothing {
		if total, err = a.m.CountSessions(ctx, opts); err != nil {
			a.internal(w, r, u, err)
			return sessionsView{}, false
		}
		opts.After, opts.Limit = list.after, sessionsPageSize
		if sessions, err = a.m.Sessions(ctx, opts); err != nil {
			a.internal(w, r, u, err)
			return sessionsView{}, false
		}
	}
	set, err := a.m.Settings(ctx) // each session's lifetime, for the format of its time left
	if err != nil {
		a.internal(w, r, u, err)
		return sessionsView{}, false
	}
	me, _ := logout.FromContext(ctx)
	v := sessionsView{
		Total: total, Paged: !list.after.IsZero(), List: list, Addresses: a.cfg.SessionAddress != AddressNone,
		From: list.skip + 1, To: list.skip + len(sessions),
	}
	for _, o := range sortOrders {
		v.Sorts = append(v.Sorts, sortOption{Key: o.key, Label: p.T("sessions.sort." + o.key), Selected: o.key == list.Sort})
	}
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, a.sessionRow(p.translator, s, name, set, me.ID))
	}
	if len(sessions) == sessionsPageSize {
		v.Next = formatCursor(list.order, sessions[len(sessions)-1], v.To)
	}
	return v, true
}

// sessionRow describes the session s for a page.
func (a *App) sessionRow(tr translator, s logout.Session, name func(string) string, set logout.Settings, me string) sessionRow {
	b := parseBrowser(s.UserAgent)
	row := sessionRow{
		ID: s.ID, Short: logid.Short(s.ID), UserID: s.UserID, User: name(s.UserID),
		Created: formatTime(s.Created), Since: strconv.FormatInt(s.Created.UnixMicro(), 10), LastSeen: formatTime(s.LastSeen),
		Left: formatLeft(tr, a.until(s.Deadline), set.IdleLifetime(s.UserID, s.Roles)), This: s.ID == me,
		Device: deviceName(tr, b), Address: s.Address,
	}
	if b.Kind != "" {
		row.Kind = tr.T("device." + b.Kind)
	}
	return row
}
