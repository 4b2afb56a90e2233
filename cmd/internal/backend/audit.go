package backend

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
	"github.com/gologout/logout/settingsform"
)

// Paths below the prefix of the audit pages.
const (
	logPath     = "/system/sessions/log"
	historyPath = "/system/settings/history"
)

// auditLimit is how many entries an audit page shows; the exports have
// every entry that the filter selects.
const auditLimit = 100

// auditView is the data of the sign-out log and settings history pages.
type auditView struct {
	Events       bool   // the sign-out log, else the settings history
	Action       string // the page's path, for the filter form
	Filter       Filter
	Error        string // why the filter was refused
	Reasons      []reasonOption
	Rows         []eventRow
	Changes      []changeRow
	More         bool // more entries than shown: export them
	CSV, JSON    string
	NothingFound bool
}

// A reasonOption is one choice of the reason filter.
type reasonOption struct {
	Name, Label string
	Selected    bool
}

// A changeRow is one save of the settings on the history page.
type changeRow struct {
	At, By  string
	Version int64
	Fields  []settingsform.Change
}

// An eventTable is the data of the "events" template: rows of the
// sign-out log, in a region labelled by the element LabelledBy.
type eventTable struct {
	translator
	Rows       []eventRow
	LabelledBy string
}

// EventTable returns the data of the "events" template, for the pages
// that show sign-out log rows.
func (p *page) EventTable(rows []eventRow, labelledBy string) eventTable {
	return eventTable{translator: p.translator, Rows: rows, LabelledBy: labelledBy}
}

// filterOf reads the filter of an audit page's query.
func filterOf(q url.Values) Filter {
	return Filter{Since: q.Get("since"), Until: q.Get("until"), User: q.Get("user"), Reason: q.Get("reason")}
}

// exportLinks returns the page's query with format set.
func exportLink(path string, q url.Values, format string) string {
	v := url.Values{}
	for _, k := range []string{"since", "until", "user", "reason"} {
		if x := q.Get(k); x != "" {
			v.Set(k, x)
		}
	}
	v.Set("format", format)
	return path + "?" + v.Encode()
}

// startExport answers the headers of a download: its type, a file name
// with the time, and no caching.
func (a *App) startExport(w http.ResponseWriter, kind, format string) {
	h := w.Header()
	switch format {
	case FormatCSV:
		h.Set("Content-Type", "text/csv; charset=utf-8")
	default:
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Disposition", `attachment; filename="logout-`+kind+`-`+a.now().UTC().Format("20060102T150405Z")+`.`+format+`"`)
	h.Set("Cache-Control", "no-store")
}

// auditRequest reads the format and the filter of an audit request. On
// bad input it renders the page with 400 and the reason, and returns
// false.
func (a *App) auditRequest(w http.ResponseWriter, r *http.Request, u *user, view *auditView, parse func(Filter) error) (string, bool) {
	q := r.URL.Query()
	view.Filter = filterOf(q)
	format := q.Get("format")
	if format != "" && format != FormatCSV && format != FormatJSON {
		a.fail(w, r, u, http.StatusBadRequest, "audit.bad_format")
		return "", false
	}
	if err := parse(view.Filter); err != nil {
		active, title := "history", "audit.history_title"
		if view.Events {
			active, title = "log", "audit.log_title"
		}
		p := a.page(r, u, title)
		p.Active = active
		view.Error = filterMessage(p.translator, err)
		view.Reasons = reasonOptions(p.translator, view.Filter.Reason)
		p.Data = view
		a.render(w, r, http.StatusBadRequest, "audit", p)
		return "", false
	}
	return format, true
}

// filterMessage translates the first [*FilterError] in err.
func filterMessage(tr translator, err error) string {
	var fe *FilterError
	if !errors.As(err, &fe) {
		return tr.T("audit.bad_filter.history")
	}
	return tr.T("audit.bad_filter."+fe.Code, fe.Field, fe.Value)
}

// reasonOptions lists the reasons for the filter, selected the one named.
func reasonOptions(tr translator, selected string) []reasonOption {
	out := []reasonOption{{Name: "", Label: tr.T("audit.any_reason"), Selected: selected == ""}}
	for r := logout.ReasonIdle; r.Valid(); r++ {
		out = append(out, reasonOption{Name: r.String(), Label: tr.T("event." + r.String()), Selected: selected == r.String()})
	}
	return out
}

// signOutLog shows the sign-out log filtered by date, user and reason, or
// exports it (?format=csv or json).
func (a *App) signOutLog(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	names, err := a.users.names(ctx)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	view := &auditView{Events: true, Action: a.cfg.Prefix + logPath}
	var q logout.EventQuery
	format, ok := a.auditRequest(w, r, u, view, func(f Filter) (err error) {
		f.PanelUser = a.cfg.PanelUser
		q, err = f.EventQuery(names, time.Local)
		return err
	})
	if !ok {
		return
	}
	if format != "" {
		a.startExport(w, "sign-outs", format)
		if err := ExportEvents(ctx, a.m, w, format, q, names); err != nil {
			// The status is sent: the download ends short, and the log says why.
			a.log.ErrorContext(ctx, "backend: export failed", "error", err.Error())
		}
		return
	}
	q.Limit = auditLimit + 1
	evs, err := a.m.QueryEvents(ctx, q)
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	p := a.page(r, u, "audit.log_title")
	p.Active = "log"
	view.More = len(evs) > auditLimit
	for _, e := range evs[:min(len(evs), auditLimit)] {
		view.Rows = append(view.Rows, eventRow{At: formatTime(e.At), User: displayUser(e.UserID, names),
			Reason: p.T("event." + e.Reason.String()), Short: logid.Short(e.SessionID)})
	}
	view.NothingFound = len(evs) == 0
	view.Reasons = reasonOptions(p.translator, view.Filter.Reason)
	a.showAudit(w, r, p, view)
}

// showAudit renders an audit page with its export links.
func (a *App) showAudit(w http.ResponseWriter, r *http.Request, p *page, view *auditView) {
	view.CSV = exportLink(view.Action, r.URL.Query(), FormatCSV)
	view.JSON = exportLink(view.Action, r.URL.Query(), FormatJSON)
	p.Data = view
	a.render(w, r, http.StatusOK, "audit", p)
}

// settingsHistory shows who changed the settings, when, and each field
// from what to what, filtered by date, or exports it.
func (a *App) settingsHistory(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	view := &auditView{Action: a.cfg.Prefix + historyPath}
	var q logout.HistoryQuery
	format, ok := a.auditRequest(w, r, u, view, func(f Filter) (err error) {
		q, err = f.HistoryQuery(time.Local)
		return err
	})
	if !ok {
		return
	}
	if format != "" {
		a.startExport(w, "settings", format)
		if err := ExportSettings(ctx, a.m, w, format, q); err != nil {
			a.log.ErrorContext(ctx, "backend: export failed", "error", err.Error())
		}
		return
	}
	q.Limit = auditLimit + 1
	cs, err := a.m.SettingsHistory(ctx, q)
	if err != nil && !errors.Is(err, logout.ErrNotFound) {
		a.internal(w, r, u, err)
		return
	}
	p := a.page(r, u, "audit.history_title")
	p.Active = "history"
	view.More = len(cs) > auditLimit
	for _, c := range cs[:min(len(cs), auditLimit)] {
		view.Changes = append(view.Changes, changeRow{At: formatTime(c.At), By: c.By, Version: c.New.Version, Fields: settingsform.Diff(c)})
	}
	view.NothingFound = len(cs) == 0
	a.showAudit(w, r, p, view)
}
