package backend_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	inlineStyle  = regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`)
)

// checkPage checks what every HTML page must have.
func checkPage(t *testing.T, r response, lang string) {
	t.Helper()
	h := r.Header
	for k, want := range map[string]string{
		"Content-Security-Policy": wantCSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"Content-Type":            "text/html; charset=utf-8",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if strings.HasPrefix(r.Request.URL.Path, "/backend") && h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", h.Get("Cache-Control"))
	}
	if !strings.Contains(r.body, `<html lang="`+lang+`">`) {
		t.Errorf("page is not in %s", lang)
	}
	if strings.Contains(r.body, "[[") {
		t.Errorf("page has untranslated keys: %s", regexp.MustCompile(`\[\[[^\]]*\]\]`).FindAllString(r.body, -1))
	}
	for _, tag := range inlineScript.FindAllString(r.body, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script: %s", tag)
		}
	}
	if m := inlineStyle.FindString(r.body); m != "" {
		t.Errorf("inline style or handler: %q", m)
	}
	for _, s := range []string{`class="skip" href="#main"`, `<main id="main"`, "<h1>"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
}

func TestPagesRender(t *testing.T) {
	e := start(t, "", nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	anon := e.client()
	for _, lang := range []string{"en", "pl", "cs"} {
		admin.header.Set("Accept-Language", lang)
		anon.header.Set("Accept-Language", lang)
		for _, tt := range []struct {
			name string
			c    *client
			path string
			code int
		}{
			{"front, anonymous", anon, "/", 200},
			{"front, signed in", admin, "/", 200},
			{"sign-in", anon, "/backend/auth/signin", 200},
			{"sign-in after timeout", anon, "/backend/auth/signin?reason=idle&return=%2Fbackend", 200},
			{"dashboard", admin, "/backend", 200},
			{"dashboard with slash", admin, "/backend/", 200},
			{"settings", admin, "/backend/system/settings/user-session", 200},
			{"sessions", admin, "/backend/system/sessions", 200},
			{"backend 404", admin, "/backend/nothing", 404},
			{"front 404", anon, "/nothing", 404},
		} {
			t.Run(lang+"/"+tt.name, func(t *testing.T) {
				r := tt.c.get(tt.path)
				wantStatus(t, r, tt.code)
				checkPage(t, r, lang)
			})
		}
	}
}

// TestFrontPageCache: the front page personalised for a signed-in visitor
// is kept by no cache; the anonymous one may be.
func TestFrontPageCache(t *testing.T) {
	e := start(t, "", nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	for _, tt := range []struct {
		name, want string
		c          *client
	}{
		{"anonymous", "", e.client()},
		{"signed in", "private, no-store", admin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.get("/")
			wantStatus(t, r, 200)
			if got := r.Header.Get("Cache-Control"); got != tt.want {
				t.Errorf("Cache-Control: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWrongMethod: a path asked for with a method it does not take answers
// 405 with Allow, signed in or not; a path that is only a prefix of others
// answers 404, not a redirect to the path with a slash.
func TestWrongMethod(t *testing.T) {
	e := start(t, "", nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	anon := e.client()
	for _, tt := range []struct {
		name         string
		c            *client
		method, path string
		code         int
		allow        string
	}{
		{"PUT settings", admin, "PUT", settingsURL, 405, "GET, HEAD, POST"},
		{"PUT settings, signed out", anon, "PUT", settingsURL, 405, "GET, HEAD, POST"},
		{"DELETE dashboard", admin, "DELETE", "/backend", 405, "GET, HEAD"},
		{"DELETE dashboard, signed out", anon, "DELETE", "/backend", 405, "GET, HEAD"},
		{"POST dashboard with slash", admin, "POST", "/backend/", 405, "GET, HEAD"},
		{"POST stats", admin, "POST", "/backend/api/stats", 405, "GET, HEAD"},
		{"GET draft", admin, "GET", "/backend/draft", 405, "POST"},
		{"GET settings reset", admin, "GET", settingsURL + "/reset", 405, "POST"},
		{"PUT sessions page", admin, "PUT", sessionsURL, 405, "GET, HEAD, POST"},
		{"GET forced sign-out", admin, "GET", sessionsURL + "/signout", 405, "POST"},
		{"PUT sign-in", anon, "PUT", "/backend/auth/signin", 405, "GET, HEAD, POST"},
		{"GET session sign-out endpoint", admin, "GET", "/backend/session/signout", 405, "POST"},
		{"POST front page", anon, "POST", "/", 405, "GET, HEAD"},
		{"POST language switch", anon, "POST", "/lang", 405, "GET, HEAD"},
		{"POST asset", anon, "POST", "/assets/app/app.css", 405, "GET, HEAD"},
		{"session endpoints without slash", admin, "POST", "/backend/session", 404, ""},
		{"app assets without slash", anon, "GET", "/assets/app", 404, ""},
		{"widget assets without slash", anon, "GET", "/assets/logout", 404, ""},
		{"unknown backend path", admin, "POST", "/backend/nothing", 404, ""},
		{"unknown front path", anon, "PUT", "/nothing", 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader("csrf_token=x"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := tt.c.do(req)
			wantStatus(t, r, tt.code)
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				checkPage(t, r, "en")
			}
			if tt.code == 405 && !strings.HasPrefix(tt.path, "/backend/session/") {
				wantContains(t, r.body, "<h1>Method not allowed</h1>", "This address does not take that kind of request.")
			}
		})
	}
}

// TestPostBodyRefused: a backend POST whose body is too large (413) or
// does not parse (400) is refused before it is acted on, even with a
// valid CSRF token.
func TestPostBodyRefused(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	other := e.client()
	other.mustSignIn("editor", editorPassword)
	tok := c.token()
	settings := settingsForm(tok, "0")
	settings.Set("lifetime", "600")
	huge := "&pad=" + strings.Repeat("a", 64<<10)
	versioned := func(v string) string {
		f := settingsForm(tok, v)
		f.Set("lifetime", "600")
		return f.Encode()
	}
	for _, tt := range []struct {
		name, path, query, body string
		code                    int
		contentType             string // "": a URL-encoded form
	}{
		{"settings with a bad escape", settingsURL, "", settings.Encode() + "&x=%zz", 400, ""},
		{"settings with a bad escape in a value", settingsURL, "", settings.Encode() + "&warning_lead=6%Z0", 400, ""},
		{"settings with a bad escape in the query", settingsURL, "?x=%zz", settings.Encode(), 400, ""},
		{"settings too large", settingsURL, "", settings.Encode() + huge, 413, ""},
		{"settings as a broken multipart body", settingsURL, "", "--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + tok, 400, "multipart/form-data; boundary=x"},
		{"settings with a version that is no number", settingsURL, "", versioned("zero"), 400, ""},
		{"settings with a negative version", settingsURL, "", versioned("-1"), 400, ""},
		{"reset with a version that is no number", settingsURL + "/reset", "", "csrf_token=" + tok + "&version=zero&confirm=yes", 400, ""},
		{"reset with a negative version", settingsURL + "/reset", "", "csrf_token=" + tok + "&version=-1&confirm=yes", 400, ""},
		{"reset with a bad escape", settingsURL + "/reset", "", "csrf_token=" + tok + "&version=0&confirm=yes&x=%zz", 400, ""},
		{"reset too large", settingsURL + "/reset", "", "csrf_token=" + tok + "&version=0&confirm=yes" + huge, 413, ""},
		{"draft with a bad escape", "/backend/draft", "", "csrf_token=" + tok + "&title=Saved&x=%zz", 400, ""},
		{"draft too large", "/backend/draft", "", "csrf_token=" + tok + "&title=Saved&pad=" + strings.Repeat("a", 1<<20), 413, ""},
		{"forced sign-out with a bad escape", sessionsURL + "/signout", "", "csrf_token=" + tok + "&scope=others&x=%zz", 400, ""},
		{"forced sign-out too large", sessionsURL + "/signout", "", "csrf_token=" + tok + "&scope=others" + huge, 413, ""},
		{"sign-in with a bad escape", "/backend/auth/signin", "", "username=admin&password=x&x=%zz", 400, ""},
		{"sign-in too large", "/backend/auth/signin", "", "username=admin&password=x" + huge, 413, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+tt.path+tt.query, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", cmp.Or(tt.contentType, "application/x-www-form-urlencoded"))
			r := c.do(req)
			wantStatus(t, r, tt.code)
			checkPage(t, r, "en")
			if tt.code == 413 {
				wantContains(t, r.body, "<h1>Form too large</h1>")
			}
			if s, err := e.app.Manager().Settings(t.Context()); err != nil || s.Version != 0 {
				t.Errorf("settings: got version %d (%v), want 0: they were saved", s.Version, err)
			}
			if strings.Contains(c.get("/backend").body, `value="Saved"`) {
				t.Error("the draft was saved")
			}
			wantStatus(t, other.get("/backend"), 200) // not signed out
		})
	}
}

func TestBackendNeedsSignIn(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	for _, path := range []string{"/backend", "/backend/system/settings/user-session", "/backend/system/sessions", "/backend/nothing"} {
		t.Run(path, func(t *testing.T) {
			r := c.get(path)
			wantStatus(t, r, http.StatusSeeOther)
			if got, want := r.Header.Get("Location"), "/backend/auth/signin?return="+strings.ReplaceAll(path, "/", "%2F"); got != want {
				t.Errorf("Location: got %q, want %q", got, want)
			}
		})
	}
}

func TestEditorIsDenied(t *testing.T) {
	e := start(t, "", nil)
	ed := e.client()
	ed.mustSignIn("editor", editorPassword)
	dash := ed.get("/backend")
	wantStatus(t, dash, 200)
	for _, link := range []string{"/system/settings/user-session", "/system/sessions"} {
		if strings.Contains(dash.body, link) {
			t.Errorf("editor's navigation links to %s", link)
		}
	}
	tok := csrf(t, dash.body)
	for _, tt := range []struct {
		name, method, path string
	}{
		{"settings page", "GET", "/backend/system/settings/user-session"},
		{"settings save", "POST", "/backend/system/settings/user-session"},
		{"settings reset", "POST", "/backend/system/settings/user-session/reset"},
		{"sessions page", "GET", "/backend/system/sessions"},
		{"force sign-out", "POST", "/backend/system/sessions/signout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.method == "GET" {
				r = ed.get(tt.path)
			} else {
				r = ed.post(tt.path, map[string][]string{"csrf_token": {tok}, "version": {"0"}, "lifetime": {"5"},
					"confirm": {"yes"}, "scope": {"others"}})
			}
			wantStatus(t, r, http.StatusForbidden)
			checkPage(t, r, "en")
			wantContains(t, r.body, "You do not have permission to view this page.")
		})
	}
	if s, _ := e.app.Manager().Settings(t.Context()); s.Version != 0 {
		t.Errorf("settings version: got %d, want 0: the editor changed them", s.Version)
	}
}

func TestFrontEndNeverRedirected(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	r := c.get("/")
	wantStatus(t, r, 200)
	wantContains(t, r.body, "Signed in to the backend as admin.")

	e.clock.Advance(15*time.Minute + time.Second) // past the default 900 s
	r = c.get("/")
	wantStatus(t, r, 200)
	checkPage(t, r, "en")
	wantContains(t, r.body, "You are not signed in to the backend.")
	if strings.Contains(r.body, "Signed in to the backend as") {
		t.Error("front end still shows the ended session as signed in")
	}
	// The backend, though, goes to the sign-in page with the reason.
	r = c.get("/backend")
	wantStatus(t, r, http.StatusSeeOther)
}

func TestLanguage(t *testing.T) {
	e := start(t, "", nil)
	for _, tt := range []struct {
		name, accept, cookie, wantLang, want string
	}{
		{"default", "", "", "en", "Sign in"},
		{"Accept-Language pl", "pl-PL,pl;q=0.9,en;q=0.5", "", "pl", "Logowanie"},
		{"Accept-Language cs by weight", "de;q=1, en;q=0.2, cs;q=0.8", "", "cs", "Přihlášení"},
		{"unsupported", "de-DE", "", "en", "Sign in"},
		{"cookie wins", "pl", "cs", "cs", "Přihlášení"},
		{"bad cookie ignored", "pl", "xx", "pl", "Logowanie"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			c.header.Set("Accept-Language", tt.accept)
			if tt.cookie != "" {
				c.header.Set("Cookie", "lang="+tt.cookie)
			}
			r := c.get("/backend/auth/signin")
			checkPage(t, r, tt.wantLang)
			wantContains(t, r.body, "<h1>"+tt.want+"</h1>")
		})
	}
	t.Run("switcher", func(t *testing.T) {
		c := e.client()
		r := c.get("/lang?lang=pl&return=%2Fbackend%2Fauth%2Fsignin%3Freason%3Didle")
		wantStatus(t, r, http.StatusSeeOther)
		if got := r.Header.Get("Location"); got != "/backend/auth/signin?reason=idle" {
			t.Errorf("Location: got %q", got)
		}
		r = c.follow(r)
		checkPage(t, r, "pl")
		wantContains(t, r.body, "Wylogowano Cię z powodu braku aktywności!")
	})
}

func TestStatsJSON(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	c.header.Set("Accept", "application/json")
	e.clock.Advance(time.Minute)
	r := c.get("/backend/api/stats")
	wantStatus(t, r, 200)
	var stats map[string]string
	if err := json.Unmarshal([]byte(r.body), &stats); err != nil {
		t.Fatalf("stats: %v\n%s", err, r.body)
	}
	if stats["time_left"] != "15:00" || stats["sessions"] != "1" {
		t.Errorf("stats: got %v", stats)
	}
	want := e.clock.Now().Add(15 * time.Minute).UnixMilli()
	if got := r.Header.Get("Logout-Deadline"); got != strconv.FormatInt(want, 10) {
		t.Errorf("Logout-Deadline: got %s, want %d (the request extended the session)", got, want)
	}
	e.clock.Advance(16 * time.Minute)
	r = c.get("/backend/api/stats")
	wantStatus(t, r, http.StatusUnauthorized)
	if !strings.Contains(r.body, `"signed_in":false`) {
		t.Errorf("401 body: %s", r.body)
	}
}

func TestDraft(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("editor", editorPassword)
	r := c.post("/backend/draft", map[string][]string{"csrf_token": {c.token()}, "title": {"Hello <world>"}, "body": {"Line 1\nLine 2"}})
	wantStatus(t, r, http.StatusSeeOther)
	r = c.follow(r)
	wantStatus(t, r, 200)
	wantContains(t, r.body, "Draft saved.", `value="Hello &lt;world&gt;"`, ">Line 1\nLine 2</textarea>")
}

func TestAssets(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	page := c.get("/backend").body
	for _, re := range []string{`href="(/assets/app/app\.css\?v=[0-9a-f]+)"`, `src="(/assets/app/app\.js\?v=[0-9a-f]+)"`, `src="(/assets/logout/[^"]+\.js)"`} {
		m := regexp.MustCompile(re).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("page links no %s", re)
			continue
		}
		r := c.get(m[1])
		wantStatus(t, r, 200)
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: headers %v", m[1], r.Header)
		}
	}
	wantStatus(t, c.get("/assets/app/nothing.css"), 404)
}

