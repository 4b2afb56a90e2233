package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gologout/logout"
)

// A Profile describes an admin panel to the proxy: where its backend
// lives, which cookies hold its sign-in, how it signs in and out, and
// which of its requests are polling. [Django], [WordPress] and
// [OctoberCMS] are ready-made; [ParseProfile] reads others from JSON.
type Profile struct {
	// Name names the profile in logs and errors.
	Name string `json:"name"`
	// Prefix is the backend's path prefix, such as "/admin". Requests
	// below it are backend requests: an ended session is redirected to
	// SignInPath (or answered 401 for scripts). Others are front-end
	// requests, never redirected. Required.
	Prefix string `json:"prefix"`
	// BackendPaths are further backend requests outside Prefix, where
	// real work is done: a REST API that the panel's pages call
	// (WordPress's block editor saves through /wp-json/ and
	// /index.php?rest_route=). They count as activity and an ended
	// session's credentials never reach them.
	BackendPaths []PathRule `json:"backend_paths,omitempty"`
	// SignInPath is the panel's sign-in page, such as "/admin/login/".
	// A POST to it that the panel answers with a new session cookie
	// starts a session. It may lie outside Prefix ("/wp-login.php").
	// Required.
	SignInPath string `json:"sign_in_path"`
	// ReturnParam is the sign-in page's query parameter naming the page
	// to return to ("next" for Django, "redirect_to" for WordPress); the
	// proxy sets it from Logout's "return" parameter. Empty: none.
	ReturnParam string `json:"return_param,omitempty"`
	// UserField is the sign-in form's field holding the user's name
	// ("username"); the proxy reads it from the form it forwards.
	// Empty, or absent from the form: the user is recorded as "unknown".
	// Sessions record the user as [PanelUser] of the name.
	UserField string `json:"user_field,omitempty"`
	// UserCaseInsensitive tells that the panel compares user names
	// without regard to case (WordPress and OctoberCMS on MySQL): "ADMIN"
	// and "admin" are one user, recorded in lower case.
	UserCaseInsensitive bool `json:"user_case_insensitive,omitempty"`
	// UserCookiePattern, when set, is a regular expression (Go's RE2
	// syntax) whose first group captures the user's name as the panel
	// knows it from the value of the session cookie the panel sets at
	// sign-in (percent-decoded), such as WordPress's "login|expiry|…": a
	// user who signed in by e-mail address is then recorded by their
	// login. When it does not match, the name typed in UserField is used.
	UserCookiePattern string `json:"user_cookie_pattern,omitempty"`
	// SessionCookies are the patterns of the cookie that identifies a
	// signed-in session; the first cookie of a request matching one of
	// them is the session's key. Required.
	SessionCookies []Pattern `json:"session_cookies"`
	// ExtraCookies are further credentials of the same sign-in (such as
	// WordPress's wordpress_sec_<hash>, sent only below /wp-admin): they
	// are stripped and expired together with the session cookie.
	ExtraCookies []Pattern `json:"extra_cookies,omitempty"`
	// KeepCookies are never stripped or expired, even when they match
	// ExtraCookies (WordPress's wordpress_test_cookie).
	KeepCookies []Pattern `json:"keep_cookies,omitempty"`
	// CookiePaths are the paths the panel sets its cookies on; an ended
	// session's cookies are expired on each. Default ["/"].
	CookiePaths []string `json:"cookie_paths,omitempty"`
	// AnonymousSessions tells that the panel gives anonymous visitors a
	// session cookie too (Laravel, and so OctoberCMS), renewed at sign-in.
	// Such a cookie unknown to the proxy is forwarded; without
	// AnonymousSessions a backend request's unknown session cookie is
	// stripped, so the panel sees an anonymous visitor.
	AnonymousSessions bool `json:"anonymous_sessions,omitempty"`
	// AnonymousPaths, with AnonymousSessions, are the backend paths
	// (prefixes) that an anonymous visitor uses with the panel's session
	// cookie, such as the sign-in and password-reset pages, whose forms
	// keep their CSRF token in that session. On every other backend path
	// a session cookie the proxy did not see start (a sign-in made before
	// the proxy was put in, or directly against the panel) is stripped,
	// so that no session goes untimed. Default: SignInPath.
	AnonymousPaths []string `json:"anonymous_paths,omitempty"`
	// FrontEnd says what happens to an ended session's cookies on
	// front-end requests: "strip" (the default) forwards the request
	// without them, so the panel serves an anonymous visitor; "keep"
	// forwards them, for panels whose one cookie also holds the
	// visitor's front-end session (a shop's cart), and relies on SignOut
	// to end the sign-in on the panel.
	FrontEnd string `json:"front_end,omitempty"`
	// SignOut, when set, is how the proxy ends an ended session on the
	// panel too, with the browser's cookies. Nil: the proxy only blocks
	// the credential and expires it in the browser.
	SignOut *SignOut `json:"sign_out,omitempty"`
	// Passive lists the panel's polling requests, which never extend a
	// session (WordPress's heartbeat).
	Passive []PassiveRule `json:"passive,omitempty"`
	// CounterSelector is the CSS selector of the element that the counter
	// is placed in ("#user-tools"). Empty, or matching nothing on a page:
	// the counter floats as a badge in the page's corner.
	CounterSelector string `json:"counter_selector,omitempty"`
	// PreserveHost forwards the browser's Host header instead of the
	// upstream's, as panels that check or print their host expect. The
	// proxy sets X-Forwarded-Host and X-Forwarded-Proto either way.
	PreserveHost bool `json:"preserve_host,omitempty"`
	// DecodeKey, when set, reads the key of the panel's session from a
	// session cookie (SessionCookies) of name with value as the browser
	// sends it or the panel sets it, for a panel that seals its cookie
	// anew on every response while the session inside stays: sessions
	// are keyed by what it returns. [LaravelKey.DecodeKey] opens
	// Laravel's (OctoberCMS's). An error, or "", makes the cookie an
	// anonymous visitor's; the error is not logged, so it may name the
	// value. The proxy calls it once per request for the session cookie
	// the request carries and once per session cookie the panel's answer
	// sets, from many goroutines at once. It cannot be set in JSON. Nil:
	// the key is the value as PHP decodes it (percent-escapes decoded, so
	// that "a|b" and "a%7Cb", one session to PHP, are one to the proxy).
	DecodeKey func(name, value string) (key string, err error) `json:"-"`
}

