package backend_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

// User-Agent headers of the test's devices.
const (
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaChromeMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaEdgeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87"
)

// devices is four signed-in browsers of an App whose sessions keep their
// address as mode says, on the memory store (which sorts every order).
// The App trusts loopback as a proxy, so each browser names its address
// in X-Forwarded-For. In order of sign-in, a minute apart: the editor on
// Firefox (Windows, 192.0.2.10) and Safari (iPhone, 198.51.100.7), the
// admin on Edge (Windows, 2001:db8:1:2::5) and Chrome (macOS,
// 203.0.113.5), who looks at the pages; then Firefox is active.
type devices struct {
	e                             *env
	firefox, safari, edge, chrome *client
}

func startDevices(t *testing.T, mode backend.AddressMode) *devices {
	t.Helper()
	e := startWith(t, false, func(c *backend.Config) {
		c.Store = logout.NewMemoryStore()
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		c.SessionAddress = mode
	})
	d := &devices{e: e}
	for _, s := range []struct {
		c                 **client
		user, pass, ua, a string
	}{
		{&d.firefox, "editor", editorPassword, uaFirefoxWindows, "192.0.2.10"},
		{&d.safari, "editor", editorPassword, uaSafariIPhone, "198.51.100.7"},
		{&d.edge, "admin", adminPassword, uaEdgeWindows, "2001:db8:1:2::5"},
		{&d.chrome, "admin", adminPassword, uaChromeMac, "203.0.113.5"},
	} {
		e.clock.Advance(time.Minute)
		c := e.client()
		c.header.Set("User-Agent", s.ua)
		c.header.Set("X-Forwarded-For", s.a)
		c.mustSignIn(s.user, s.pass)
		*s.c = c
	}
	e.clock.Advance(time.Minute)
	wantStatus(t, d.firefox.get("/backend"), http.StatusOK)
	e.clock.Advance(time.Minute)
	return d
}