// countFails is a store whose session counts fail, as a store that breaks
// after the middleware read it.
type countFails struct{ logout.Store }

func (countFails) CountSessions(context.Context, logout.ListOptions) (int, error) {
	return 0, errors.New("connection reset")
}

// TestUnavailableScript: when a handler's store call fails, a script
// (told apart by logout.IsScript, as everywhere) gets the JSON 503 and a
// page load the HTML one.
func TestUnavailableScript(t *testing.T) {
	e := startWith(t, false, func(c *backend.Config) { c.Store = countFails{logout.NewMemoryStore()} })
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	for _, tt := range []struct {
		name   string
		header map[string]string
		json   bool
	}{
		{"fetch with Accept */*", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}, true},
		{"page load", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.header = http.Header{}
			for k, v := range tt.header {
				c.header.Set(k, v)
			}
			r := c.get("/backend/api/stats")
			wantStatus(t, r, http.StatusServiceUnavailable)
			if got := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"); got != tt.json {
				t.Fatalf("Content-Type %q, want JSON: %v", r.Header.Get("Content-Type"), tt.json)
			}
		})
	}
}

// TestManagerPaths runs the App with the sign-in page and the session
// endpoints where Config.Logout puts them: the routes, the pages' forms
// and the Manager's redirects all follow.
func TestManagerPaths(t *testing.T) {
	for _, tc := range []struct{ name, signIn, endpoints string }{
		{"inside the prefix", "/backend/login", "/backend/_logout"},
		{"sign-in outside the prefix", "/login", "/backend/_logout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startWith(t, false, func(cfg *backend.Config) {
				cfg.Logout.SignInPath, cfg.Logout.EndpointsPath = tc.signIn, tc.endpoints
			})
			if got := e.app.SignInPath(); got != tc.signIn {
				t.Fatalf("SignInPath: got %q, want %q", got, tc.signIn)
			}
			c := e.client()
			wantStatus(t, c.get("/backend/auth/signin"), http.StatusSeeOther) // no page there now: a backend page that needs a session
			page := c.get(tc.signIn)
			wantStatus(t, page, http.StatusOK)
			wantContains(t, page.body, `action="`+tc.signIn+`"`)
			if got := page.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("sign-in page Cache-Control: got %q, want no-store", got)
			}
			r := c.post(tc.signIn, url.Values{"csrf_token": {csrf(t, page.body)}, "username": {"admin"}, "password": {adminPassword}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/backend" {
				t.Fatalf("sign in: got %d to %q, want 303 to /backend\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
			}
			dash := c.get("/backend")
			wantStatus(t, dash, http.StatusOK)
			wantContains(t, dash.body, `action="`+tc.endpoints+`/signout"`)
			token := csrf(t, dash.body)

			// The widget's endpoints answer where the Manager serves them.
			c.header.Set("Accept", "application/json")
			wantStatus(t, c.get(tc.endpoints+"/status"), http.StatusOK)
			c.header.Set("X-Csrf-Token", token)
			wantStatus(t, c.post(tc.endpoints+"/keepalive", nil), http.StatusOK)
			c.header.Del("X-Csrf-Token")
			wantStatus(t, c.get("/backend/session/status"), http.StatusNotFound) // nothing at the default path
			c.header.Del("Accept")

			// An idle end goes to the configured sign-in page.
			e.clock.Advance(16 * time.Minute)
			r = c.get("/backend/system/sessions")
			wantStatus(t, r, http.StatusSeeOther)
			if got, want := r.Header.Get("Location"), tc.signIn+"?reason=idle"; !strings.HasPrefix(got, want) {
				t.Fatalf("Location: got %q, want %s…", got, want)
			}
			page = c.follow(r)
			wantStatus(t, page, http.StatusOK)
			wantContains(t, page.body, `action="`+tc.signIn+`"`)
		})
	}
}

// TestManagerPathsClash: a sign-in page or endpoints on a page's path
// fail New rather than panic.
func TestManagerPathsClash(t *testing.T) {
	for _, tc := range []struct{ name, signIn, endpoints string }{
		{"endpoints on the prefix", "", "/backend"},
		{"sign-in on the settings page", "/backend/system/settings/user-session", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := backend.Config{DataDir: t.TempDir(), BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)}
			cfg.Logout.SignInPath, cfg.Logout.EndpointsPath = tc.signIn, tc.endpoints
			app, err := backend.New(t.Context(), cfg)
			if err == nil {
				app.Close()
				t.Fatal("New: got no error, want one")
			}
			if !strings.Contains(err.Error(), "takes a page's path") {
				t.Errorf("New: got %v, want the clash", err)
			}
		})
	}
}
