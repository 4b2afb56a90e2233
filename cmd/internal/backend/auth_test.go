package backend_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

func sessionCookie(c *client, e *env) string {
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "logout_session" {
			return ck.Value
		}
	}
	return ""
}

func TestSignIn(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	page := c.get("/backend/auth/signin")
	checkPage(t, page, "en")
	wantContains(t, page.body, `autocomplete="username"`, `autocomplete="current-password"`, `<label for="username">`)

	// A session the browser carried before is ended and replaced at
	// sign-in (as when two tabs show the form after a timeout).
	tok := csrf(t, page.body)
	form := url.Values{"csrf_token": {tok}, "username": {"admin"}, "password": {adminPassword}}
	wantStatus(t, c.post("/backend/auth/signin", form), http.StatusSeeOther)
	first := sessionCookie(c, e)
	if first == "" {
		t.Fatal("no session cookie after sign-in")
	}
	form.Set("username", "editor")
	form.Set("password", editorPassword)
	wantStatus(t, c.post("/backend/auth/signin", form), http.StatusSeeOther)
	if second := sessionCookie(c, e); second == first || second == "" {
		t.Errorf("session cookie not renewed at sign-in: %q then %q", first, second)
	}
	n, err := e.app.Manager().CountSessions(t.Context(), logout.ListOptions{})
	if err != nil || n != 1 {
		t.Errorf("sessions after signing in twice: got %d (%v), want 1", n, err)
	}
	// Signed in, the sign-in page goes to the backend.
	r := c.get("/backend/auth/signin?return=%2Fbackend%2Fsystem%2Fsessions")
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/backend/system/sessions" {
		t.Errorf("Location: got %q", got)
	}
}

func TestSignInWrong(t *testing.T) {
	e := start(t, "", nil)
	for _, tt := range []struct{ name, user, password string }{
		{"wrong password", "admin", "nope-nope-nope"},
		{"unknown user", "mallory", adminPassword},
		{"empty", "", ""},
		{"too long", "admin", strings.Repeat("x", 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			r := c.signIn(tt.user, tt.password, nil)
			wantStatus(t, r, http.StatusUnauthorized)
			checkPage(t, r, "en")
			wantContains(t, r.body, "Wrong user name or password.", `value="`+tt.user+`"`, `aria-invalid="true"`, `aria-describedby="signin-error"`)
			if strings.Contains(r.body, tt.password) && tt.password != "" {
				t.Error("the password is echoed in the page")
			}
			if sessionCookie(c, e) != "" {
				t.Error("a session cookie was set")
			}
		})
	}
	t.Run("case-insensitive user name", func(t *testing.T) {
		e.client().mustSignIn("ADMIN", adminPassword)
	})
}

// TestSignInRateLimit follows one browser guessing one account's
// password: five guesses pass at once, then each waits twice as long as
// the one before; a correct password is refused unchecked while it must
// wait, and accepted after. The browser then holds a device cookie, and
// its next guesses count for it alone.
func TestSignInRateLimit(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	const wrong = "wrong-password"
	steps := []struct {
		advance  time.Duration
		password string
		want     int
		retry    string // Retry-After
	}{
		{0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""},
		{0, wrong, 429, "1"},
		{0, adminPassword, 429, "1"},
		{time.Second, wrong, 401, ""},
		{0, wrong, 429, "2"},
		{2 * time.Second, wrong, 401, ""},
		{0, adminPassword, 429, "4"},
		{4 * time.Second, adminPassword, 303, ""},
		// Now with the device cookie of that sign-in.
		{0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""}, {0, wrong, 401, ""},
		{0, wrong, 429, "1"},
		{15 * time.Minute, adminPassword, 303, ""},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		r := c.signIn("admin", st.password, nil)
		if r.StatusCode != st.want || r.Header.Get("Retry-After") != st.retry {
			t.Fatalf("step %d: got %d with Retry-After %q, want %d with %q", i+1, r.StatusCode, r.Header.Get("Retry-After"), st.want, st.retry)
		}
		switch st.want {
		case http.StatusTooManyRequests:
			wantContains(t, r.body, "Too many failed attempts.")
		case http.StatusSeeOther:
			c.signOut()
		}
	}
}

