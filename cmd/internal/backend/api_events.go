package backend

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// An eventJSON is one sign-out as the API lists it.
type eventJSON struct {
	At        time.Time `json:"at"`
	UserID    string    `json:"user_id"`
	User      string    `json:"user"`
	Reason    string    `json:"reason"`
	SessionID string    `json:"session_id"`
}

// apiEvents lists a page of the sign-out log, newest first, filtered as
// the export is ([Filter]). A page's next is where the following page
// starts: the oldest time on this page and how many of its entries of
// that time were read.
func (a *App) apiEvents(w http.ResponseWriter, r *http.Request, _ Token) {
	q, names, ok := a.queryNames(w, r, "since", "until", "user", "reason", "limit", "after")
	if !ok {
		return
	}
	ctx := r.Context()
	eq, err := a.filterParams(q).EventQuery(names, time.Local)
	bad := filterErrors(err)
	limit, fe := pageLimit(q)
	if fe != nil {
		bad = append(bad, *fe)
	}
	skip := 0
	if after := q.Get("after"); after != "" {
		until, n, ok := parseEventCursor(after)
		if !ok {
			bad = append(bad, apiFieldError{Field: "after", Code: "syntax", Reason: "malformed cursor: pass the next value of the previous page"})
		}
		eq.Until, skip = until, n
	}
	if bad != nil {
		apiError(w, http.StatusBadRequest, "bad query parameters", bad...)
		return
	}
	// As ExportEvents pages: the entries of the page's oldest time that
	// were read come first again on the next page, and are skipped.
	eq.Limit = limit + skip
	evs, err := a.m.QueryEvents(ctx, eq)
	if err != nil {
		a.apiInternal(w, r, err)
		return
	}
	page := evs[min(skip, len(evs)):]
	out := struct {
		Events []eventJSON `json:"events"`
		Next   string      `json:"next,omitempty"`
	}{Events: make([]eventJSON, 0, len(page))}
	for _, e := range page {
		out.Events = append(out.Events, eventJSON{At: e.At.UTC(), UserID: e.UserID, User: UserName(e.UserID, names, ""),
			Reason: e.Reason.String(), SessionID: e.SessionID})
	}
	if len(evs) == eq.Limit && len(page) > 0 {
		last, n := evs[len(evs)-1].At, 0
		for _, e := range evs {
			if e.At.Equal(last) {
				n++
			}
		}
		out.Next = formatEventCursor(last.Add(time.Microsecond), n)
	}
	writeJSON(w, http.StatusOK, out)
}

func formatEventCursor(until time.Time, skip int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", until.UnixMicro(), skip))
}

func parseEventCursor(v string) (time.Time, int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return time.Time{}, 0, false
	}
	us, n, ok := strings.Cut(string(b), ".")
	t, err1 := strconv.ParseInt(us, 10, 64)
	skip, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || skip < 0 {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(t).UTC(), skip, true
}