// count returns how many sessions the store holds.
func (d *devices) count(t *testing.T) int {
	t.Helper()
	n, err := d.e.app.Manager().CountSessions(t.Context(), logout.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// session returns the session whose User-Agent is ua.
func (d *devices) session(t *testing.T, ua string) logout.Session {
	t.Helper()
	list, err := d.e.app.Manager().Sessions(t.Context(), logout.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(s logout.Session) bool { return s.UserAgent == ua })
	if i < 0 {
		t.Fatalf("no session of %s", ua)
	}
	return list[i]
}

var deviceCell = regexp.MustCompile(`<span class="device">([^<]+)</span>`)

// rows returns the devices of a page's rows, in order.
func rows(body string) []string {
	var out []string
	for _, m := range deviceCell.FindAllStringSubmatch(body, -1) {
		out = append(out, strings.Fields(m[1])[0])
	}
	return out
}

// TestSessionsSortFilter: the active sessions page sorts by each order,
// with aria-sort on its column, and filters by user and by address.
func TestSessionsSortFilter(t *testing.T) {
	d := startDevices(t, "")
	admin := d.chrome
	tok := admin.token()
	for _, tc := range []struct {
		name     string
		query    string
		post     url.Values // the address filter
		want     []string
		ariaSort string // the header with aria-sort, and its value
		total    string
	}{
		{"default: last activity", "", nil, []string{"Chrome", "Firefox", "Edge", "Safari"}, `descending"><a class="sort" href="/backend/system/sessions">Last activity`, "4 sessions in all."},
		{"last activity", "?sort=active", nil, []string{"Chrome", "Firefox", "Edge", "Safari"}, `descending"><a class="sort" href="/backend/system/sessions">Last activity`, ""},
		{"newest sign-in", "?sort=newest", nil, []string{"Chrome", "Edge", "Safari", "Firefox"}, `descending"><a class="sort" href="/backend/system/sessions?sort=oldest">Signed in`, ""},
		{"oldest sign-in", "?sort=oldest", nil, []string{"Firefox", "Safari", "Edge", "Chrome"}, `ascending"><a class="sort" href="/backend/system/sessions?sort=newest">Signed in`, ""},
		{"least time left", "?sort=ending", nil, []string{"Safari", "Edge", "Firefox", "Chrome"}, `ascending"><a class="sort" href="/backend/system/sessions?sort=ending">Time left`, ""},
		{"a user", "?user=editor", nil, []string{"Firefox", "Safari"}, "", "2 sessions in all."},
		{"a user, oldest first", "?user=editor&sort=oldest", nil, []string{"Firefox", "Safari"}, `ascending"><a class="sort" href="/backend/system/sessions?sort=newest&amp;user=editor">Signed in`, ""},
		{"an unknown user", "?user=nobody", nil, nil, "", "0 sessions in all."},
		{"an address in the network", "", url.Values{"address": {"192.0.2.99"}}, []string{"Firefox"}, `descending"><button type="submit" class="sort" form="address-filter" name="sort_by" value="active">Last activity`, "1 session in all."},
		{"an IPv6 address in the network", "", url.Values{"address": {"2001:db8:1:ffff::1"}}, []string{"Edge"}, "", "1 session in all."},
		{"an address and a user", "", url.Values{"address": {"192.0.2.10"}, "user": {"admin"}}, nil, "", "0 sessions in all."},
		{"an address, re-sorted", "", url.Values{"address": {"2001:db8:1::"}, "sort": {"active"}, "sort_by": {"oldest"}}, []string{"Edge"}, `ascending"><button type="submit" class="sort" form="address-filter" name="sort_by" value="newest">Signed in`, ""},
		{"no address", "", url.Values{"address": {"somewhere"}}, nil, "", "0 sessions in all."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.post == nil {
				r = admin.get(sessionsURL + tc.query)
			} else {
				tc.post.Set("csrf_token", tok)
				r = admin.post(sessionsURL, tc.post)
				if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
					t.Errorf("Cache-Control: got %q, want no-store", got)
				}
				// The address is in no URL of the answer.
				for _, m := range regexp.MustCompile(`(?:href|action|value)="([^"]*)"`).FindAllStringSubmatch(r.body, -1) {
					if a := tc.post.Get("address"); strings.Contains(m[1], "?") && strings.Contains(m[1], a) {
						t.Errorf("a URL holds the address: %s", m[1])
					}
				}
			}
			wantStatus(t, r, http.StatusOK)
			if got := rows(r.body); !slices.Equal(got, tc.want) {
				t.Errorf("rows: got %q, want %q", got, tc.want)
			}
			if tc.ariaSort != "" {
				wantContains(t, r.body, `aria-sort="`+tc.ariaSort)
			}
			if n := strings.Count(r.body, "aria-sort="); n != 1 && len(tc.want) > 0 {
				t.Errorf("aria-sort on %d headers, want 1", n)
			}
			if tc.total != "" {
				wantContains(t, r.body, tc.total)
			}
			if tc.name == "no address" {
				wantContains(t, r.body, `aria-invalid="true"`, "Enter an IP address")
			}
		})
	}

	// Each row tells the device, the address and this session.
	page := admin.get(sessionsURL)
	wantContains(t, page.body, "Firefox 128 on Windows", "Safari 17 on iOS", "Chrome 126 on macOS", "Edge 126 on Windows",
		">mobile<", ">desktop<", "<code>192.0.2.0</code>", "<code>198.51.100.0</code>", "<code>2001:db8:1::</code>", "<code>203.0.113.0</code>", "1–4 of 4")
	if n := strings.Count(page.body, "This is you"); n != 1 || !regexp.MustCompile(`admin <span class="badge">This is you</span></th>\s*<td><span class="device">Chrome`).MatchString(page.body) {
		t.Errorf(`"This is you" %d times, want once, on the Chrome row:\n%s`, n, page.body)
	}
	// The addresses are in no URL and no log line: the page's links
	// hold the user and the order only.
	if strings.Contains(page.body, "192.0.2.10") || strings.Contains(page.body, "Mozilla/5.0") {
		t.Error("the page shows a whole address or the raw User-Agent")
	}

	for _, bad := range []string{"?sort=random", "?sort=oldest&after=x", "?after=1.2", "?after=0.5.abc", "?after=1.-5.abc", "?after=1.05.abc", "?after=1.5.",
		"?user=" + strings.Repeat("x", 300)} {
		wantStatus(t, admin.get(sessionsURL+bad), http.StatusBadRequest)
	}
	// The editor may not look.
	wantStatus(t, d.firefox.get(sessionsURL), http.StatusForbidden)
	wantStatus(t, d.firefox.post(sessionsURL, url.Values{"csrf_token": {d.firefox.token()}, "address": {"192.0.2.10"}}), http.StatusForbidden)
}

