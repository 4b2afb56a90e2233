package backend

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// csvHostile are user names that a spreadsheet could run as formulas,
// with the cell that the CSV export must hold for each (what encoding/csv
// reads back) and how the cell must stand in the file.
var csvHostile = []struct {
	name, user, cell, raw string
}{
	{"plain", "editor", "editor", "editor"},
	{"= inside", "a=b", "a=b", "a=b"},
	{"formula", `=HYPERLINK("http://x")`, `'=HYPERLINK("http://x")`, `"'=HYPERLINK(""http://x"")"`},
	{"plus", "+SUM(A1)", "'+SUM(A1)", `"'+SUM(A1)"`},
	{"minus", "-1", "'-1", `"'-1"`},
	{"at", "@x", "'@x", `"'@x"`},
	{"tab", "\t=1", "'\t'=1", "\"'\t'=1\""},
	{"carriage return", "\r=1", "'\r'=1", "\"'\r'=1\""},
	{"fullwidth equals", "＝1+1", "'＝1+1", `"'＝1+1"`},
	{"fullwidth at", "＠x", "'＠x", `"'＠x"`},
	{"semicolon, then a formula", "x;=1+1", "x;'=1+1", `"x;'=1+1"`},
	{"semicolon and a space", "x; -1", "x;' -1", `"x;' -1"`},
	{"semicolon and quotes", `x;"=1+1"`, `x;'"=1+1"`, `"x;'""=1+1"""`},
	{"semicolons", "x;;@y;+z", "x;;'@y;'+z", `"x;;'@y;'+z"`},
	{"semicolon alone", "a;b", "a;b", `"a;b"`},
	{"comma", "a,b", "a,b", `"a,b"`},
	{"comma, then a formula", "a,=1", "a,=1", `"a,=1"`},
	{"line feed, then a formula", "x\n=1", "x\n'=1", "\"x\n'=1\""},
	{"tab inside", "x\t-1", "x\t'-1", "\"x\t'-1\""},
	{"a quote", `say "hi"`, `say "hi"`, `"say ""hi"""`},
	{"leading space", " =1", "' =1", `"' =1"`},
	{"leading quote", `"=1`, `'"=1`, `"'""=1"`},
	{"apostrophe", "'x", "'x", `"'x"`},
	{"not ASCII", "Zoë Łukasz", "Zoë Łukasz", "Zoë Łukasz"},
}

// TestExportCSVHostileNames exports a sign-out of a user by each hostile
// name: read back by encoding/csv each user cell is defused, and it
// stands quoted in the file where it must be.
func TestExportCSVHostileNames(t *testing.T) {
	store := logout.NewMemoryStore()
	names := map[string]string{}
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for i, tt := range csvHostile {
		id, at := fmt.Sprintf("u%02d", i), start.Add(time.Duration(i)*time.Hour)
		names[id] = tt.user
		s := logout.Session{ID: fmt.Sprintf("session-%04d", i), UserID: id, Created: at.Add(-time.Hour), LastSeen: at, Deadline: at}
		if err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		if _, err := store.EndSessions(t.Context(), logout.Selector{IDs: []string{s.ID}}, logout.ReasonIdle, at); err != nil {
			t.Fatal(err)
		}
	}
	m, err := logout.New(store, logout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ExportEvents(t.Context(), m, &out, FormatCSV, logout.EventQuery{}, names); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, out.String())
	}
	if len(rows) != len(csvHostile)+1 {
		t.Fatalf("rows: got %d, want %d", len(rows), len(csvHostile)+1)
	}
	cells := map[string]string{} // by user ID
	for _, row := range rows[1:] {
		cells[row[1]] = row[2]
	}
	for i, tt := range csvHostile {
		t.Run(tt.name, func(t *testing.T) {
			if got := cells[fmt.Sprintf("u%02d", i)]; got != tt.cell {
				t.Errorf("cell read back: got %q, want %q", got, tt.cell)
			}
			if !bytes.Contains(out.Bytes(), []byte(","+tt.raw+",idle,")) {
				t.Errorf("cell %q: the file lacks %q", tt.user, ","+tt.raw+",idle,")
			}
		})
	}
}

// csvPieces splits a CSV export as a spreadsheet might that takes ";"
// or a tab for its list separator and ignores quotes: at every ";", tab,
// carriage return and line feed.
func csvPieces(b []byte) []string {
	return strings.FieldsFunc(string(b), func(r rune) bool { return strings.ContainsRune(";\t\r\n", r) })
}

// FuzzCSVExport writes a record of three cells: encoding/csv reads back
// exactly those cells, made safe, and neither they nor any piece of the
// record split at ";" (as Polish and Czech Excel read it) starts as a
// formula, after any spaces and double quotes.
func FuzzCSVExport(f *testing.F) {
	for _, tt := range csvHostile {
		f.Add(tt.user, "x;"+tt.user, tt.user+";"+tt.user)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		cells := []string{a, b, c}
		line := appendCSV(nil, cells)
		r := csv.NewReader(bytes.NewReader(line))
		r.FieldsPerRecord = len(cells)
		got, err := r.ReadAll()
		if err != nil || len(got) != 1 {
			t.Fatalf("encoding/csv reads %q: %q, %v; want one record", line, got, err)
		}
		for i, cell := range got[0] {
			safe := csvSafe(cells[i])
			if strings.ReplaceAll(safe, "'", "") != strings.ReplaceAll(cells[i], "'", "") {
				t.Errorf("csvSafe(%q) = %q: more changed than apostrophes added", cells[i], safe)
			}
			// encoding/csv reads a quoted "\r\n" as "\n".
			if want := strings.ReplaceAll(safe, "\r\n", "\n"); cell != want {
				t.Errorf("cell %d: read back %q, want %q", i, cell, want)
			}
			if csvFormula(cell) {
				t.Errorf("cell %d: read back %q, a formula", i, cell)
			}
		}
		for _, p := range csvPieces(line) {
			if csvFormula(p) {
				t.Errorf("%q split at ; holds the formula %q", line, p)
			}
		}
	})
}
