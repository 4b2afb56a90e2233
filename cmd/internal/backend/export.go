package backend

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/logid"
	"github.com/gologout/logout/settingsform"
)

// The export formats of [ExportEvents] and [ExportSettings].
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// exportPage is how many entries an export reads from the store at a
// time: the rows are written page by page, never the whole log in memory.
const exportPage = 500

// A Filter selects entries of the sign-out log or the settings history
// for the audit pages and exports, as typed: dates as YYYY-MM-DD (a
// whole day in loc) or RFC 3339 times, the user as a backend user's name
// or a session's user ID, the reason by name (idle, absolute, forced,
// manual, replaced, limit, closed). Empty fields select everything.
type Filter struct {
	Since, Until, User, Reason string
	// PanelUser, when set, reads a User that names no backend user as
	// the panel's user of that name (see [Config.PanelUser]).
	PanelUser func(name string) string
}

// A FilterError is one field of a [Filter] that cannot be read.
type FilterError struct {
	// Field is "since", "until", "user" or "reason".
	Field string
	// Value is what was given.
	Value string
	// Code says what is wrong, for translation: "date" (not a date or a
	// time), "range" (since not before until), "reason" (not a reason) or
	// "history" (a user or reason for the settings history).
	Code string
}

// Error says which field is wrong and what it wants.
func (e *FilterError) Error() string {
	switch e.Code {
	case "date":
		return fmt.Sprintf("%s %q: want a date such as 2026-01-31 or a time such as 2026-01-31T08:00:00Z", e.Field, e.Value)
	case "range":
		return fmt.Sprintf("since is not before until %s", e.Value)
	case "reason":
		return fmt.Sprintf("reason %q: want idle, absolute, forced, manual, replaced, limit or closed", e.Value)
	}
	return "the settings history is filtered by date only"
}

// parseTime reads a filter date: YYYY-MM-DD, the start of that day in
// loc, or (end) the start of the next day, so that Until includes its
// day; or an RFC 3339 time as it is.
func parseTime(field, v string, loc *time.Location, end bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &FilterError{Field: field, Value: v, Code: "date"}
	}
	return t, nil
}

// dates reads f's Since and Until, with their errors.
func (f Filter) dates(loc *time.Location) (since, until time.Time, errs []error) {
	var err error
	if since, err = parseTime("since", f.Since, loc, false); err != nil {
		errs = append(errs, err)
	}
	if until, err = parseTime("until", f.Until, loc, true); err != nil {
		errs = append(errs, err)
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		errs = append(errs, &FilterError{Field: "until", Value: f.Until, Code: "range"})
	}
	return since, until, errs
}

// EventQuery returns the query of f for [logout.Manager.QueryEvents],
// without a limit; names maps user IDs to backend user names (nil when
// none are known). The errors are [*FilterError]s, joined.
func (f Filter) EventQuery(names map[string]string, loc *time.Location) (logout.EventQuery, error) {
	var q logout.EventQuery
	var err error
	var errs []error
	q.Since, q.Until, errs = f.dates(loc)
	if u := strings.TrimSpace(f.User); u != "" {
		q.UserID = resolveUser(u, names, f.PanelUser)
	}
	if r := strings.TrimSpace(f.Reason); r != "" {
		if q.Reason, err = logout.ParseReason(r); err != nil {
			errs = append(errs, &FilterError{Field: "reason", Value: r, Code: "reason"})
		}
	}
	return q, errors.Join(errs...)
}

// HistoryQuery returns the query of f for
// [logout.Manager.SettingsHistory]: its dates only (the history has no
// user or reason to filter by; a user or reason given is an error).
func (f Filter) HistoryQuery(loc *time.Location) (logout.HistoryQuery, error) {
	var q logout.HistoryQuery
	var errs []error
	q.Since, q.Until, errs = f.dates(loc)
	if f.User != "" || f.Reason != "" {
		errs = append(errs, &FilterError{Field: "user", Code: "history"})
	}
	return q, errors.Join(errs...)
}