// TestSessionAddressModes: the Config's mode decides what a session
// keeps, and the pages show it.
func TestSessionAddressModes(t *testing.T) {
	for _, tc := range []struct {
		mode              backend.AddressMode
		firefox, edge     string
		column, filterBox bool
	}{
		{backend.AddressFull, "192.0.2.10", "2001:db8:1:2::5", true, true},
		{backend.AddressTruncated, "192.0.2.0", "2001:db8:1::", true, true},
		{"", "192.0.2.0", "2001:db8:1::", true, true},
		{backend.AddressNone, "", "", false, false},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			d := startDevices(t, tc.mode)
			if got := d.session(t, uaFirefoxWindows).Address; got != tc.firefox {
				t.Errorf("Firefox's address: got %q, want %q", got, tc.firefox)
			}
			if got := d.session(t, uaEdgeWindows).Address; got != tc.edge {
				t.Errorf("Edge's address: got %q, want %q", got, tc.edge)
			}
			for _, page := range []string{d.chrome.get(sessionsURL).body, d.firefox.get(accountURL).body} {
				if got := strings.Contains(page, ">Address</th>"); got != tc.column {
					t.Errorf("address column: got %v, want %v", got, tc.column)
				}
			}
			if got := strings.Contains(d.chrome.get(sessionsURL).body, `id="f-address"`); got != tc.filterBox {
				t.Errorf("address filter: got %v, want %v", got, tc.filterBox)
			}
			if tc.mode == backend.AddressFull {
				r := d.chrome.post(sessionsURL, url.Values{"csrf_token": {d.chrome.token()}, "address": {"192.0.2.10"}})
				if got := rows(r.body); !slices.Equal(got, []string{"Firefox"}) {
					t.Errorf("rows of 192.0.2.10: got %q", got)
				}
				r = d.chrome.post(sessionsURL, url.Values{"csrf_token": {d.chrome.token()}, "address": {"192.0.2.11"}})
				if got := rows(r.body); len(got) != 0 {
					t.Errorf("rows of 192.0.2.11: got %q, want none", got)
				}
			}
		})
	}
	if _, err := backend.New(t.Context(), backend.Config{DataDir: t.TempDir(), SessionAddress: "masked"}); err == nil || !strings.Contains(err.Error(), "want full, truncated or none") {
		t.Errorf("New with SessionAddress masked: got %v", err)
	}
}

var confirmField = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// confirmForm returns the action and the fields of a confirmation page's
// form.
func confirmForm(t *testing.T, body string) (string, url.Values) {
	t.Helper()
	_, form, ok := strings.Cut(body, `class="confirm-actions"`)
	if !ok {
		t.Fatalf("no confirmation form:\n%s", body)
	}
	form, _, _ = strings.Cut(form, "</form>")
	action := regexp.MustCompile(`<form method="post" action="([^"]+)" class="confirm-actions"`).FindStringSubmatch(body)
	v := url.Values{}
	for _, m := range confirmField.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], m[2])
	}
	return action[1], v
}

