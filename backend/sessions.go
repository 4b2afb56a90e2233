package backend

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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

// listRequest is what a sessions page lists: the order, the filters and
// the page, from the query of a GET or the form of the address filter's
// POST.
type listRequest struct {
	Sort    string // a key of sortOrders
	User    string // the user filter as typed: a name
	Address string // the address filter as typed (POST only)
	order   logout.SessionOrder
	userID  string // User resolved; "" for all users
	address string // Address as sessions keep it; "" for any
	after   logout.Cursor
	skip    int  // the sessions before the page
	nothing bool // the filter can match no session: list none
}

// sortOrders are the orders the sessions pages offer, by their name in
// URLs and forms; the first is the default.
var sortOrders = []struct {
	key   string
	order logout.SessionOrder
}{{"active", logout.ActiveFirst}, {"newest", logout.NewestFirst}, {"oldest", logout.OldestFirst}, {"ending", logout.EndingFirst}}

// A sortOption is an order in the sort select.
type sortOption struct {
	Key, Label string
	Selected   bool
}

// readListRequest reads the order, the user filter and the page from
// form (a GET's query or a POST's form); the address filter is read by
// the page that takes it. It reports false for an unknown order or a
// malformed cursor.
func readListRequest(form url.Values) (listRequest, bool) {
	q := listRequest{Sort: form.Get("sort"), User: strings.TrimSpace(form.Get("user"))}
	resort := form.Get("sort_by") // a sort header's button on an answer to the address filter
	if resort != "" {
		q.Sort = resort
	}
	if q.Sort == "" {
		q.Sort = sortOrders[0].key
	}
	i := slices.IndexFunc(sortOrders, func(o struct {
		key   string
		order logout.SessionOrder
	}) bool {
		return o.key == q.Sort
	})
	if i < 0 || len(q.User) > 256 {
		return q, false
	}
	q.order = sortOrders[i].order
	if resort != "" {
		return q, true // from the first page
	}
	var ok bool
	q.after, q.skip, ok = parseCursor(q.order, form.Get("after"))
	return q, ok
}

// query returns the query string of q's order and user filter, with the
// order sort instead when not "": the links of the sort headers and pager.
func (q listRequest) query(sort string) url.Values {
	v := url.Values{}
	if sort == "" {
		sort = q.Sort
	}
	if sort != sortOrders[0].key {
		v.Set("sort", sort)
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	return v
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

// A sortHead is a sortable column's header: a link to the page in the
// column's order, or, on an answer to the address filter, a button that
// submits that form in it.
type sortHead struct {
	Label, Sort, Href, Form string
	Aria                    string // aria-sort: "ascending", "descending" or ""
}

// Head returns the header of the column col: "created", "last_seen" or
// "left". Signed in sorts newest first, or oldest first when it already
// sorts newest first; the others sort one way.
func (t sessionTable) Head(col string) sortHead {
	h := sortHead{Label: t.T("sessions." + col)}
	switch col {
	case "created":
		h.Sort = "newest"
		switch t.List.Sort {
		case "newest":
			h.Sort, h.Aria = "oldest", "descending"
		case "oldest":
			h.Aria = "ascending"
		}
	case "last_seen":
		h.Sort = "active"
		if t.List.Sort == "active" {
			h.Aria = "descending"
		}
	case "left":
		h.Sort = "ending"
		if t.List.Sort == "ending" {
			h.Aria = "ascending"
		}
	}
	if t.ByAddress {
		h.Form = t.AddressForm
	} else {
		h.Href = t.Path + queryString(t.List.query(h.Sort))
	}
	return h
}

// FirstHref and NextHref are the pager's links.
func (t sessionTable) FirstHref() string { return t.Path + queryString(t.List.query("")) }
func (t sessionTable) NextHref() string {
	v := t.List.query("")
	v.Set("after", t.Next)
	return t.Path + queryString(v)
}

// Range is the pager's "1–50 of 1,234".
func (t sessionTable) Range() string {
	return t.T("sessions.range", t.Num(t.From), t.Num(t.To), t.Num(t.Total))
}

func queryString(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// sessionsPageSize is how many sessions one page lists.
const sessionsPageSize = 50

// formatCursor writes a page cursor for a URL: how many sessions the
// pages so far listed, a dot, the time of the session's that order
// sorts by in Unix microseconds, a dot, and its ID.
func formatCursor(order logout.SessionOrder, s logout.Session, skip int) string {
	t, _ := order.Key(s)
	return strconv.Itoa(skip) + "." + strconv.FormatInt(t.UnixMicro(), 10) + "." + s.ID
}

// parseCursor reads formatCursor's form for order: the position and the
// count of the sessions before it. "" is the first page. Anything else is
// refused.
func parseCursor(order logout.SessionOrder, v string) (logout.Cursor, int, bool) {
	if v == "" {
		return logout.Cursor{}, 0, true
	}
	skip, rest, ok1 := strings.Cut(v, ".")
	micros, id, ok2 := strings.Cut(rest, ".")
	n, err := strconv.Atoi(skip)
	if !ok1 || !ok2 || err != nil || n < 1 {
		return logout.Cursor{}, 0, false
	}
	t, ok := parseMicros(micros)
	if !ok || !validID(id) {
		return logout.Cursor{}, 0, false
	}
	c := logout.Cursor{ID: id}
	switch order {
	case logout.ActiveFirst:
		c.LastSeen = t
	case logout.EndingFirst:
		c.Deadline = t
	default:
		c.Created = t
	}
	return c, n, true
}

// parseMicros reads a time in Unix microseconds, not before 1970.
func parseMicros(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || v != strconv.FormatInt(n, 10) {
		return time.Time{}, false
	}
	return time.UnixMicro(n).UTC(), true
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