// signOut signs the browser out with the dashboard's sign-out form.
func (c *client) signOut() {
	c.t.Helper()
	wantStatus(c.t, c.post("/backend/session/signout", url.Values{"csrf_token": {c.token()}}), http.StatusSeeOther)
}

// clientFrom is a browser whose connections come from the local address
// ip, such as 127.0.0.2; it skips the test where the system does not
// route the loopback network to every local address.
func (e *env) clientFrom(ip string) *client {
	e.t.Helper()
	c := e.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	e.t.Cleanup(tr.CloseIdleConnections)
	c.http.Transport = tr
	if _, err := c.http.Get(e.srv.URL + "/"); err != nil {
		e.t.Skipf("cannot connect from %s: %v", ip, err)
	}
	return c
}

// postStatus posts form to the sign-in form without failing the test, for
// use from several goroutines; it returns the status and Retry-After.
func (c *client) postStatus(form url.Values) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+"/backend/auth/signin", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), nil
}

// TestSignInConcurrentBurst sends 128 wrong guesses at once from one
// browser: each attempt is counted before its password is checked, so
// only the five free ones are checked.
func TestSignInConcurrentBurst(t *testing.T) {
	// The burst tests the throttle, not the machine: a store call slowed
	// past the default 2 s by 128 requests under the race detector on a
	// loaded machine would answer 503 (fail closed) and not count.
	e := startWith(t, false, func(cfg *backend.Config) { cfg.Logout.StoreTimeout = time.Minute })
	c := e.client()
	form := url.Values{
		"csrf_token": {csrf(t, c.get("/backend/auth/signin").body)},
		"username":   {"admin"}, "password": {"wrong-password"},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range 128 {
		wg.Go(func() {
			code, retry, err := c.postStatus(form)
			if err != nil {
				t.Error(err)
				return
			}
			if code == http.StatusTooManyRequests && retry == "" {
				t.Error("429 without Retry-After")
			}
			mu.Lock()
			got[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got[401] != 5 || got[429] != 123 {
		t.Errorf("128 concurrent wrong guesses: got %v, want 5×401 (checked) and 123×429", got)
	}
}

// TestSignInPerAccount guesses one account's password from twelve
// addresses in turn, ten guesses each: each address may check 5, but the
// account's own count stops them at its 40, whatever the address.
func TestSignInPerAccount(t *testing.T) {
	e := start(t, "", nil)
	var clients []*client
	for i := range 12 {
		clients = append(clients, e.clientFrom(fmt.Sprintf("127.0.0.%d", i+2)))
	}
	checked := 0
	for round := range 10 {
		for i, c := range clients {
			switch r := c.signIn("admin", "wrong-password", nil); r.StatusCode {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("round %d, address %d: got %d", round+1, i+1, r.StatusCode)
			}
		}
	}
	if checked > 40 {
		t.Errorf("12 addresses × 10 guesses at one account: %d checked, want at most 40", checked)
	}
}

// TestSignInOtherAccountKeepsCount guesses at admin nine times and signs
// in correctly as editor, three times over from one browser: the
// editor's success clears only the editor's count.
func TestSignInOtherAccountKeepsCount(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	checked := 0
	for round := range 3 {
		for range 9 {
			if r := c.signIn("admin", "wrong-password", nil); r.StatusCode == http.StatusUnauthorized {
				checked++
			}
		}
		if r := c.signIn("editor", editorPassword, nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("round %d: editor's sign-in: got %d, want 303", round+1, r.StatusCode)
		}
		c.signOut()
	}
	if checked > 5 {
		t.Errorf("27 guesses at admin between the editor's sign-ins: %d checked, want at most 5", checked)
	}
}

// TestSignInSharedCounts runs two instances on one data directory: the
// guesses made on one count on the other (users.db keeps the counts; the
// Redis and PostgreSQL counts run the same store cases in
// TestThrottleStores).
func TestSignInSharedCounts(t *testing.T) {
	a := start(t, "", nil)
	b := start(t, a.dir, a.clock)
	for range 5 {
		wantStatus(t, a.client().signIn("admin", "wrong-password", nil), http.StatusUnauthorized)
	}
	wantStatus(t, b.client().signIn("admin", adminPassword, nil), http.StatusTooManyRequests)
}

// TestSignInForwarded checks whose address a sign-in is counted under:
// twenty failures (the address's free attempts) from one client, each at
// another account, then one more from the second; 429 means both were
// counted as one address.
func TestSignInForwarded(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	for _, tt := range []struct {
		name          string
		trusted       []netip.Prefix
		header        string // X-Forwarded-For or Forwarded
		attack, other string
		sameAddress   bool
	}{
		{"no proxy: everyone is 127.0.0.1", nil, "", "", "", true},
		{"untrusted peer's X-Forwarded-For ignored", nil, "X-Forwarded-For", "192.0.2.1", "192.0.2.2", true},
		{"trusted peer's X-Forwarded-For used", local, "X-Forwarded-For", "192.0.2.1", "192.0.2.2", false},
		{"spoofed left-most entries ignored", local, "X-Forwarded-For", "203.0.113.1, 192.0.2.1", "203.0.113.2, 192.0.2.1", true},
		{"trusted hops skipped", append(local, netip.MustParsePrefix("10.0.0.0/8")), "X-Forwarded-For",
			"192.0.2.1, 10.0.0.7", "192.0.2.2, 10.0.0.7", false},
		{"Forwarded used", local, "Forwarded", "for=192.0.2.1;proto=https", `for="[2001:db8::1]:4711"`, false},
		{"IPv6 counted by /64", local, "Forwarded", `for="[2001:db8::1]"`, `for="[2001:db8::2]"`, true},
		{"malformed falls back to the connection", local, "X-Forwarded-For", "unknown", "192.0.2.2, not-an-address", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := startWith(t, false, func(c *backend.Config) { c.TrustedProxies = tt.trusted })
			attacker, other := e.client(), e.client()
			if tt.header != "" {
				attacker.header.Set(tt.header, tt.attack)
				other.header.Set(tt.header, tt.other)
			}
			for i := range 20 {
				wantStatus(t, attacker.signIn(fmt.Sprintf("user%d", i), "wrong-password", nil), http.StatusUnauthorized)
			}
			want := http.StatusUnauthorized
			if tt.sameAddress {
				want = http.StatusTooManyRequests
			}
			wantStatus(t, other.signIn("someone", "wrong-password", nil), want)
		})
	}
}

// TestSignInNoLockout floods admin's password from the address that
// everyone shares behind a proxy: a browser without a device cookie for
// admin is held back, but the administrator's browser, which signed in
// as admin before, signs in at once.
func TestSignInNoLockout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(e *env, admin *client) *client // the browser that then signs in
		want    int
	}{
		{"admin's own browser", func(e *env, admin *client) *client { return admin }, http.StatusSeeOther},
		{"a new browser", func(e *env, admin *client) *client { return e.client() }, http.StatusTooManyRequests},
		{"a browser that signed in as editor", func(e *env, admin *client) *client {
			c := e.client()
			c.mustSignIn("editor", editorPassword)
			c.signOut()
			return c
		}, http.StatusTooManyRequests},
		{"a forged device cookie", func(e *env, admin *client) *client {
			u, _ := url.Parse(e.srv.URL)
			for _, ck := range admin.http.Jar.Cookies(u) {
				if ck.Name == "logout_device" {
					payload, _, _ := strings.Cut(ck.Value, ".")
					admin.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: payload + ".AAAA", Path: "/"}})
					return admin
				}
			}
			e.t.Fatal("no device cookie after sign-in")
			return nil
		}, http.StatusTooManyRequests},
		{"an expired device cookie", func(e *env, admin *client) *client {
			e.clock.Advance(91 * 24 * time.Hour)
			return admin
		}, http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, "", nil)
			admin := e.client()
			admin.mustSignIn("admin", adminPassword)
			admin.signOut()
			c := tt.prepare(e, admin)
			attacker := e.client()
			for range 50 {
				attacker.signIn("admin", "wrong-password", nil)
			}
			wantStatus(t, c.signIn("admin", adminPassword, nil), tt.want)
		})
	}
}

