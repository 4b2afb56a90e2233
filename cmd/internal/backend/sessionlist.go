package backend

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

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
