package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// TestLogSessionID: the proxy's logs name a session as the Manager's do
// (internal/logid): "sid" with the first 12 hex digits of its ID, never
// another key or length.
func TestLogSessionID(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/login/" && r.Method == http.MethodPost {
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<body>ok")
	}))
	defer up.Close()
	var buf bytes.Buffer // written under the JSON handler's lock
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) { o.Logger = log })
	c := newClient(t, srv.URL)
	if resp, _ := c.do("POST", "/admin/login/", url.Values{"username": {"u"}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("sign in: got %d, want 302", resp.StatusCode)
	}
	srv.Close() // every handler has returned, and logged

	seen := map[string]string{} // message: sid
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if _, ok := rec["session"]; ok {
			t.Errorf("%q names a session by the key session, want sid", rec["msg"])
		}
		sid, ok := rec["sid"].(string)
		if !ok {
			continue
		}
		if len(sid) != 12 || strings.Trim(sid, "0123456789abcdef") != "" {
			t.Errorf("%q: sid %q, want 12 hex digits", rec["msg"], sid)
		}
		seen[rec["msg"].(string)] = sid
	}
	m, px := seen["logout: signed in"], seen["proxy: signed in"]
	if m == "" || m != px {
		t.Errorf("the Manager logged sid %q, the proxy %q; want the same, in both:\n%s", m, px, buf.String())
	}
}
