package widget

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Labels are the widget's translatable strings. An empty field means its
// English default, given in its comment.
type Labels struct {
	// Lang is the language of the labels, a BCP 47 tag such as "cs" or
	// "pl-PL": the page's <html lang>. It chooses the plural rules for
	// the day word, by [PluralCategory]: one table for the first render
	// and the script, which is told the language whose rules the table
	// applied (Intl.PluralRules agrees with it for those, a test checks
	// it). A language the table does not know, and the empty tag, count
	// by the English rules in both.
	Lang string
	// TimeLeft is the counter's accessible name: "Time left".
	TimeLeft string
	// Day and Days follow the day count when the lifetime is a day or
	// more: "day" and "days" ("1 day 04:00:00", "2 days 00:00:00").
	Day, Days string
	// DaysFew, if set, follows counts of the plural category "few" of
	// Lang: Czech "2 dny" beside "5 dní". Empty means Days.
	DaysFew string
	// WarningTitle is the dialog's title: "Your session is about to end".
	WarningTitle string
	// Warning is the dialog's message; %s stands for the time left in the
	// counter's format ([FormatLeft]), as in "00:59": "You will be signed
	// out in %s".
	Warning string
	// Stay is the button that extends the session: "Stay signed in".
	Stay string
	// SignOut is the button that signs out at once: "Sign out now".
	SignOut string
	// Retrying tells that a request failed and is retried:
	// "Can't reach the server, retrying…".
	Retrying string
	// Expired replaces the counter once the session has ended, and is
	// the lock dialog's message when the server gives none:
	// "Session expired".
	Expired string
	// SignInTitle is the title of the dialog that locks the page when the
	// session ends, and the page's title meanwhile: "Sign in to continue".
	SignInTitle string
	// UserName and Password label the lock dialog's fields: "User name"
	// and "Password".
	UserName, Password string
	// SignIn is the lock dialog's submit button: "Sign in".
	SignIn string
	// OtherUser is the lock dialog's link to the sign-in page: "Sign in as
	// someone else".
	OtherUser string
	// Preview is the lock dialog's message in a preview
	// (window.logoutPreview): "Preview: your session has not ended.".
	Preview string
	// EndPreview is the button that ends a preview: "End preview".
	EndPreview string
	// Sessions is the link to [Config.SessionsURL]: "Your sessions".
	Sessions string
}

// withDefaults returns l with every empty field set to its English default.
func (l Labels) withDefaults() Labels {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&l.TimeLeft, "Time left")
	def(&l.Day, "day")
	def(&l.Days, "days")
	def(&l.WarningTitle, "Your session is about to end")
	def(&l.Warning, "You will be signed out in %s")
	def(&l.Stay, "Stay signed in")
	def(&l.SignOut, "Sign out now")
	def(&l.Retrying, "Can't reach the server, retrying…")
	def(&l.Expired, "Session expired")
	def(&l.SignInTitle, "Sign in to continue")
	def(&l.UserName, "User name")
	def(&l.Password, "Password")
	def(&l.SignIn, "Sign in")
	def(&l.OtherUser, "Sign in as someone else")
	def(&l.Preview, "Preview: your session has not ended.")
	def(&l.EndPreview, "End preview")
	def(&l.Sessions, "Your sessions")
	return l
}