// A spreadsheet runs a cell that starts with =, +, - or @ (or the
// fullwidth ＝, ＋, －, ＠), a tab or a carriage return as a formula (CSV
// injection). The CSV exports put an apostrophe, which makes a cell text,
// before such a character (and any spaces and double quotes before it)
// wherever a spreadsheet may start a cell: at the start of each cell, and
// after each ";", tab, carriage return and line feed inside one, since a
// spreadsheet whose list separator is ";" (Polish and Czech Excel) splits
// our comma-separated lines at every ";", quoted or not, and a careless
// reader splits them at every line break. So "x;=1+1" is exported as
// "x;'=1+1". A cell is quoted when it holds ",", ";", a tab, a double
// quote, a carriage return or a line feed, or starts with a space or an
// apostrophe.

// csvFormula reports whether s, after any spaces and double quotes,
// starts with a character that makes a spreadsheet cell a formula.
func csvFormula(s string) bool {
	r, _ := utf8.DecodeRuneInString(strings.TrimLeft(s, ` "`))
	return strings.ContainsRune("=+-@\t\r＝＋－＠", r)
}

// csvSafe returns s with an apostrophe before each formula that a
// spreadsheet could find in it, as described above.
func csvSafe(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); i++ {
		// The bytes that start a cell are ASCII, never inside a
		// multi-byte rune.
		if (i == 0 || strings.IndexByte(";\t\r\n", s[i-1]) >= 0) && csvFormula(s[i:]) {
			b.WriteString(s[done:i])
			b.WriteByte('\'')
			done = i
		}
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// appendCSV appends cells to b as one CSV record, made safe by csvSafe
// and quoted as described above, with a "\n" at its end.
func appendCSV(b []byte, cells []string) []byte {
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		c = csvSafe(c)
		first, _ := utf8.DecodeRuneInString(c)
		if !strings.ContainsAny(c, ",;\t\"\r\n") && !unicode.IsSpace(first) && first != '\'' {
			b = append(b, c...)
			continue
		}
		b = append(b, '"')
		b = append(b, strings.ReplaceAll(c, `"`, `""`)...)
		b = append(b, '"')
	}
	return append(b, '\n')
}

// rowWriter writes export rows as CSV (with a header) or as one JSON
// array of objects, flushing after each page.
type rowWriter struct {
	w      io.Writer
	format string
	csv    *bufio.Writer // nil for JSON
	line   []byte        // a CSV record, reused
	n      int
}

func newRowWriter(w io.Writer, format string, header []string) (*rowWriter, error) {
	rw := &rowWriter{w: w, format: format}
	switch format {
	case FormatCSV:
		rw.csv = bufio.NewWriter(w)
		return rw, rw.writeCSV(header)
	case FormatJSON:
		_, err := io.WriteString(w, "[")
		return rw, err
	}
	return nil, fmt.Errorf("backend: export format %q: want csv or json", format)
}