// SignOut is how a panel signs a session out.
type SignOut struct {
	// Method is "GET" or "POST".
	Method string `json:"method"`
	// Path is the sign-out URL's path and query, such as "/admin/logout/".
	// With NoncePattern it holds "{nonce}" where the nonce goes,
	// query-escaped.
	Path string `json:"path"`
	// CSRFCookie and CSRFField, when set, post the value of this cookie
	// in this form field, as Django's CSRF protection wants
	// ("csrftoken", "csrfmiddlewaretoken").
	CSRFCookie string `json:"csrf_cookie,omitempty"`
	CSRFField  string `json:"csrf_field,omitempty"`
	// NoncePattern, when set, is a regular expression (Go's RE2 syntax)
	// whose first group captures the sign-out nonce from the backend
	// pages of a signed-in session, such as the _wpnonce of WordPress's
	// "Log Out" link. The proxy keeps each session's latest nonce in
	// memory and puts it into Path; for a session whose nonce it has not
	// seen, it does not call the panel (the credential is blocked and
	// expired all the same). A match that a read of the page cuts in two
	// is found if it is at most 512 bytes long; a nonce is 1 to 256
	// visible ASCII characters.
	NoncePattern string `json:"nonce_pattern,omitempty"`
	// Form, when set, is the URL-encoded body of a POST sign-out, which
	// may hold {nonce} too (each value query-escaped): phpMyAdmin wants
	// the page's token, "token={nonce}".
	Form string `json:"form,omitempty"`
	// Confirm says what proves that the panel ended the session, beyond
	// a status below 400, which alone is the default: "cookie" (the
	// answer deletes one of the session's cookies) or a path such as
	// "/wp-login.php" (the answer redirects to it). An answer without the
	// proof is a failed try, logged and made again (see [Proxy]).
	Confirm string `json:"confirm,omitempty"`
}

