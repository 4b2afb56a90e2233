package paneltest_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gologout/logout/internal/paneltest"
)

// get fetches base+path with c, not following redirects.
func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestWordPress: the installed WordPress signs its administrator in and
// shows the dashboard, with links to its site address.
func TestWordPress(t *testing.T) {
	wp := paneltest.StartWordPress(t)
	wp.Install(t, wp.URL.String())
	c := newClient()
	base := wp.URL.String()
	fetch(t, c, "GET", base+"/wp-login.php", nil)
	resp, _ := fetch(t, c, "POST", base+"/wp-login.php", url.Values{"log": {wp.User}, "pwd": {wp.Password}, "testcookie": {"1"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != base+"/wp-admin/" {
		t.Fatalf("sign-in: status %d to %q, want 302 to %s/wp-admin/", resp.StatusCode, resp.Header.Get("Location"), base)
	}
	resp, body := fetch(t, c, "GET", base+"/wp-admin/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `wp-admin-bar-top-secondary`) {
		t.Fatalf("dashboard: status %d, admin bar %v", resp.StatusCode, strings.Contains(body, "wp-admin-bar-top-secondary"))
	}
	// The REST API answers at /wp-json/ (pretty permalinks, through the
	// router) and at ?rest_route=.
	for _, path := range []string{"/wp-json/", "/?rest_route=/"} {
		if resp, body := fetch(t, c, "GET", base+path, nil); resp.StatusCode != 200 || !strings.Contains(body, `"namespaces"`) {
			t.Errorf("REST index %s: status %d", path, resp.StatusCode)
		}
	}
}

var pmaToken = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// TestPhpMyAdmin: phpMyAdmin signs the database user in and lists the
// test's table.
func TestPhpMyAdmin(t *testing.T) {
	pma := paneltest.StartPhpMyAdmin(t)
	c := newClient()
	base := pma.URL.String()
	resp, body := fetch(t, c, "GET", base+"/index.php", nil)
	m := pmaToken.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("sign-in page: status %d, token %v\n%s", resp.StatusCode, m != nil, body)
	}
	resp, _ = fetch(t, c, "POST", base+"/index.php?route=/", url.Values{"pma_username": {pma.User}, "pma_password": {pma.Password}, "server": {"1"}, "token": {m[1]}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: status %d, want 302", resp.StatusCode)
	}
	resp, body = fetch(t, c, "GET", base+"/index.php?route=/database/structure&db="+pma.Database, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "table=items") {
		t.Fatalf("the database's structure: status %d, links the table items %v", resp.StatusCode, strings.Contains(body, "table=items"))
	}
}
