package widget_test

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/widget"
)

// formatTable is the table of the counter's format that TestFormatLeft
// (in widget/) runs through FormatLeft and TestBrowserFormat through the
// script; this test is in the browsertest module, so that chromedp stays
// out of the logout module, and reads the table from widget/testdata.
const formatTable = "../../../../widget/testdata/format.json"

// formatPage serves the widget's assets and a page that loads them, under
// a CSP without inline script, with the counter of cfg when it is not nil.
func formatPage(t *testing.T, lang string, cfg *widget.Config) *httptest.Server {
	t.Helper()
	page := template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>Format</title>{{.Script}}</head>
<body>{{with .Config}}{{.Element}}{{end}}</body></html>
`))
	mux := http.NewServeMux()
	mux.Handle("/assets/logout/", http.StripPrefix("/assets/logout", widget.Handler()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		data := map[string]any{"Lang": lang, "Script": widget.Config{AssetsPrefix: "/assets/logout/"}.Script(), "Config": cfg}
		if err := page.Execute(w, data); err != nil {
			t.Errorf("page: %v", err)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// scriptFormat is the script's format function, which the script puts on
// its own element for these tests.
const scriptFormat = `document.querySelector('script[src^="/assets/logout/logout-"]').format`

func TestBrowserFormat(t *testing.T) {
	b := browsertest.NewBrowser(t)

	t.Run("the shared cases", func(t *testing.T) {
		raw, err := os.ReadFile(formatTable)
		if err != nil {
			t.Fatal(err)
		}
		var cases []struct{ Name, Want string }
		if err := json.Unmarshal(raw, &cases); err != nil {
			t.Fatalf("%s: %v", formatTable, err)
		}
		tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.Do(chromedp.Navigate(formatPage(t, "en", nil).URL))
		tb.Wait(5*time.Second, "the script's format", scriptFormat)
		got := browsertest.Eval[[]string](tb, fmt.Sprintf(
			`(%s).map(c => %s(c.left_ms, c.lifetime_s, c.labels, c.lang))`, raw, scriptFormat))
		if len(got) != len(cases) {
			t.Fatalf("results: got %d, want one per case, %d", len(got), len(cases))
		}
		for i, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) {
				if got[i] != tc.Want {
					t.Errorf("script: got %q, want %q", got[i], tc.Want)
				}
			})
		}
	})

	t.Run("PluralCategory is Intl.PluralRules", func(t *testing.T) {
		var ns []int64
		for n := range int64(300) {
			ns = append(ns, n)
		}
		ns = append(ns, 1001, 1002, 1012, 1022, 1_000_000, 1_000_002, 1<<40+2)
		langs := []string{"en", "pl", "cs", "en-GB", "pl-PL", "cs-CZ", "CS"}
		tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
		tb.Do(chromedp.Navigate("about:blank"))
		nsJSON, _ := json.Marshal(ns)
		langsJSON, _ := json.Marshal(langs)
		intl := browsertest.Eval[map[string][]string](tb, fmt.Sprintf(
			`Object.fromEntries(%s.map(l => [l, %s.map(n => new Intl.PluralRules(l).select(n))]))`, langsJSON, nsJSON))
		for _, lang := range langs {
			t.Run(lang, func(t *testing.T) {
				if len(intl[lang]) != len(ns) {
					t.Fatalf("Intl.PluralRules(%q): got %d categories, want %d", lang, len(intl[lang]), len(ns))
				}
				for i, n := range ns {
					if got, want := widget.PluralCategory(lang, n), intl[lang][i]; got != want {
						t.Errorf("PluralCategory(%q, %d): got %q, want Intl's %q", lang, n, got, want)
					}
				}
			})
		}
	})

	// The first render and the script agree on the day word: by the
	// labels' Lang, not <html lang>; a language the plural table does not
	// know (French counts 0 as "one" in Intl.PluralRules, English does
	// not) counts by English rules in both.
	for _, tt := range []struct {
		name, page string
		left       time.Duration
		labels     widget.Labels
		first      string
	}{
		{"Labels.Lang on an English page", "en", 3*24*time.Hour + 30*time.Second,
			widget.Labels{Lang: "cs", Day: "den", Days: "dní", DaysFew: "dny"}, "3 dny 00:00:30"},
		{"a language the table does not know counts as English", "fr", 23*time.Hour + 30*time.Second,
			widget.Labels{Lang: "fr", Day: "jour", Days: "jours"}, "0 jours 23:00:30"},
	} {
		t.Run("first render and script agree: "+tt.name, func(t *testing.T) {
			now := time.Now()
			cfg := &widget.Config{
				AssetsPrefix: "/assets/logout/", Deadline: now.Add(tt.left), ServerTime: now,
				Lifetime: 7 * 24 * time.Hour, ShowCounter: true, Labels: tt.labels,
			}
			first := widget.FormatLeft(cfg.Deadline.Sub(now), cfg.Lifetime, cfg.Labels)
			if first != tt.first {
				t.Errorf("first render: got %q, want %q", first, tt.first)
			}
			tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
			tb.Do(chromedp.Navigate(formatPage(t, tt.page, cfg).URL))
			const counter = `document.querySelector('.logout-counter').textContent`
			tb.Wait(5*time.Second, "the script to rewrite "+first, counter+` !== `+jsString(first))
			want := regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(tt.first, "30")) + `[0-2]\d$`)
			if got := tb.Text(".logout-counter"); !want.MatchString(got) {
				t.Errorf("counter after the script ran: got %q, want %s as first rendered", got, want)
			}
		})
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSpace(string(b))
}