// Config is what one page's widget needs: the session's deadline, the
// settings, the endpoints and the labels. Build one per response; a Config
// holds no state and its methods are safe for concurrent use.
type Config struct {
	// AssetsPrefix is the URL path where [Handler] is mounted, such as
	// "/backend/assets/logout/". Empty means "/".
	AssetsPrefix string
	// Deadline is when the session ends, as the server sees it.
	Deadline time.Time
	// ServerTime is the server's time now; the widget compares it with the
	// browser's clock to correct for skew. The zero value means time.Now()
	// at rendering.
	ServerTime time.Time
	// Lifetime is the configured idle lifetime. It chooses the counter's
	// format: MM:SS under an hour, HH:MM:SS under a day, "D days HH:MM:SS"
	// from a day (see [FormatLeft]).
	Lifetime time.Duration
	// WarningLead is how long before the deadline the warning dialog
	// opens; 0 means no warning.
	WarningLead time.Duration
	// ShowCounter shows the counter. When false the counter is hidden, but
	// the warning and the sign-out still happen.
	ShowCounter bool
	// StatusURL answers the passive status request (GET, header
	// X-Logout-Passive: 1).
	StatusURL string
	// KeepAliveURL extends the session (POST with X-CSRF-Token).
	KeepAliveURL string
	// SignOutURL signs out (POST with X-CSRF-Token, Accept: application/json).
	SignOutURL string
	// SignInURL is the sign-in page. The lock dialog signs in there in
	// place, by the sign-in contract (see the package documentation), and
	// links to it to sign in as someone else; the widget goes there when
	// the server names no other page. The widget only navigates to
	// same-origin URLs. Empty means "/".
	SignInURL string
	// SignInFrame has the lock dialog sign in through the sign-in page
	// itself, shown in a same-origin frame, instead of the sign-in
	// contract: for logout-proxy, where the sign-in page is a panel's.
	// When a page of the frame finds the session signed in again, the
	// same user resumes the page and another user starts it afresh.
	SignInFrame bool
	// EventsURL is the push stream ([logout.Paths].Events): one tab of the
	// browser listens to it and tells the others. Empty means no push:
	// the tabs ask StatusURL at the deadline.
	EventsURL string
	// CSRFToken is sent as X-CSRF-Token with the keep-alive and sign-out
	// requests.
	CSRFToken string
	// User is the session's user ID. After a sign-in in the lock dialog,
	// the same user resumes the page and another user goes to their start
	// page.
	User string
	// UserName is the user's name, which the widget shows wherever it
	// names the user: the lock dialog's user name field is filled with
	// it, so it is the name the user signs in with. [New] takes it from
	// the session ([logout.User.Name] at sign-in). Empty means User.
	UserName string
	// SessionsURL, when set, is the page where users see and end their
	// own sessions (the reference backend's /backend/account/sessions):
	// the element links to it beside the counter, in the page's account
	// menu, labelled Labels.Sessions. Empty means no link.
	SessionsURL string
	// Labels are the translatable strings; empty ones are English.
	Labels Labels
}

var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("element").Parse(elementHTML + `{{define "script"}}` + scriptHTML + `{{end}}`))
})

// elementHTML is the counter, which carries the configuration, and the
// dialog, which the script moves to the end of <body>.
const elementHTML = `<span class="logout-counter" role="timer" aria-live="off" aria-label="{{.L.TimeLeft}}"` +
	` data-deadline="{{.Deadline}}" data-server-time="{{.ServerTime}}" data-lifetime="{{.Lifetime}}" data-warning-lead="{{.Lead}}"` +
	` data-status-url="{{.C.StatusURL}}" data-keep-alive-url="{{.C.KeepAliveURL}}" data-sign-out-url="{{.C.SignOutURL}}" data-sign-in-url="{{.C.SignInURL}}"` +
	`{{with .C.EventsURL}} data-events="{{.}}"{{end}}{{if .C.SignInFrame}} data-sign-in-frame{{end}} data-csrf-token="{{.C.CSRFToken}}" data-user="{{.C.User}}" data-user-name="{{.C.UserName}}"` +
	` data-preview="{{.L.Preview}}" data-lang="{{.Plural}}" data-day="{{.L.Day}}" data-days="{{.L.Days}}" data-days-few="{{.L.DaysFew}}" data-warning="{{.L.Warning}}"` +
	` data-retrying="{{.L.Retrying}}" data-expired="{{.L.Expired}}"{{if not .C.ShowCounter}} hidden{{end}}>{{.Text}}</span>` +
	`{{with .C.SessionsURL}}<a class="logout-sessions" href="{{.}}">{{$.L.Sessions}}</a>{{end}}` +
	`<dialog class="logout-dialog" role="alertdialog" aria-labelledby="logout-title" aria-describedby="logout-msg">` +
	`<h2 id="logout-title">{{.L.WarningTitle}}</h2>` +
	`<p class="logout-msg" id="logout-msg"></p>` +
	`<p class="logout-note"></p>` +
	`<p class="logout-live" aria-live="assertive" aria-atomic="true"></p>` +
	`<div class="logout-actions">` +
	`<button type="button" class="logout-stay">{{.L.Stay}}</button>` +
	`<button type="button" class="logout-out" data-logout-sign-out>{{.L.SignOut}}</button>` +
	`</div></dialog>` +
	`<dialog class="logout-lock" role="alertdialog" aria-modal="true" aria-labelledby="logout-lock-title" aria-describedby="logout-why">` +
	`<form class="logout-form" method="post" action="{{.C.SignInURL}}">` +
	`<h2 class="logout-title" id="logout-lock-title">{{.L.SignInTitle}}</h2>` +
	`<p class="logout-why" id="logout-why" aria-live="assertive" aria-atomic="true"></p>` +
	`<label>{{.L.UserName}}<input name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required></label>` +
	`<label>{{.L.Password}}<input name="password" type="password" autocomplete="current-password" required></label>` +
	`<p class="logout-err" role="alert"></p>` +
	`<div class="logout-actions">` +
	`<button type="button" class="logout-end">{{.L.EndPreview}}</button>` +
	`<button class="logout-stay">{{.L.SignIn}}</button>` +
	`</div><p><a href="{{.C.SignInURL}}">{{.L.OtherUser}}</a></p></form></dialog>`