// TestSignInDeviceLimit guesses from the administrator's own browser: a
// device cookie is limited per device, so its wrong guesses slow it down
// but not the administrator's other browser.
func TestSignInDeviceLimit(t *testing.T) {
	e := start(t, "", nil)
	laptop, phone := e.client(), e.client()
	for _, c := range []*client{laptop, phone} {
		c.mustSignIn("admin", adminPassword)
		c.signOut()
	}
	for range 5 {
		wantStatus(t, laptop.signIn("admin", "wrong-password", nil), http.StatusUnauthorized)
	}
	wantStatus(t, laptop.signIn("admin", adminPassword, nil), http.StatusTooManyRequests)
	phone.mustSignIn("admin", adminPassword)
}

// TestDeviceCookieAttributes checks the device cookie that a sign-in sets
// over TLS: __Host- prefixed, HttpOnly, SameSite=Lax, for the whole site.
func TestDeviceCookieAttributes(t *testing.T) {
	e := startWith(t, true, nil)
	c := e.client()
	c.http.Transport = e.srv.Client().Transport
	r := c.signIn("admin", adminPassword, nil)
	wantStatus(t, r, http.StatusSeeOther)
	for _, ck := range r.Cookies() {
		if ck.Name != "__Host-logout_device" {
			continue
		}
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.MaxAge <= 0 {
			t.Errorf("device cookie: got %s", ck)
		}
		return
	}
	t.Errorf("no __Host-logout_device cookie in %q", r.Header.Values("Set-Cookie"))
}