// TestEndWithConfirmation: each way of ending sessions on the active
// sessions page asks first, showing what ends and how many, and ends
// nothing until the confirmation's own POST, which says how many ended.
func TestEndWithConfirmation(t *testing.T) {
	d := startDevices(t, "")
	admin := d.chrome
	tok := admin.token()
	safari := d.session(t, uaSafariIPhone)
	since := func(s logout.Session) string { return formatMicros(s.Created) }

	for _, tc := range []struct {
		name    string
		form    url.Values
		show    []string
		before  int // sessions before the confirmed POST
		ended   string
		gone    []*client
		staying []*client
	}{
		{"one session", url.Values{"scope": {"session"}, "id": {safari.ID}, "user": {safari.UserID}, "created": {since(safari)}},
			[]string{"Sign out this session of editor?", "Safari 17 on iOS (mobile)", "<code>198.51.100.0</code>", "Sign out 1 session"},
			4, "1 session signed out.", []*client{d.safari}, []*client{d.firefox, d.edge, d.chrome}},
		{"a user's sessions", url.Values{"scope": {"user"}, "user": {"2"}},
			[]string{"Sign out the 1 session of editor?", "Sign out 1 session"},
			3, "1 session signed out.", []*client{d.firefox}, []*client{d.edge, d.chrome}},
		{"all but one's own", url.Values{"scope": {"others"}},
			[]string{"Sign out 1 other session? Yours stays signed in.", "Sign out 1 session"},
			2, "1 session signed out.", []*client{d.edge}, []*client{d.chrome}},
		{"nothing left", url.Values{"scope": {"others"}},
			[]string{"There are no sessions to end.", `href="/backend/system/sessions">Back to the sessions`},
			1, "", nil, []*client{d.chrome}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf_token", tok)
			r := admin.post(sessionsURL+"/confirm", tc.form)
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, tc.show...)
			if got := d.count(t); got != tc.before {
				t.Fatalf("the confirmation page ended sessions: %d left, want %d", got, tc.before)
			}
			if tc.ended == "" {
				if strings.Contains(r.body, `class="confirm-actions"`) {
					t.Error("a button to end no session")
				}
				return
			}
			action, form := confirmForm(t, r.body)
			if action != sessionsURL+"/signout" || form.Get("csrf_token") != tok {
				t.Fatalf("confirmation form: %s %v", action, form)
			}
			r = admin.post(action, form)
			wantStatus(t, r, http.StatusSeeOther)
			wantContains(t, admin.follow(r).body, tc.ended)
			for _, c := range tc.gone {
				wantStatus(t, c.get("/backend"), http.StatusSeeOther)
			}
			for _, c := range tc.staying {
				wantStatus(t, c.get("/backend"), http.StatusOK)
			}
		})
	}

	// A session that is gone, or a bad form, is refused.
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"an ended session", url.Values{"scope": {"session"}, "id": {safari.ID}, "user": {safari.UserID}, "created": {since(safari)}}, http.StatusNotFound},
		{"no created", url.Values{"scope": {"session"}, "id": {safari.ID}}, http.StatusBadRequest},
		{"no user", url.Values{"scope": {"user"}}, http.StatusBadRequest},
		{"an unknown scope", url.Values{"scope": {"all"}}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf_token", tok)
			wantStatus(t, admin.post(sessionsURL+"/confirm", tc.form), tc.want)
		})
	}
}