const scriptHTML = `<link rel="stylesheet" href="{{.CSS.URL}}" integrity="{{.CSS.Integrity}}">` +
	`<script src="{{.JS.URL}}" integrity="{{.JS.Integrity}}" defer></script>`

// Element renders the counter, to place next to the avatar, and the
// warning dialog, and the link to Config.SessionsURL when set. Render it
// only for a signed-in session. The counter is a role="timer" span with aria-live="off"
// and the configuration in data- attributes; its text is the time left at
// rendering, so the page shows it before the script runs. Every value is
// escaped by html/template, and URLs with unsafe schemes are replaced.
//
// The static parts (labels, URLs, settings) are rendered by html/template
// once per combination and kept; each call then escapes only the
// per-request values (the counter's text and the CSRF token) with
// html/template's own HTML escaping, so the output is byte for byte what
// the template gives.
func (c Config) Element() template.HTML {
	now := c.ServerTime
	if now.IsZero() {
		now = time.Now()
	}
	deadline, server := c.Deadline.UnixMilli(), now.UnixMilli()
	text := FormatLeft(c.Deadline.Sub(now), c.Lifetime, c.Labels)
	if parts := elementParts(c); parts != nil {
		values := [...]string{c.CSRFToken, c.User, c.UserName, text}
		n := 2 * 20
		for _, p := range parts {
			n += len(p)
		}
		for _, v := range values {
			n += len(v) + 8
		}
		var b strings.Builder
		var num [20]byte
		b.Grow(n)
		b.WriteString(parts[0])
		b.Write(strconv.AppendInt(num[:0], deadline, 10))
		b.WriteString(parts[1])
		b.Write(strconv.AppendInt(num[:0], server, 10))
		for i, v := range values {
			b.WriteString(parts[2+i])
			htmlEscaper.WriteString(&b, v)
		}
		b.WriteString(parts[6])
		return template.HTML(b.String())
	}
	return c.renderElement(strconv.FormatInt(deadline, 10), strconv.FormatInt(server, 10), c.CSRFToken, c.User, c.UserName, text)
}

// renderElement executes the element template with the per-request values
// given as strings.
func (c Config) renderElement(deadline, server, csrf, user, userName, text string) template.HTML {
	c.CSRFToken, c.User, c.UserName = csrf, user, userName
	return render("element", struct {
		C                    Config
		L                    Labels
		Deadline, ServerTime string
		Lifetime, Lead       int64
		Text                 string
		Plural               string // the language of PluralCategory's rules
	}{
		C:          c,
		L:          c.Labels.withDefaults(),
		Plural:     pluralLang(c.Labels.Lang),
		Deadline:   deadline,
		ServerTime: server,
		Lifetime:   int64(c.Lifetime / time.Second),
		Lead:       int64(c.WarningLead / time.Second),
		Text:       text,
	})
}

// htmlEscaper escapes as html/template does in HTML text and in quoted
// attribute values (its htmlEscaper and attrEscaper), for the values that
// [Config.Element] fills into the cached parts.
var htmlEscaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)

// elementKey is what the static parts of an element depend on: all of
// Config but the per-request values.
type elementKey struct {
	statusURL, keepAliveURL, signOutURL, signInURL, eventsURL, sessionsURL string
	frame                                                                  bool
	lifetime, lead                                                         time.Duration
	show                                                                   bool
	labels                                                                 Labels
}

// elementCacheMax bounds the cache of element parts; past it, elements
// are still rendered, by the template, just not kept.
const elementCacheMax = 256

var (
	elementCache  sync.Map // elementKey -> []string, or nil when unsplittable
	elementCached atomic.Int64
)

// elementSentinel marks where a per-request value goes. It passes
// html/template's escaping unchanged in text and attribute values.
const elementSentinel = "\x01logout\x01"

