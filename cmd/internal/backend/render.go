package backend

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/widget"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// contentSecurityPolicy allows no inline script or style anywhere, and no
// plugin content (object-src, which default-src would leave at 'self').
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Limits on the body of a backend POST: every form but the long one is a
// few hundred bytes; the long form has nine fields of up to 20000 bytes,
// up to three times that once percent-encoded.
const (
	maxFormBytes  = 64 << 10
	maxDraftBytes = 1 << 20
)

// pages holds one template set per page, each with the shared layout.
type pages struct {
	t map[string]*template.Template
}

func loadPages() (*pages, error) {
	p := &pages{t: make(map[string]*template.Template)}
	for _, name := range []string{"front", "signin", "dashboard", "settings", "sessions", "account", "confirm", "audit", "tokens", "error"} {
		t, err := template.New(name).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("backend: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// A page is what the layout and every page template read.
type page struct {
	translator            // T, N and Lang
	Title      string     // the page's h1 and title
	Prefix     string     // the backend prefix
	SignIn     string     // the sign-in page's path
	SignOut    string     // the sign-out endpoint's path
	Here       string     // the request URI, for the language switch
	Langs      []langLink // the language switch
	Backend    bool       // a backend page (the sign-in page too)
	Brand      string     // catalog key of the backend's name: "app.name" or "proxy.name"
	Footer     string     // catalog key of the footer's text
	User       *user      // the signed-in user, or nil: no navigation
	Active     string     // the navigation item of the page
	CSRF       string     // the session's CSRF token
	Widget     *widget.Config
	Notices    []notice
	CSS, JS    string // asset URLs
	Icon       string // the favicon's URL
	Data       any    // the page's own data
}

// A langLink is one language of the switch.
type langLink struct {
	Code, Name string
	Current    bool
}

// A notice is a message above the page's content.
type notice struct {
	Kind string // "success", "info" or "error"
	Text string
}

// page returns the common page data for r.
func (a *App) page(r *http.Request, u *user, title string) *page {
	tr := a.cat.lang(pickLang(r))
	p := &page{
		translator: tr, Title: tr.T(title), Prefix: a.cfg.Prefix, Here: r.URL.RequestURI(), User: u,
		SignIn: a.paths.SignIn, SignOut: a.paths.SignOut,
		CSS: a.assetURL(a.assets.url("app.css")), JS: a.assetURL(a.assets.url("app.js")), Backend: a.isBackend(r.URL.Path),
		Icon:  a.assetURL(a.assets.url("favicon.svg")),
		Brand: "app.name", Footer: "footer.text",
	}
	if a.cfg.ProxyPages {
		p.Brand, p.Footer = "proxy.name", "proxy.footer"
	}
	for _, l := range languages() {
		p.Langs = append(p.Langs, langLink{Code: l, Name: a.cat.lang(l).T("lang.name"), Current: l == tr.Lang})
	}
	if u != nil {
		p.CSRF = a.m.CSRFToken(r)
		if cfg, ok := widget.New(a.m, r); ok {
			cfg.AssetsPrefix = a.assetURL("/assets/logout/")
			cfg.Labels = widget.Labels{
				Lang:     tr.Lang,
				TimeLeft: tr.T("widget.time_left"), Day: tr.T("widget.day"), Days: tr.T("widget.days"), DaysFew: tr.T("widget.days_few"),
				WarningTitle: tr.T("widget.warning_title"), Warning: tr.T("widget.warning"),
				Stay: tr.T("widget.stay"), SignOut: tr.T("widget.sign_out"),
				Retrying: tr.T("widget.retrying"), Expired: tr.T("widget.expired"),
				SignInTitle: tr.T("widget.sign_in_title"), UserName: tr.T("signin.username"), Password: tr.T("signin.password"),
				SignIn: tr.T("signin.submit"), OtherUser: tr.T("widget.other_user"),
				Preview: tr.T("widget.preview"), EndPreview: tr.T("widget.end_preview"),
				Sessions: tr.T("nav.own_sessions"),
			}
			cfg.SessionsURL = a.cfg.Prefix + accountSessionsPath
			cfg.UserName = u.Name // as now: also for a session signed in before names were kept
			p.Widget = &cfg
		}
	}
	return p
}

// render writes the named page with the status code.
func (a *App) render(w http.ResponseWriter, r *http.Request, code int, name string, p *page) {
	var b bytes.Buffer
	if err := a.pages.t[name].ExecuteTemplate(&b, "layout", p); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelError, "backend: render", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// fail renders an error page: the message key says what went wrong. A
// script gets {"error": "<the message>"} instead.
func (a *App) fail(w http.ResponseWriter, r *http.Request, u *user, code int, key string) {
	if logout.IsScript(r) {
		writeJSON(w, code, map[string]string{"error": a.cat.lang(pickLang(r)).T(key)})
		return
	}
	title := "error.title"
	switch code {
	case http.StatusForbidden:
		title = "error.forbidden_title"
	case http.StatusNotFound:
		title = "error.not_found_title"
	case http.StatusMethodNotAllowed:
		title = "error.method_title"
	case http.StatusRequestEntityTooLarge:
		title = "error.too_large_title"
	}
	p := a.page(r, u, title)
	p.Data = p.T(key)
	a.render(w, r, code, "error", p)
}

// readForm parses the form of a POST strictly, before anything reads or
// acts on it: a body over limit bytes answers 413, one that does not parse
// (a bad percent-escape in the body or the query, a broken multipart body)
// 400. It reports whether the form was read; when it was not, the answer
// has been written. Afterwards r.PostForm holds the whole form.
func (a *App) readForm(w http.ResponseWriter, r *http.Request, u *user, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := r.ParseForm()
	if err == nil {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			err = r.ParseMultipartForm(limit)
		}
	}
	if err == nil {
		return true
	}
	code, key := http.StatusBadRequest, "error.bad_request"
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		code, key = http.StatusRequestEntityTooLarge, "error.too_large"
	}
	a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: form refused", slog.String("path", r.URL.Path),
		slog.Int("status", code), slog.String("error", err.Error()))
	a.fail(w, r, u, code, key)
	return false
}

// internal logs err and renders the 500 page.
func (a *App) internal(w http.ResponseWriter, r *http.Request, u *user, err error) {
	a.log.LogAttrs(r.Context(), slog.LevelError, "backend: request failed",
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	if errors.Is(err, logout.ErrUnavailable) {
		a.m.Unavailable(w, r, err) // the Manager's 503, in the page's language (deny)
		return
	}
	a.fail(w, r, u, http.StatusInternalServerError, "error.internal")
}

// deny is the Manager's Options.Deny: a store outage's 503 (its
// Retry-After set by the Manager) reads as the page's language has it, as
// JSON of the Manager's shape for scripts and as the error page for page
// loads, and as the API's errors read on the API; every other refusal is
// the Manager's built-in answer.
func (a *App) deny(w http.ResponseWriter, r *http.Request, d logout.Denial) {
	if d.Status != http.StatusServiceUnavailable {
		d.Write(w)
		return
	}
	if a.isAPI(r.URL.Path) {
		apiError(w, d.Status, "the session store is unavailable; try again")
		return
	}
	d.Message = a.cat.lang(pickLang(r)).T("error.unavailable")
	if d.Script {
		d.Write(w)
		return
	}
	a.fail(w, r, a.viewer(r), d.Status, "error.unavailable")
}

// writeJSON answers a script with v as JSON, never cached.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// formatTime formats t for people, in the server's time zone.
func formatTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// formatLeft formats the time left of a session with the idle lifetime
// as the widget's counter does, in tr's language: [widget.FormatLeft],
// whose format follows the lifetime, so a page's "Time left" shows what
// the counter shows, before and after its script runs.
func formatLeft(tr translator, left, lifetime time.Duration) string {
	return widget.FormatLeft(left, lifetime, widget.Labels{
		Lang: tr.Lang, Day: tr.T("widget.day"), Days: tr.T("widget.days"), DaysFew: tr.T("widget.days_few"),
	})
}

// assets serves the App's own CSS, JavaScript and favicon from static/.
type assets struct {
	files map[string]asset
}

type asset struct {
	data []byte
	hash string
}

func loadAssets() (*assets, error) {
	a := &assets{files: make(map[string]asset)}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a.files[path.Base(p)] = asset{data: b, hash: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backend: assets: %w", err)
	}
	return a, nil
}

// url returns the versioned URL of an asset.
func (a *assets) url(name string) string { return "/assets/app/" + name + "?v=" + a.files[name].hash }

// ServeHTTP serves an asset; a request for the current version may be
// cached for a year.
func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// headers sets the security headers on every response, and no-store on
// every backend response (the sign-in page included).
func (a *App) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil || a.cfg.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if a.isBackend(r.URL.Path) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// isBackend reports whether p is a backend page's path: below Prefix, or
// the sign-in page wherever Config.Logout puts it.
func (a *App) isBackend(p string) bool {
	return p == a.cfg.Prefix || strings.HasPrefix(p, a.cfg.Prefix+"/") || p == a.paths.SignIn
}

// accessLog logs every request with its status and duration.
func (a *App) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			level = slog.LevelDebug
		}
		a.log.LogAttrs(r.Context(), level, "backend: request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", sw.code), slog.Duration("took", time.Since(start)))
	})
}

// statusWriter remembers the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
