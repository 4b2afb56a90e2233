package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout/internal/djangotest"
)

// TestAdminAPIThroughCommand: the proxy serves the admin API below its
// --admin-prefix with a token that its "tokens" subcommand made, lists
// the panel's sessions by the panel user's name, and ends them as the
// "sessions" subcommand does.
func TestAdminAPIThroughCommand(t *testing.T) {
	dj := djangotest.Start(t)
	s := start(t, dj.URL.String(), nil)
	user := newClient(t, s.base)
	user.djangoSignIn(dj.User, dj.Password)

	cmd := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(t.Context(), append(args, "--data", s.data), func(string) string { return "" }, &out, &errOut, nil); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	token := strings.TrimSpace(cmd("tokens", "create", "--name", "ops", "--scope", "write"))
	api := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.base+"/logout-proxy/api/v1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	code, body := api("GET", "/sessions?user="+dj.User, "")
	var page struct {
		Sessions []struct{ User string } `json:"sessions"`
		Total    int                     `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || page.Total != 1 || page.Sessions[0].User != dj.User+" (panel)" {
		t.Fatalf("list: %d %v %s", code, err, body)
	}
	if out := cmd("sessions", "list", "--user", dj.User); !strings.Contains(out, dj.User+" (panel)") || !strings.Contains(out, "1 sessions") {
		t.Errorf("sessions list:\n%s", out)
	}
	if code, body := api("POST", "/sessions/end", `{"user":"`+dj.User+`"}`); code != 200 || body != `{"ended":1}`+"\n" {
		t.Fatalf("end: %d %s", code, body)
	}
	s.clock.Advance(time.Second) // the proxy rereads the session
	if resp, _ := user.do("GET", "/admin/", nil); resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "reason=forced") {
		t.Fatalf("Django after the end: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if out := cmd("sessions", "end", "--user", dj.User); out != "0 sessions ended\n" {
		t.Errorf("end again: %q", out)
	}
}
