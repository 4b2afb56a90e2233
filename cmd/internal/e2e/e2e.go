// Package e2e is what the examples' tests share: an app on a fake clock
// (internal/fakeclock, the app's logout.Options.Clock), an HTTP client
// with a cookie jar that shows redirects instead of following them, and
// [Run], the end-to-end suite that every example app passes.
//
// Time only moves when a test calls Advance on [App.Clock], so the suite
// crosses Logout's idle lifetime without sleeping.
package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo user that every example signs in.
const (
	User     = "demo"
	Password = "demo-password"
)

// Lifetime is Logout's default idle lifetime, which the examples keep.
const Lifetime = 900 * time.Second

// A Client is one browser: it keeps cookies and does not follow
// redirects, so that tests see them.
type Client struct {
	t    testing.TB
	base *url.URL
	hc   *http.Client
}

// NewClient returns a Client of srv with an empty cookie jar.
func NewClient(t testing.TB, srv *httptest.Server) *Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("server URL: %v", err)
	}
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{t: t, base: base, hc: hc}
}

// A Response is what a request got.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Location returns the redirect target.
func (r Response) Location() string { return r.Header.Get("Location") }

// Page returns the headers of a page load (a link followed, an address
// typed), by Fetch Metadata.
func Page() http.Header {
	return http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}}
}

// Script returns the headers of a fetch() call of a page's JavaScript.
func Script() http.Header {
	return http.Header{"Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}, "Accept": {"application/json"}}
}

// Do sends a request with the given headers; body, if not nil, is a form.
func (c *Client) Do(method, path string, header http.Header, form url.Values) Response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base.String()+path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// Get loads path as a page.
func (c *Client) Get(path string) Response {
	c.t.Helper()
	return c.Do(http.MethodGet, path, Page(), nil)
}

// Post submits a form to path, as a page does.
func (c *Client) Post(path string, form url.Values) Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, Page(), form)
}

// SignIn posts the demo user's credentials to the sign-in form at path
// (which may carry ?reason=…&return=…) and returns the answer.
func (c *Client) SignIn(path, password string) Response {
	c.t.Helper()
	return c.Post(path, url.Values{"user": {User}, "password": {password}})
}

// Cookie returns the value of the named cookie that the jar would send.
func (c *Client) Cookie(name string) string {
	for _, k := range c.hc.Jar.Cookies(c.base) {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}

// counterRE finds the widget's counter element and its timing attributes.
var counterRE = regexp.MustCompile(`<span class="logout-counter"[^>]* data-deadline="(\d+)" data-server-time="(\d+)"`)

// Counter returns the data-deadline and data-server-time of the counter
// element in page, in Unix milliseconds, and whether there is one.
func Counter(page string) (deadline, serverTime time.Time, ok bool) {
	m := counterRE.FindStringSubmatch(page)
	if m == nil {
		return time.Time{}, time.Time{}, false
	}
	d, _ := strconv.ParseInt(m[1], 10, 64)
	s, _ := strconv.ParseInt(m[2], 10, 64)
	return time.UnixMilli(d), time.UnixMilli(s), true
}

var (
	scriptRE  = regexp.MustCompile(`<script [^>]*src="([^"]+)"`)
	signOutRE = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)">(.*?)<button[^>]*>Sign out</button>`)
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// ScriptURL returns the src of the widget's script tag in page, or "".
func ScriptURL(page string) string {
	if m := scriptRE.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// SignOutForm returns the action and the hidden fields of the page's
// sign-out form, or "" when it has none.
func SignOutForm(page string) (action string, form url.Values) {
	m := signOutRE.FindStringSubmatch(page)
	if m == nil {
		return "", nil
	}
	form = url.Values{}
	for _, f := range hiddenRE.FindAllStringSubmatch(m[2], -1) {
		form.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), form
}

// A Denial is the JSON body of a 401 for a script.
type Denial struct {
	SignedIn   *bool  `json:"signed_in"`
	ServerTime int64  `json:"server_time"`
	Reason     string `json:"reason"`
	Message    string `json:"message"`
	SignInURL  string `json:"sign_in_url"`
}

// ParseDenial checks that r is a 401 with JSON for a script, with every
// field of the one shape that Logout answers (reason only when wantReason
// is not ""), and returns it.
func ParseDenial(r Response, wantReason string) (Denial, error) {
	var d Denial
	if r.Status != http.StatusUnauthorized {
		return d, fmt.Errorf("status %d, want 401", r.Status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return d, fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.Body), &fields); err != nil {
		return d, fmt.Errorf("body %q: %w", r.Body, err)
	}
	for _, k := range []string{"signed_in", "server_time", "message", "sign_in_url"} {
		if _, ok := fields[k]; !ok {
			return d, fmt.Errorf("body %s: no %q", r.Body, k)
		}
	}
	if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
		return d, fmt.Errorf("body %q: %w", r.Body, err)
	}
	if d.SignedIn == nil || *d.SignedIn {
		return d, fmt.Errorf("signed_in in %s, want false", r.Body)
	}
	if d.Reason != wantReason {
		return d, fmt.Errorf("reason %q, want %q", d.Reason, wantReason)
	}
	u, err := url.Parse(d.SignInURL)
	if err != nil || u.Path != SignInPath || u.Query().Get("reason") != wantReason {
		return d, fmt.Errorf("sign_in_url %q, want %s with reason %q", d.SignInURL, SignInPath, wantReason)
	}
	return d, nil
}

// SignInPath is the examples' sign-in page, Logout's default.
const SignInPath = "/backend/auth/signin"

// markerRE matches a line of code that adds Logout: it ends with a
// "// Logout" comment (which may go on, "// Logout: why"), or, in a
// template, with {{/* Logout */}}.
var markerRE = regexp.MustCompile(`(//\s*Logout\b[^"]*|\{\{/\*\s*Logout\s*\*/\}\})$`)

// LogoutLines counts the lines of src that are marked as adding Logout.
// Comment-only lines do not count.
func LogoutLines(src string) int {
	n := 0
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "//") && markerRE.MatchString(line) {
			n++
		}
	}
	return n
}