// elementParts returns the seven static parts of c's element, between the
// deadline, the server time, the CSRF token, the user, the user name and
// the counter's text, or nil when they cannot be split (a label or URL
// holds the sentinel).
func elementParts(c Config) []string {
	k := elementKey{c.StatusURL, c.KeepAliveURL, c.SignOutURL, c.SignInURL, c.EventsURL, c.SessionsURL, c.SignInFrame, c.Lifetime, c.WarningLead, c.ShowCounter, c.Labels}
	if v, ok := elementCache.Load(k); ok {
		return v.([]string)
	}
	x := elementSentinel
	parts := strings.Split(string(c.renderElement(x, x, x, x, x, x)), x)
	if len(parts) != 7 {
		parts = nil
	}
	if elementCached.Add(1) <= elementCacheMax {
		elementCache.Store(k, parts)
	}
	return parts
}

// Script renders the tags that load the widget, for the page's <head>: a
// stylesheet link and a deferred external script, both under
// [Config.AssetsPrefix] with Subresource Integrity. There is no inline
// script, so a Content-Security-Policy of script-src 'self' works.
func (c Config) Script() template.HTML {
	set := assets()
	prefix := strings.TrimSuffix(c.AssetsPrefix, "/") + "/"
	type link struct{ URL, Integrity string }
	return render("script", struct{ JS, CSS link }{
		JS:  link{prefix + set.js.name, set.js.integrity},
		CSS: link{prefix + set.css.name, set.css.integrity},
	})
}

// render executes a template over values that html/template always
// escapes. It fails only if the templates themselves are broken, which the
// tests rule out; it then renders nothing rather than half an element.
func render(name string, data any) template.HTML {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, name, data); err != nil {
		return ""
	}
	return template.HTML(b.String())
}

// FormatLeft formats the time left as the counter shows it. The format
// follows the lifetime, not the time left, so that it holds while the
// counter runs: MM:SS under an hour ("15:00"), HH:MM:SS under a day
// ("01:00:00"), and from a day "D days HH:MM:SS" ("1 day 04:00:00"), the
// day word being l.Day, l.DaysFew or l.Days by the [PluralCategory] of D
// in l.Lang. The time left is rounded up to the second, and the past
// shows as zero. Empty labels are English.
//
// [Config.Element] renders the counter with it, and the widget's script
// formats each tick alike, so that the page shows the same text before
// and after the script runs; use it wherever a page repeats the counter.
// The cases that both must pass are in testdata/format.json.
func FormatLeft(left, lifetime time.Duration, l Labels) string {
	t := int64(max(left, 0) / time.Second)
	if left > 0 && left%time.Second != 0 {
		t++
	}
	m, h := t/60, t/3600
	switch {
	case lifetime < time.Hour:
		return fmt.Sprintf("%02d:%02d", m, t%60)
	case lifetime < 24*time.Hour:
		return fmt.Sprintf("%02d:%02d:%02d", h, m%60, t%60)
	}
	l = l.withDefaults()
	d, word := h/24, l.Days
	switch PluralCategory(l.Lang, d) {
	case "one":
		word = l.Day
	case "few":
		word = cmp.Or(l.DaysFew, l.Days)
	}
	return fmt.Sprintf("%d %s %02d:%02d:%02d", d, word, h%24, m%60, t%60)
}

// PluralCategory returns the CLDR cardinal plural category of the integer
// n in the language lang, a BCP 47 tag of which only the language counts
// ("cs-CZ" is Czech): "one", "few", "many" or "other", as the browser's
// Intl.PluralRules selects for an integer. It is the one plural table of
// the project: the backend's catalogues and the widget (first render and
// script) all count by it. It knows the languages that Logout ships:
// English (one, other), Polish (one, few, many) and Czech (one, few,
// other); any other language, and the empty tag, get the English rules,
// in the script too. A negative n counts as its absolute value.
func PluralCategory(lang string, n int64) string {
	i := uint64(n)
	if n < 0 {
		i = -i
	}
	base := pluralLang(lang)
	switch {
	case i == 1:
		return "one"
	case base == "pl" && i%10 >= 2 && i%10 <= 4 && (i%100 < 12 || i%100 > 14):
		return "few"
	case base == "pl":
		return "many"
	case base == "cs" && i >= 2 && i <= 4:
		return "few"
	}
	return "other"
}

// pluralLang returns the language whose rules [PluralCategory] applies to
// lang: "pl", "cs", or "en" for every other tag.
func pluralLang(lang string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	switch base {
	case "pl", "cs":
		return base
	}
	return "en"
}