func TestReturnPath(t *testing.T) {
	e := start(t, "", nil)
	for _, tt := range []struct {
		name, ret, want string
	}{
		{"same-origin path kept", "/backend/system/sessions?x=1", "/backend/system/sessions?x=1"},
		{"scheme-relative", "//evil.example", "/backend"},
		{"absolute", "https://evil.example", "/backend"},
		{"absolute http", "http://evil.example/backend", "/backend"},
		{"backslash", `/\evil.example`, "/backend"},
		{"encoded slashes", "%2F%2Fevil.example", "/backend"},
		{"encoded slash after slash", "/%2Fevil.example", "/backend"},
		{"encoded backslash", "/%5Cevil.example", "/backend"},
		{"encoded backslash lower", "/%5cevil.example", "/backend"},
		{"javascript", "javascript:alert(1)", "/backend"},
		{"tab trick", "/\t/evil.example", "/backend"},
		{"leading space", " //evil.example", "/backend"},
		{"userinfo", "/@evil.example", "/@evil.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			page := c.get("/backend/auth/signin?return=" + url.QueryEscape(tt.ret))
			wantStatus(t, page, 200)
			if tt.want == "/backend" && strings.Contains(page.body, `name="return" value="`+html.EscapeString(tt.ret)+`"`) {
				t.Errorf("unsafe return %q is kept in the form", tt.ret)
			}
			r := c.signIn("admin", adminPassword, url.Values{"return": {tt.ret}})
			wantStatus(t, r, http.StatusSeeOther)
			if got := r.Header.Get("Location"); got != tt.want {
				t.Errorf("after sign-in: got Location %q, want %q", got, tt.want)
			}
			r = c.get("/lang?lang=en&return=" + url.QueryEscape(tt.ret))
			want := tt.want
			if want == "/backend" {
				want = "/"
			}
			if got := r.Header.Get("Location"); got != want {
				t.Errorf("language switch: got Location %q, want %q", got, want)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	wantStatus(t, c.get("/backend/session/signout"), http.StatusMethodNotAllowed)
	r := c.post("/backend/session/signout", url.Values{"csrf_token": {c.token()}})
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/backend/auth/signin?reason=manual" {
		t.Errorf("Location: got %q", got)
	}
	r = c.follow(r)
	wantContains(t, r.body, "You have signed out.")
	wantStatus(t, c.get("/backend"), http.StatusSeeOther)
}

// TestCSRF posts every form without a token, with a wrong one, and with
// the right one from another site: each is refused and changes nothing.
func TestCSRF(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.mustSignIn("admin", adminPassword)
	good := c.token()
	posts := []struct {
		name, path string
		form       url.Values
	}{
		{"settings save", "/backend/system/settings/user-session", url.Values{"version": {"0"}, "lifetime": {"10"}, "warning_lead": {"5"}}},
		{"settings reset", "/backend/system/settings/user-session/reset", url.Values{"version": {"0"}, "confirm": {"yes"}}},
		{"force sign-out", "/backend/system/sessions/signout", url.Values{"scope": {"user"}, "user": {"1"}}},
		{"sign-out", "/backend/session/signout", url.Values{}},
		{"draft", "/backend/draft", url.Values{"title": {"x"}}},
		{"sign-in", "/backend/auth/signin", url.Values{"username": {"admin"}, "password": {adminPassword}}},
	}
	for _, p := range posts {
		for _, tt := range []struct {
			name, token, site string
		}{
			{"missing", "", ""},
			{"wrong", "x" + good[1:], ""},
			{"cross-site", good, "cross-site"},
		} {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range p.form {
					form[k] = v
				}
				if tt.token != "" {
					form.Set("csrf_token", tt.token)
				}
				if p.name == "sign-in" && tt.token == good {
					// The sign-in form's own token, bound to the pre-session cookie.
					anon := e.client()
					form.Set("csrf_token", csrf(t, anon.get("/backend/auth/signin").body))
					anon.header.Set("Sec-Fetch-Site", tt.site)
					r := anon.post(p.path, form)
					wantStatus(t, r, http.StatusForbidden)
					return
				}
				if tt.site != "" {
					c.header.Set("Sec-Fetch-Site", tt.site)
					defer c.header.Del("Sec-Fetch-Site")
				}
				r := c.post(p.path, form)
				wantStatus(t, r, http.StatusForbidden)
			})
		}
	}
	// Nothing changed: still signed in, settings untouched, no draft.
	r := c.get("/backend")
	wantStatus(t, r, 200)
	if strings.Contains(r.body, `value="x"`) {
		t.Error("the draft was saved")
	}
	if s, _ := e.app.Manager().Settings(t.Context()); s.Version != 0 {
		t.Errorf("settings version: got %d, want 0", s.Version)
	}
	if evs, _ := e.app.Manager().Events(t.Context(), 10); len(evs) != 0 {
		t.Errorf("sign-outs: got %v, want none", evs)
	}
}