// row writes one entry: cells for CSV, obj for JSON.
func (rw *rowWriter) row(cells []string, obj any) error {
	rw.n++
	if rw.csv != nil {
		return rw.writeCSV(cells)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	sep := ",\n"
	if rw.n == 1 {
		sep = "\n"
	}
	_, err = io.WriteString(rw.w, sep+string(b))
	return err
}

// writeCSV writes one CSV record.
func (rw *rowWriter) writeCSV(cells []string) error {
	rw.line = appendCSV(rw.line[:0], cells)
	_, err := rw.csv.Write(rw.line)
	return err
}

// flush writes what is buffered.
func (rw *rowWriter) flush() error {
	if rw.csv != nil {
		return rw.csv.Flush()
	}
	return nil
}

// close ends the export.
func (rw *rowWriter) close() error {
	if rw.csv != nil {
		return rw.flush()
	}
	_, err := io.WriteString(rw.w, "\n]\n")
	return err
}

// An exportedEvent is one sign-out in a JSON export.
type exportedEvent struct {
	At      string `json:"at"`
	UserID  string `json:"user_id"`
	User    string `json:"user,omitempty"`
	Reason  string `json:"reason"`
	Session string `json:"session"`
}

// ExportEvents writes the sign-out log entries that q selects (its Limit
// ignored), newest first, to w as CSV (at, user_id, user, reason,
// session) or JSON, reading them from m a page at a time. names maps
// user IDs to names for the user column (nil: left empty). Times are
// RFC 3339 in UTC; session is the start of the session's ID, as the
// sessions page shows it.
func ExportEvents(ctx context.Context, m *logout.Manager, w io.Writer, format string, q logout.EventQuery, names map[string]string) error {
	rw, err := newRowWriter(w, format, []string{"at", "user_id", "user", "reason", "session"})
	if err != nil {
		return err
	}
	// Pages end at the oldest At read; the next page starts at that At
	// again (Until is exclusive, so one microsecond later) and skips the
	// entries of that At already written, which come first again.
	skip := 0
	for {
		q.Limit = exportPage + skip
		evs, err := m.QueryEvents(ctx, q)
		if err != nil {
			return fmt.Errorf("backend: export events: %w", err)
		}
		for _, e := range evs[min(skip, len(evs)):] {
			at := e.At.UTC().Format(time.RFC3339Nano)
			if err := rw.row([]string{at, e.UserID, names[e.UserID], e.Reason.String(), logid.Short(e.SessionID)},
				exportedEvent{At: at, UserID: e.UserID, User: names[e.UserID], Reason: e.Reason.String(), Session: logid.Short(e.SessionID)}); err != nil {
				return fmt.Errorf("backend: export events: %w", err)
			}
		}
		if err := rw.flush(); err != nil {
			return fmt.Errorf("backend: export events: %w", err)
		}
		if len(evs) < q.Limit {
			break
		}
		last := evs[len(evs)-1].At
		skip = 0
		for _, e := range evs {
			if e.At.Equal(last) {
				skip++
			}
		}
		q.Until = last.Add(time.Microsecond)
	}
	return rw.close()
}

// An exportedChange is one save of the settings in a JSON export.
type exportedChange struct {
	At      string          `json:"at"`
	By      string          `json:"by"`
	Version int64           `json:"version"`
	Changes []exportedField `json:"changes"`
}

type exportedField struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// ExportSettings writes the saves of the settings that q selects (its
// Limit and Before ignored), newest first, to w: as CSV one row per
// changed field (at, by, version, field, old, new; a save that changed
// nothing has one row with an empty field), as JSON one object per save
// with its changes.
func ExportSettings(ctx context.Context, m *logout.Manager, w io.Writer, format string, q logout.HistoryQuery) error {
	rw, err := newRowWriter(w, format, []string{"at", "by", "version", "field", "old", "new"})
	if err != nil {
		return err
	}
	q.Before = 0
	for {
		q.Limit = exportPage
		cs, err := m.SettingsHistory(ctx, q)
		if err != nil {
			return fmt.Errorf("backend: export settings: %w", err)
		}
		for _, c := range cs {
			if err := writeChange(rw, c); err != nil {
				return fmt.Errorf("backend: export settings: %w", err)
			}
		}
		if err := rw.flush(); err != nil {
			return fmt.Errorf("backend: export settings: %w", err)
		}
		if len(cs) < q.Limit {
			break
		}
		q.Before = cs[len(cs)-1].New.Version
	}
	return rw.close()
}

// writeChange writes one save: a CSV row per field, or one JSON object.
func writeChange(rw *rowWriter, c logout.SettingsChange) error {
	at, version := c.At.UTC().Format(time.RFC3339Nano), strconv.FormatInt(c.New.Version, 10)
	fields := settingsform.Diff(c)
	if rw.csv == nil {
		obj := exportedChange{At: at, By: c.By, Version: c.New.Version, Changes: []exportedField{}}
		for _, f := range fields {
			obj.Changes = append(obj.Changes, exportedField(f))
		}
		return rw.row(nil, obj)
	}
	if len(fields) == 0 {
		return rw.row([]string{at, c.By, version, "", "", ""}, nil)
	}
	for _, f := range fields {
		if err := rw.row([]string{at, c.By, version, f.Field, f.Old, f.New}, nil); err != nil {
			return err
		}
	}
	return nil
}

// UserNames returns the names of the users in users.db in dataDir by
// user ID, for exports from the command line; an empty map when the
// database does not exist (nothing is created).
func UserNames(ctx context.Context, dataDir string) (map[string]string, error) {
	path := filepath.Join(dataDir, "users.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	u, err := openUsers(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	defer u.close()
	return u.names(ctx)
}