// A PathRule selects requests by path: Path itself, or every path below
// it when Path ends in "/"; with Param, only those whose query has Param
// (any value).
type PathRule struct {
	Path  string `json:"path"`
	Param string `json:"param,omitempty"`
}

func (pr PathRule) match(r *http.Request) bool {
	p := r.URL.Path
	if p != pr.Path && !(strings.HasSuffix(pr.Path, "/") && strings.HasPrefix(p, pr.Path)) {
		return false
	}
	return pr.Param == "" || r.URL.Query().Has(pr.Param)
}

// A PassiveRule selects polling requests: those on Path whose query or
// URL-encoded form has Param equal to Value (any request on Path when
// Param is empty).
type PassiveRule struct {
	Path  string `json:"path"`
	Param string `json:"param,omitempty"`
	Value string `json:"value,omitempty"`
}

// Django returns the profile of Django's admin (django.contrib.admin) at
// /admin/, with its session cookie "sessionid" and CSRF-protected POST
// sign-out.
func Django() Profile {
	return Profile{
		Name: "django", Prefix: "/admin", SignInPath: "/admin/login/", ReturnParam: "next", UserField: "username",
		SessionCookies:  []Pattern{mustPattern("sessionid")},
		SignOut:         &SignOut{Method: http.MethodPost, Path: "/admin/logout/", CSRFCookie: "csrftoken", CSRFField: "csrfmiddlewaretoken", Confirm: "cookie"},
		CounterSelector: "#user-tools", PreserveHost: true,
	}
}

// WordPress returns the profile of WordPress's /wp-admin: the session is
// keyed by wordpress_logged_in_<hash>; the auth cookies wordpress_<hash>
// and wordpress_sec_<hash> go with it; the heartbeat
// (admin-ajax.php, action=heartbeat) is polling. WordPress signs out only
// by GET with the nonce of its "Log Out" link, which the proxy learns from
// the admin pages (the link's & is written raw, as &amp; or as &#038;).
func WordPress() Profile {
	return Profile{
		Name: "wordpress", Prefix: "/wp-admin", SignInPath: "/wp-login.php", ReturnParam: "redirect_to", UserField: "log",
		UserCaseInsensitive: true, UserCookiePattern: `^([^|]+)\|`,
		BackendPaths:   []PathRule{{Path: "/wp-json/"}, {Path: "/index.php", Param: "rest_route"}, {Path: "/", Param: "rest_route"}},
		SessionCookies: []Pattern{mustPattern("wordpress_logged_in_*")},
		ExtraCookies:   []Pattern{mustPattern("wordpress_*")},
		KeepCookies:    []Pattern{mustPattern("wordpress_test_cookie")},
		CookiePaths:    []string{"/", "/wp-admin", "/wp-content/plugins"},
		SignOut: &SignOut{Method: http.MethodGet, Path: "/wp-login.php?action=logout&_wpnonce={nonce}",
			NoncePattern: `wp-login\.php\?action=logout(?:&|&amp;|&#0?38;)_wpnonce=([0-9a-f]{6,32})`, Confirm: "cookie"},
		Passive:         []PassiveRule{{Path: "/wp-admin/admin-ajax.php", Param: "action", Value: "heartbeat"}},
		CounterSelector: "#wp-admin-bar-top-secondary", PreserveHost: true,
	}
}