// formatMicros writes t as the rows' created field, Unix microseconds.
func formatMicros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// TestOwnSessionsDevices: everyone sees their own sessions' devices and
// addresses, ends all but this one after a confirmation, and can neither
// see nor end another user's.
func TestOwnSessionsDevices(t *testing.T) {
	d := startDevices(t, "")
	ed := d.firefox
	page := ed.get(accountURL)
	wantStatus(t, page, http.StatusOK)
	if got := rows(page.body); !slices.Equal(got, []string{"Firefox", "Safari"}) {
		t.Errorf("rows: got %q, want Firefox, Safari", got)
	}
	wantContains(t, page.body, "Firefox 128 on Windows", "<code>192.0.2.0</code>", "Safari 17 on iOS", "<code>198.51.100.0</code>",
		`<span class="badge">This is you</span>`, "1–2 of 2", `aria-sort="descending"`)
	if strings.Contains(page.body, "Chrome") || strings.Contains(page.body, "Edge") || strings.Contains(page.body, "203.0.113") {
		t.Error("the page shows another user's session")
	}
	if got := rows(ed.get(accountURL + "?sort=oldest").body); !slices.Equal(got, []string{"Firefox", "Safari"}) {
		t.Errorf("oldest first: got %q", got)
	}
	if got := rows(ed.get(accountURL + "?sort=newest").body); !slices.Equal(got, []string{"Safari", "Firefox"}) {
		t.Errorf("newest first: got %q", got)
	}
	wantStatus(t, ed.get(accountURL+"?user=admin"), http.StatusBadRequest)
	tok := csrf(t, page.body)

	// Another user's session: refused at each step, nothing ends.
	chrome := d.session(t, uaChromeMac)
	for _, path := range []string{accountURL + "/confirm", accountURL + "/signout"} {
		r := ed.post(path, url.Values{"csrf_token": {tok}, "scope": {"session"}, "id": {chrome.ID}, "created": {formatMicros(chrome.Created)}})
		wantStatus(t, r, http.StatusNotFound)
		if got := d.count(t); got != 4 {
			t.Fatalf("%s ended a session of another user: %d left", path, got)
		}
	}
	r := ed.post(accountURL+"/confirm", url.Values{"csrf_token": {tok}, "scope": {"user"}, "user": {"1"}})
	wantStatus(t, r, http.StatusBadRequest)

	// Everywhere else, confirmed.
	r = ed.post(accountURL+"/confirm", url.Values{"csrf_token": {tok}, "scope": {"others"}})
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, "End your 1 other session? This one stays signed in.", "End 1 session", `href="/backend/account/sessions">Cancel`)
	if got := d.count(t); got != 4 {
		t.Fatalf("the confirmation ended sessions: %d left", got)
	}
	action, form := confirmForm(t, r.body)
	r = ed.post(action, form)
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, ed.follow(r).body, "1 session ended.", "1 session in all.")
	wantStatus(t, d.safari.get("/backend"), http.StatusSeeOther)
	for _, c := range []*client{d.firefox, d.edge, d.chrome} {
		wantStatus(t, c.get("/backend"), http.StatusOK)
	}

	// The widget beside the avatar links here.
	wantContains(t, ed.get("/backend").body, `<a class="logout-sessions" href="/backend/account/sessions">Your sessions</a>`)
}

// TestSessionsCSRF: every POST of the sessions pages wants the session's
// CSRF token, and ends or shows nothing without it.
func TestSessionsCSRF(t *testing.T) {
	d := startDevices(t, "")
	safari := d.session(t, uaSafariIPhone)
	other := d.edge.token() // another session's token
	for _, tc := range []struct {
		c    *client
		path string
		form url.Values
	}{
		{d.chrome, sessionsURL, url.Values{"address": {"192.0.2.10"}}},
		{d.chrome, sessionsURL + "/confirm", url.Values{"scope": {"others"}}},
		{d.chrome, sessionsURL + "/signout", url.Values{"scope": {"others"}}},
		{d.chrome, sessionsURL + "/signout", url.Values{"scope": {"session"}, "id": {safari.ID}}},
		{d.firefox, accountURL + "/confirm", url.Values{"scope": {"others"}}},
		{d.firefox, accountURL + "/signout", url.Values{"scope": {"others"}}},
	} {
		for _, token := range []string{"", "x", other} {
			t.Run(tc.path+" "+tc.form.Get("scope")+" token "+token, func(t *testing.T) {
				form := url.Values{}
				for k, v := range tc.form {
					form[k] = v
				}
				if token != "" {
					form.Set("csrf_token", token)
				}
				r := tc.c.post(tc.path, form)
				wantStatus(t, r, http.StatusForbidden)
				if strings.Contains(r.body, "Firefox") {
					t.Error("the refusal lists sessions")
				}
				if got := d.count(t); got != 4 {
					t.Fatalf("sessions: %d, want 4", got)
				}
			})
		}
	}
}