// TestAnonymousScript: a backend script request without a session gets
// the same 401 JSON as one whose session ended, not a 303 to an HTML
// page that fetch would follow silently.
func TestAnonymousScript(t *testing.T) {
	e := start(t, "", nil)
	tests := []struct {
		name   string
		header map[string]string
		code   int
	}{
		{"fetch with Accept */*", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}, http.StatusUnauthorized},
		{"XMLHttpRequest with Accept */*", map[string]string{"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}, http.StatusUnauthorized},
		{"JSON Accept", map[string]string{"Accept": "application/json"}, http.StatusUnauthorized},
		{"page load", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			c.header = http.Header{}
			for k, v := range tt.header {
				c.header.Set(k, v)
			}
			r := c.get("/backend/api/stats")
			wantStatus(t, r, tt.code)
			if tt.code == http.StatusSeeOther {
				if loc := r.Header.Get("Location"); loc != "/backend/auth/signin?return=%2Fbackend%2Fapi%2Fstats" {
					t.Fatalf("Location %q", loc)
				}
				return
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(r.body), &v); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if v["signed_in"] != false || v["message"] == "" || !strings.HasPrefix(fmt.Sprint(v["sign_in_url"]), "/backend/auth/signin") {
				t.Fatalf("401 body %v", v)
			}
		})
	}
}
