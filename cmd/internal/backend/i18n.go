package backend

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gologout/logout/widget"
)

//go:embed locales/*.json
var localeFiles embed.FS

// languages returns the supported languages, the default first.
func languages() []string { return []string{"en", "pl", "cs"} }

// langCookie is the cookie that the language switcher sets.
const langCookie = "lang"

// catalogs holds the message catalogue of every language.
type catalogs struct {
	msgs map[string]map[string]string
}

func loadCatalogs() (*catalogs, error) {
	c := &catalogs{msgs: make(map[string]map[string]string)}
	for _, lang := range languages() {
		b, err := localeFiles.ReadFile("locales/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("backend: catalogue %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("backend: catalogue %s: %w", lang, err)
		}
		c.msgs[lang] = m
	}
	return c, nil
}

// A translator renders the messages of one language.
type translator struct {
	Lang string
	msgs map[string]string
}

func (c *catalogs) lang(lang string) translator {
	return translator{Lang: lang, msgs: c.msgs[lang]}
}

// T returns the message key, formatted with args (fmt verbs). A missing
// key shows as [[key]] so that tests find it.
func (t translator) T(key string, args ...any) string {
	s, ok := t.msgs[key]
	if !ok {
		return "[[" + key + "]]"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// N returns the plural form of key for the count n (key.one, key.few or
// key.many, by the language's rules), formatted with n and then args.
func (t translator) N(key string, n int, args ...any) string {
	return t.T(key+"."+pluralForm(t.Lang, int64(n)), append([]any{n}, args...)...)
}

// pluralForm returns the catalogue suffix for the count n in lang: its
// CLDR plural category by [widget.PluralCategory], the rules of the
// counter's day word too, except that the catalogues name CLDR's "other"
// "many", which is the form of 5 in each of their languages.
func pluralForm(lang string, n int64) string {
	if c := widget.PluralCategory(lang, n); c != "other" {
		return c
	}
	return "many"
}

// pickLang chooses the request's language: the lang cookie if it names a
// supported language, else the best match of Accept-Language, else English.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(languages(), c.Value) {
		return c.Value
	}
	best, bestQ := "en", 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > bestQ && slices.Contains(languages(), base) {
			best, bestQ = base, q
		}
	}
	return best
}

// Num writes the whole number n as the language groups its digits:
// 1,234 in English, 1 234 in Czech, and in Polish from 10 000 only.
func (t translator) Num(n int) string {
	s := strconv.Itoa(n)
	sep, from := ",", 4
	switch t.Lang {
	case "cs":
		sep = "\u00a0"
	case "pl":
		sep, from = "\u00a0", 5
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) >= from {
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteString(sep)
			}
			b.WriteRune(c)
		}
		s = b.String()
	}
	if neg {
		s = "-" + s
	}
	return s
}