// OctoberCMS returns the profile of OctoberCMS's /backend: Laravel gives
// every visitor an october_session cookie and renews it at sign-in; the
// same session holds the front end's visitor (a cart), so FrontEnd is
// "keep" and the sign-in is ended on the panel by its sign-out URL.
// Laravel encrypts the cookie unless it is listed among October's
// unencrypted cookies: set DecodeKey to the [LaravelKey.DecodeKey] of
// October's APP_KEY.
func OctoberCMS() Profile {
	return Profile{
		Name: "octobercms", Prefix: "/backend", SignInPath: "/backend/backend/auth/signin", UserField: "login",
		UserCaseInsensitive: true,
		SessionCookies:      []Pattern{mustPattern("october_session")},
		ExtraCookies:        []Pattern{mustPattern("admin_auth")},
		AnonymousSessions:   true, FrontEnd: "keep",
		AnonymousPaths:  []string{"/backend/backend/auth/"},
		SignOut:         &SignOut{Method: http.MethodGet, Path: "/backend/backend/auth/signout"},
		CounterSelector: ".mainmenu-accountmenu", PreserveHost: true,
	}
}

// PhpMyAdmin returns the profile of phpMyAdmin 5 with cookie
// authentication, a panel that is the whole site: its session cookie
// "phpMyAdmin" (or "phpMyAdmin_https") is every visitor's, renewed at
// sign-in; "pmaAuth-<server>" holds the sealed credentials. It signs out
// by a POST with the token of its pages, and its answer deletes
// pmaAuth-<server>.
func PhpMyAdmin() Profile {
	return Profile{
		Name: "phpmyadmin", Prefix: "/", SignInPath: "/index.php", UserField: "pma_username",
		SessionCookies:    []Pattern{mustPattern("phpMyAdmin"), mustPattern("phpMyAdmin_https")},
		ExtraCookies:      []Pattern{mustPattern("pmaAuth-*")},
		AnonymousSessions: true,
		SignOut: &SignOut{Method: http.MethodPost, Path: "/index.php?route=/logout", Form: "token={nonce}",
			NoncePattern: `name="token" value="([0-9a-f]{16,64})"`, Confirm: "cookie"},
	}
}

// Profiles returns the ready-made profiles by name.
func Profiles() map[string]Profile {
	return map[string]Profile{"django": Django(), "wordpress": WordPress(), "octobercms": OctoberCMS(), "phpmyadmin": PhpMyAdmin()}
}

