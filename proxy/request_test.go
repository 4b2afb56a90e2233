package proxy_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// TestDecodeKeyOncePerRequest: the proxy decodes the session cookie a
// request carries exactly once (Profile.DecodeKey, here Laravel's AES
// decryption), whichever steps read its key (the Manager's check, the
// forwarding decision, the panel's sign-out, the answer's cookies), and
// each session cookie the panel's answer sets once more.
func TestDecodeKeyOncePerRequest(t *testing.T) {
	key := bytes.Repeat([]byte{42}, 32)
	lk, err := proxy.ParseLaravelKey("base64:" + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(&fakeOctoberEncrypted{t: t, key: key, issued: map[string]string{}, signedIn: map[string]bool{}})
	defer up.Close()
	var mu sync.Mutex
	var decoded []string // the values given to DecodeKey
	prof := proxy.OctoberCMS()
	prof.DecodeKey = func(name, value string) (string, error) {
		mu.Lock()
		decoded = append(decoded, value)
		mu.Unlock()
		return lk.DecodeKey(name, value)
	}
	clock := fakeclock.New()
	p, srv := newProxy(t, up.URL, prof, clock, nil)
	c := newClient(t, srv.URL)
	base := mustParse(t, srv.URL)
	steps := []struct {
		name, method, path string
		form               url.Values
		idle               bool // let the session idle out first
		status             int
	}{
		{name: "front page, no cookie", method: "GET", path: "/", status: 200},
		{name: "front page, anonymous visitor", method: "GET", path: "/", status: 200},
		{name: "sign-in", method: "POST", path: "/backend/backend/auth/signin", form: url.Values{"login": {"admin"}, "password": {"x"}}, status: http.StatusFound},
		{name: "backend page", method: "GET", path: "/backend", status: 200},
		{name: "status endpoint", method: "GET", path: p.AssetsPath() + "session/status", status: 200},
		{name: "front end", method: "GET", path: "/shop", status: 200},
		{name: "front end, ended: signed out on the panel", method: "GET", path: "/shop", idle: true, status: 200},
		{name: "backend page, ended", method: "GET", path: "/backend", status: http.StatusSeeOther},
	}
	for _, st := range steps {
		if st.idle {
			clock.Advance(2 * time.Minute)
		}
		sent := ""
		for _, ck := range c.c.Jar.Cookies(base) {
			if ck.Name == "october_session" {
				sent = ck.Value
			}
		}
		mu.Lock()
		decoded = nil
		mu.Unlock()
		resp, _ := c.do(st.method, st.path, st.form)
		if resp.StatusCode != st.status {
			t.Fatalf("%s: status %d, want %d", st.name, resp.StatusCode, st.status)
		}
		set := 0
		for _, ck := range resp.Cookies() {
			if ck.Name == "october_session" && ck.Value != "" {
				set++
			}
		}
		mu.Lock()
		ofRequest := 0
		for _, v := range decoded {
			if v == sent {
				ofRequest++
			}
		}
		total := len(decoded)
		mu.Unlock()
		want := 0
		if sent != "" {
			want = 1
		}
		if ofRequest != want || total != want+set {
			t.Errorf("%s: the request's cookie decoded %d times and %d in all, want %d and %d (%d set by the panel)",
				st.name, ofRequest, total, want, want+set, set)
		}
	}
}

// TestDecodeKeyAndLaravelKey: the deprecated Options.LaravelKey sets the
// profile's DecodeKey, and New refuses the two together rather than pick
// one.
func TestDecodeKeyAndLaravelKey(t *testing.T) {
	lk, err := proxy.ParseLaravelKey("base64:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	prof := proxy.OctoberCMS()
	prof.DecodeKey = lk.DecodeKey
	_, err = proxy.New(logout.NewMemoryStore(), proxy.Options{Upstream: mustParse(t, "http://127.0.0.1:1"), Profile: prof, LaravelKey: lk})
	if err == nil {
		t.Fatal("New took both LaravelKey and Profile.DecodeKey, want an error")
	}
	if _, err := lk.DecodeKey("october_session", "not-sealed"); err == nil || strings.Contains(err.Error(), "not-sealed") {
		t.Errorf("DecodeKey of an unsealed value: got error %v, want one that does not quote the value", err)
	}
}
