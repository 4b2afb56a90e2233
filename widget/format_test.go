package widget_test

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout/widget"
)

// A formatCase is a row of testdata/format.json, the cases of the
// counter's format that both [widget.FormatLeft] (here) and the script's
// format function (TestBrowserFormat) must pass.
type formatCase struct {
	Name      string `json:"name"`
	LeftMS    int64  `json:"left_ms"`
	LifetimeS int64  `json:"lifetime_s"`
	Lang      string `json:"lang"`
	Labels    struct {
		Day     string `json:"day"`
		Days    string `json:"days"`
		DaysFew string `json:"daysFew"`
	} `json:"labels"`
	Want string `json:"want"`
}

func (c formatCase) left() time.Duration     { return time.Duration(c.LeftMS) * time.Millisecond }
func (c formatCase) lifetime() time.Duration { return time.Duration(c.LifetimeS) * time.Second }
func (c formatCase) labels() widget.Labels {
	return widget.Labels{Lang: c.Lang, Day: c.Labels.Day, Days: c.Labels.Days, DaysFew: c.Labels.DaysFew}
}

func formatCases(t *testing.T) []formatCase {
	t.Helper()
	b, err := os.ReadFile("testdata/format.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []formatCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("testdata/format.json: %v", err)
	}
	return cases
}

// TestFormatLeft runs the shared cases through FormatLeft and through the
// counter that Config.Element renders.
func TestFormatLeft(t *testing.T) {
	for _, tc := range formatCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			if got := widget.FormatLeft(tc.left(), tc.lifetime(), tc.labels()); got != tc.Want {
				t.Errorf("FormatLeft(%v, %v, %q): got %q, want %q", tc.left(), tc.lifetime(), tc.Lang, got, tc.Want)
			}
			c := baseConfig()
			c.Deadline, c.Lifetime, c.Labels = t0.Add(tc.left()), tc.lifetime(), tc.labels()
			if got := html.UnescapeString(counterText(t, string(c.Element()))); got != tc.Want {
				t.Errorf("Element's counter: got %q, want %q", got, tc.Want)
			}
		})
	}
}

func TestFormatLeftEdges(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, tc := range []struct {
		name           string
		left, lifetime time.Duration
		labels         widget.Labels
		want           string
	}{
		{"a nanosecond rounds up", time.Nanosecond, time.Minute, widget.Labels{}, "00:01"},
		{"the longest duration does not overflow", math.MaxInt64, year, widget.Labels{}, "106751 days 23:47:17"},
		{"the shortest duration is zero", math.MinInt64, year, widget.Labels{}, "0 days 00:00:00"},
		{"empty labels are English", 24 * time.Hour, year, widget.Labels{Lang: "cs"}, "1 day 00:00:00"},
		{"no few word: days", 3 * 24 * time.Hour, year, widget.Labels{Lang: "cs", Day: "den", Days: "dní"}, "3 dní 00:00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := widget.FormatLeft(tc.left, tc.lifetime, tc.labels); got != tc.want {
				t.Errorf("FormatLeft(%v, %v, %+v): got %q, want %q", tc.left, tc.lifetime, tc.labels, got, tc.want)
			}
		})
	}
}

// TestPluralCategory checks the rules by CLDR; TestBrowserPluralCategory
// compares them with the browser's Intl.PluralRules.
func TestPluralCategory(t *testing.T) {
	for _, tc := range []struct {
		name string
		lang string
		n    int64
		want string
	}{
		{"en 0", "en", 0, "other"},
		{"en 1", "en", 1, "one"},
		{"en 2", "en", 2, "other"},
		{"en 21", "en", 21, "other"},
		{"pl 0", "pl", 0, "many"},
		{"pl 1", "pl", 1, "one"},
		{"pl 2", "pl", 2, "few"},
		{"pl 4", "pl", 4, "few"},
		{"pl 5", "pl", 5, "many"},
		{"pl 11", "pl", 11, "many"},
		{"pl 12", "pl", 12, "many"},
		{"pl 14", "pl", 14, "many"},
		{"pl 21", "pl", 21, "many"},
		{"pl 22", "pl", 22, "few"},
		{"pl 101", "pl", 101, "many"},
		{"pl 104", "pl", 104, "few"},
		{"pl 112", "pl", 112, "many"},
		{"cs 0", "cs", 0, "other"},
		{"cs 1", "cs", 1, "one"},
		{"cs 3", "cs", 3, "few"},
		{"cs 5", "cs", 5, "other"},
		{"cs 21", "cs", 21, "other"},
		{"cs 22", "cs", 22, "other"},
		{"region ignored", "cs-CZ", 3, "few"},
		{"case ignored", "PL", 22, "few"},
		{"negative counts as positive", "pl", -22, "few"},
		{"negative one", "en", -1, "one"},
		{"the most negative", "pl", math.MinInt64, "many"},
		{"the largest", "pl", math.MaxInt64, "many"},
		{"other languages are English", "fr", 0, "other"},
		{"no language is English", "", 3, "other"},
		{"a malformed tag is English", "cs_CZ", 3, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := widget.PluralCategory(tc.lang, tc.n); got != tc.want {
				t.Errorf("PluralCategory(%q, %d): got %q, want %q", tc.lang, tc.n, got, tc.want)
			}
		})
	}
}

// TestElementLang: the element tells the script the language whose
// rules PluralCategory applied, so that the two never disagree.
func TestElementLang(t *testing.T) {
	for _, tt := range []struct{ lang, want string }{
		{"cs", "cs"}, {"cs-CZ", "cs"}, {"PL", "pl"}, {"en-GB", "en"},
		{"fr", "en"}, {"", "en"}, {"cs_CZ", "en"},
	} {
		c := baseConfig()
		c.Labels.Lang = tt.lang
		if got := string(c.Element()); !strings.Contains(got, ` data-lang="`+tt.want+`"`) {
			t.Errorf("Labels.Lang %q: got %s, want data-lang=%q for the script's plural rules", tt.lang, got, tt.want)
		}
	}
}
