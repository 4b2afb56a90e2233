package widget_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout/widget"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func baseConfig() widget.Config {
	return widget.Config{
		AssetsPrefix: "/backend/assets/logout/",
		Deadline:     t0.Add(15 * time.Minute),
		ServerTime:   t0,
		Lifetime:     15 * time.Minute,
		WarningLead:  time.Minute,
		ShowCounter:  true,
		StatusURL:    "/backend/session/status",
		KeepAliveURL: "/backend/session/keepalive",
		SignOutURL:   "/backend/session/signout",
		SignInURL:    "/backend/auth/signin",
		CSRFToken:    "tok",
	}
}

// counterText returns the text of the rendered counter.
func counterText(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(`<span class="logout-counter"[^>]*>([^<]*)</span>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no counter in %s", html)
	}
	return m[1]
}

func TestElementFormat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		left     time.Duration
		labels   widget.Labels
		want     string
	}{
		{"under an hour: MM:SS", 59 * time.Second, 59 * time.Second, widget.Labels{}, "00:59"},
		{"an hour: HH:MM:SS", time.Hour, time.Hour, widget.Labels{}, "01:00:00"},
		{"format by lifetime, not time left", time.Hour, 30 * time.Second, widget.Labels{}, "00:00:30"},
		{"a day or more: D days", 48 * time.Hour, 48 * time.Hour, widget.Labels{}, "2 days 00:00:00"},
		{"one day", 48 * time.Hour, 25 * time.Hour, widget.Labels{}, "1 day 01:00:00"},
		{"translated day", 48 * time.Hour, 25 * time.Hour, widget.Labels{Day: "dzień", Days: "dni"}, "1 dzień 01:00:00"},
		{"translated days", 72 * time.Hour, 72 * time.Hour, widget.Labels{Day: "dzień", Days: "dni"}, "3 dni 00:00:00"},
		{"Czech few", 72 * time.Hour, 72 * time.Hour, widget.Labels{Lang: "cs", Day: "den", Days: "dní", DaysFew: "dny"}, "3 dny 00:00:00"},
		{"Czech other", 120 * time.Hour, 120 * time.Hour, widget.Labels{Lang: "cs", Day: "den", Days: "dní", DaysFew: "dny"}, "5 dní 00:00:00"},
		{"past deadline", time.Minute, -time.Minute, widget.Labels{}, "00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			c.Lifetime, c.Deadline, c.Labels = tc.lifetime, t0.Add(tc.left), tc.labels
			if got := counterText(t, string(c.Element())); got != tc.want {
				t.Errorf("counter: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestElementAttributes(t *testing.T) {
	html := string(baseConfig().Element())
	for _, want := range []string{
		`role="timer"`, `aria-live="off"`, `aria-label="Time left"`,
		`data-deadline="1767323945000"`, `data-server-time="1767323045000"`,
		`data-lifetime="900"`, `data-warning-lead="60"`,
		`data-status-url="/backend/session/status"`, `data-keep-alive-url="/backend/session/keepalive"`,
		`data-sign-out-url="/backend/session/signout"`, `data-sign-in-url="/backend/auth/signin"`,
		`data-csrf-token="tok"`, `data-warning="You will be signed out in %s"`,
		`<dialog class="logout-dialog" role="alertdialog" aria-labelledby="logout-title" aria-describedby="logout-msg">`,
		`>Stay signed in</button>`, `data-logout-sign-out>Sign out now</button>`,
		`aria-live="assertive"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("Element lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(html, " hidden") {
		t.Errorf("counter shown: got hidden attribute in %s", html)
	}

	c := baseConfig()
	c.ShowCounter = false
	if html := string(c.Element()); !strings.Contains(html, ` hidden>`) {
		t.Errorf("counter off: got no hidden attribute in %s", html)
	}
}

func TestElementEscaping(t *testing.T) {
	const evil = `"><script>alert(1)</script><x y='`
	for _, tc := range []struct {
		name string
		set  func(*widget.Config)
		// want must appear in the output; bad must not.
		want, bad string
	}{
		{"CSRF token", func(c *widget.Config) { c.CSRFToken = evil }, `data-csrf-token="&#34;&gt;&lt;script&gt;`, "<script>"},
		{"label in attribute", func(c *widget.Config) { c.Labels.Warning = evil }, `data-warning="&#34;&gt;&lt;script&gt;`, "<script>"},
		{"label in text", func(c *widget.Config) { c.Labels.Stay = evil }, `&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;`, "<script>"},
		{"title", func(c *widget.Config) { c.Labels.WarningTitle = evil }, `<h2 id="logout-title">&#34;&gt;&lt;script&gt;`, "<script>"},
		{"javascript: URL", func(c *widget.Config) { c.SignInURL = "javascript:alert(1)" }, `data-sign-in-url="#ZgotmplZ"`, "javascript:"},
		{"quote in URL", func(c *widget.Config) { c.StatusURL = `/s?a="b"` }, `data-status-url="/s?a=%22b%22"`, `a="b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.set(&c)
			html := string(c.Element())
			if !strings.Contains(html, tc.want) {
				t.Errorf("got %s, want it to contain %s", html, tc.want)
			}
			if strings.Contains(html, tc.bad) {
				t.Errorf("got %s, want no %s", html, tc.bad)
			}
		})
	}
}

func TestScript(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"/backend/assets/logout/", `src="/backend/assets/logout/logout-`},
		{"/backend/assets/logout", `src="/backend/assets/logout/logout-`},
		{"", `src="/logout-`},
		{`/a"b/`, `src="/a%22b/logout-`},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			html := string(widget.Config{AssetsPrefix: tc.prefix}.Script())
			if !strings.Contains(html, tc.want) {
				t.Errorf("got %s, want it to contain %s", html, tc.want)
			}
			ok := regexp.MustCompile(`^<link rel="stylesheet" href="[^"]*/logout-[0-9a-f]{8}\.css" integrity="sha256-[A-Za-z0-9+/=&#;]+">` +
				`<script src="[^"]*/logout-[0-9a-f]{8}\.js" integrity="sha256-[A-Za-z0-9+/=&#;]+" defer></script>$`).MatchString(html)
			if !ok {
				t.Errorf("got %s, want a stylesheet link and a deferred external script", html)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	h := http.StripPrefix("/assets", widget.Handler())
	js := regexp.MustCompile(`logout-[0-9a-f]{8}\.js`).FindString(string(widget.Config{}.Script()))
	get := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	ok := get("GET", "/assets/"+js)
	etag := ok.Header().Get("ETag")
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		hdr      []string
		code     int
		cache    string
		bodySize bool
	}{
		{"js", "GET", "/assets/" + js, nil, 200, "public, max-age=31536000, immutable", true},
		{"head", "HEAD", "/assets/" + js, nil, 200, "public, max-age=31536000, immutable", false},
		{"not modified", "GET", "/assets/" + js, []string{"If-None-Match", etag}, 304, "public, max-age=31536000, immutable", false},
		{"unversioned name", "GET", "/assets/logout.js", nil, 404, "", true},
		{"old version", "GET", "/assets/logout-00000000.js", nil, 404, "", true},
		{"directory", "GET", "/assets/", nil, 404, "", true},
		{"post", "POST", "/assets/" + js, nil, 405, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(tc.method, tc.path, tc.hdr...)
			if w.Code != tc.code {
				t.Errorf("status: got %d, want %d", w.Code, tc.code)
			}
			if got := w.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control: got %q, want %q", got, tc.cache)
			}
			if got := w.Body.Len() > 0; got != tc.bodySize {
				t.Errorf("has body: got %v, want %v", got, tc.bodySize)
			}
		})
	}
	if !regexp.MustCompile(`^"[0-9a-f]{64}"$`).MatchString(etag) {
		t.Errorf("ETag: got %q, want a quoted SHA-256", etag)
	}
	if got := ok.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
	}
}