// ParseProfile reads a profile from JSON (the field names of [Profile]'s
// tags) and validates it. Unknown fields are refused, so that a typo does
// not silently fall back to a default.
func ParseProfile(b []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("proxy: profile: %w", err)
	}
	if dec.More() {
		return Profile{}, errors.New("proxy: profile: trailing data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Validate reports every problem of p, joined with errors.Join, each
// naming the field.
func (p Profile) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("proxy: profile %q: %s: %s", p.Name, field, fmt.Sprintf(format, args...)))
	}
	isPath := func(s string) bool { _, ok := logout.SafeReturnPath(s); return ok && s == strings.TrimSpace(s) }
	switch pre := strings.TrimRight(p.Prefix, "/"); {
	case p.Prefix == "/": // the whole site is the panel (phpMyAdmin)
	case pre == "" || !isPath(pre):
		bad("prefix", "want a path such as /admin, or / for a panel that is the whole site, got %q", p.Prefix)
	case strings.ContainsAny(pre, "?#"):
		bad("prefix", "a path without query, got %q", p.Prefix)
	}
	if !isPath(p.SignInPath) || strings.ContainsAny(p.SignInPath, "?#") {
		bad("sign_in_path", "want a path such as /admin/login/, got %q", p.SignInPath)
	}
	if len(p.SessionCookies) == 0 {
		bad("session_cookies", "name at least one cookie, such as sessionid")
	}
	for _, c := range slices.Concat(p.SessionCookies, p.ExtraCookies, p.KeepCookies) {
		if c.name == "" {
			bad("cookies", "empty pattern")
		}
	}
	for _, cp := range p.CookiePaths {
		if !isPath(cp) {
			bad("cookie_paths", "want paths such as /, got %q", cp)
		}
	}
	for _, b := range p.BackendPaths {
		if !isPath(b.Path) || strings.ContainsAny(b.Path, "?#") {
			bad("backend_paths", "want paths such as /api/, got %q", b.Path)
		}
	}
	for _, a := range p.AnonymousPaths {
		if !isPath(a) {
			bad("anonymous_paths", "want paths such as /backend/auth/, got %q", a)
		}
	}
	if len(p.AnonymousPaths) > 0 && !p.AnonymousSessions {
		bad("anonymous_paths", "needs anonymous_sessions")
	}
	if p.UserCookiePattern != "" {
		if re, err := regexp.Compile(p.UserCookiePattern); err != nil {
			bad("user_cookie_pattern", "%v", err)
		} else if re.NumSubexp() < 1 {
			bad("user_cookie_pattern", "want a group that captures the user's name, such as ^([^|]+)\\|")
		}
	}
	if p.FrontEnd != "" && p.FrontEnd != "strip" && p.FrontEnd != "keep" {
		bad("front_end", "want strip or keep, got %q", p.FrontEnd)
	}
	if so := p.SignOut; so != nil {
		if so.Method != http.MethodGet && so.Method != http.MethodPost {
			bad("sign_out.method", "want GET or POST, got %q", so.Method)
		}
		if !isPath(so.Path) {
			bad("sign_out.path", "want a path such as /admin/logout/, got %q", so.Path)
		}
		if (so.CSRFCookie == "") != (so.CSRFField == "") {
			bad("sign_out", "csrf_cookie and csrf_field go together")
		}
		hasSlot := strings.Contains(so.Path, nonceSlot) || strings.Contains(so.Form, nonceSlot)
		if so.Form != "" && so.Method != http.MethodPost {
			bad("sign_out.form", "needs method POST")
		}
		if so.Form != "" {
			if _, err := url.ParseQuery(strings.ReplaceAll(so.Form, nonceSlot, "x")); err != nil {
				bad("sign_out.form", "want a URL-encoded form such as token={nonce}: %v", err)
			}
		}
		if c := so.Confirm; c != "" && c != "cookie" && !isPath(c) {
			bad("sign_out.confirm", `want "cookie" or a path such as /login, got %q`, c)
		}
		switch re, err := compileNonce(so.NoncePattern); {
		case err != nil:
			bad("sign_out.nonce_pattern", "%v", err)
		case re == nil && hasSlot:
			bad("sign_out", "path or form holds %s but nonce_pattern is empty", nonceSlot)
		case re != nil && !hasSlot:
			bad("sign_out", "want %s in path or form where the nonce goes, such as /logout?nonce=%s", nonceSlot, nonceSlot)
		}
	}
	for _, r := range p.Passive {
		if !isPath(r.Path) || strings.ContainsAny(r.Path, "?#") {
			bad("passive.path", "want a path such as /wp-admin/admin-ajax.php, got %q", r.Path)
		}
	}
	if strings.ContainsAny(p.CounterSelector, "<>\x00") {
		bad("counter_selector", "not a CSS selector: %q", p.CounterSelector)
	}
	return errors.Join(errs...)
}

// nonceSlot marks the nonce's place in SignOut.Path.
const nonceSlot = "{nonce}"

// compileNonce compiles a SignOut.NoncePattern: nil for "", and an error
// for one that does not compile or has no group.
func compileNonce(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("%q has no group: put the nonce in parentheses", pattern)
	}
	return re, nil
}

// normalized returns p with its defaults filled in.
// UserID returns the user ID of the panel's user of a name typed at the
// panel's sign-in or in a per-user rule: [PanelUser] of the name, in
// lower case when the panel compares names so (UserCaseInsensitive).
func (p Profile) UserID(name string) string {
	name = strings.TrimSpace(name)
	if p.UserCaseInsensitive {
		name = strings.ToLower(name)
	}
	return PanelUser(name)
}

func (p Profile) normalized() Profile {
	if p.AnonymousSessions && len(p.AnonymousPaths) == 0 {
		p.AnonymousPaths = []string{p.SignInPath}
	}
	p.Prefix = strings.TrimRight(p.Prefix, "/")
	if len(p.CookiePaths) == 0 {
		p.CookiePaths = []string{"/"}
	}
	if p.FrontEnd == "" {
		p.FrontEnd = "strip"
	}
	return p
}
