package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// fakeSSO is a proxy.SSO whose browser state is one cookie, fake_sso:
// "pending" is an identity that started no session, "ended" one whose
// session ended and whose provider session is to be ended.
type fakeSSO struct {
	mu      sync.Mutex
	path    string   // Proxy.SSOPath, as New gave it
	served  []string // the paths ServeHTTP answered
	started []string // the sessions Started bound
}

func (f *fakeSSO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.served = append(f.served, r.URL.Path)
	f.mu.Unlock()
	io.WriteString(w, "sso endpoint")
}

func (f *fakeSSO) Identity(r *http.Request) (logout.User, bool) {
	if c, err := r.Cookie("fake_sso"); err == nil && c.Value == "pending" {
		return logout.User{ID: "panel:ada", Name: "ada", Tags: []string{"oidc:sub:ada"}}, true
	}
	return logout.User{}, false
}

func (f *fakeSSO) Started(w http.ResponseWriter, r *http.Request, s logout.Session) {
	f.mu.Lock()
	f.started = append(f.started, s.ID)
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "fake_sso", Value: "bound", Path: "/"})
}

func (f *fakeSSO) EndProviderSession(w http.ResponseWriter, r *http.Request) bool {
	if c, err := r.Cookie("fake_sso"); err != nil || c.Value != "ended" {
		return false
	}
	http.Redirect(w, r, "https://idp.example/logout", http.StatusSeeOther)
	return true
}

func (f *fakeSSO) CookieNames() []string { return []string{"fake_sso", "fake_sso_*"} }

// ssoUpstream is a panel under the django profile's paths whose single
// sign-on callback sets the session cookie; it records the cookies it
// gets.
type ssoUpstream struct {
	mu      sync.Mutex
	cookies []string
}

func (u *ssoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.cookies = append(u.cookies, r.Header.Get("Cookie"))
	u.mu.Unlock()
	switch {
	case r.URL.Path == "/admin/sso/callback" || r.URL.Path == "/admin/renew/" || (r.URL.Path == "/admin/login/" && r.Method == http.MethodPost):
		http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s-" + r.URL.Path, Path: "/"})
		http.Redirect(w, r, "/admin/", http.StatusFound)
	default:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "panel "+r.URL.Path)
	}
}

func TestSSOGate(t *testing.T) {
	tests := []struct {
		name, method, path, cookie string
		form                       url.Values
		status                     int
		location                   string // a prefix; "" for none
		served                     bool   // by the SSO's handler
		started                    bool   // a session started for the identity
	}{
		{name: "backend page without identity goes to the SSO", method: "GET", path: "/admin/users/?q=1", status: 303,
			location: "/admin/_logout/sso/login?return=" + url.QueryEscape("/admin/users/?q=1")},
		{name: "backend POST without identity is refused", method: "POST", path: "/admin/users/", form: url.Values{"a": {"b"}}, status: 303,
			location: "/admin/login/?return="},
		{name: "front-end page is forwarded", method: "GET", path: "/blog/", status: 200},
		{name: "sign-in page is forwarded", method: "GET", path: "/admin/login/", status: 200},
		{name: "sign-in page ends an ended provider session", method: "GET", path: "/admin/login/?reason=idle", cookie: "fake_sso=ended", status: 303,
			location: "https://idp.example/logout"},
		{name: "password sign-in works as before", method: "POST", path: "/admin/login/", form: url.Values{"username": {"bob"}}, status: 302, location: "/admin/"},
		{name: "a pending identity is forwarded", method: "GET", path: "/admin/users/", cookie: "fake_sso=pending", status: 200},
		{name: "the panel's sign-in with a pending identity starts its session", method: "GET", path: "/admin/sso/callback?code=x", cookie: "fake_sso=pending",
			status: 302, location: "/admin/", started: true},
		{name: "the panel's callback without identity goes to the SSO", method: "GET", path: "/admin/sso/callback?code=x", status: 303,
			location: "/admin/_logout/sso/login?return="},
		{name: "the SSO's endpoints", method: "POST", path: "/admin/_logout/sso/backchannel", form: url.Values{"logout_token": {"x"}}, status: 200, served: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &ssoUpstream{}
			usrv := httptest.NewServer(up)
			t.Cleanup(usrv.Close)
			sso := &fakeSSO{}
			p, srv := newProxy(t, usrv.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) {
				o.SSO = func(m *logout.Manager, path string) (proxy.SSO, error) {
					sso.path = path
					return sso, nil
				}
			})
			if sso.path != "/admin/_logout/sso/" || p.SSOPath() != sso.path {
				t.Fatalf("SSO path %q, SSOPath %q", sso.path, p.SSOPath())
			}
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if tt.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", srv.URL)
			}
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie+"; other=1; fake_sso_flow=x")
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Location"), tt.location) {
				t.Fatalf("got %d to %q, want %d to %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if strings.HasPrefix(tt.location, sso.path) && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			if got := len(sso.served) > 0; got != tt.served {
				t.Errorf("served by the SSO: %v, want %v", got, tt.served)
			}
			for _, c := range up.cookies {
				if strings.Contains(c, "fake_sso") {
					t.Errorf("the panel got the SSO's cookie: %q", c)
				}
			}
			sessions, err := p.Manager().Sessions(t.Context(), logout.ListOptions{UserID: "panel:ada"})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(sessions) == 1 && len(sso.started) == 1 && sso.started[0] == sessions[0].ID; got != tt.started {
				t.Fatalf("started for the identity: %v (sessions %v, bound %v), want %v", got, sessions, sso.started, tt.started)
			}
			if tt.started {
				if tags := sessions[0].Tags; len(tags) != 1 || tags[0] != "oidc:sub:ada" {
					t.Errorf("tags %q, want the identity's", tags)
				}
				if sc := resp.Header.Values("Set-Cookie"); !strings.Contains(strings.Join(sc, "\n"), "fake_sso=bound") {
					t.Errorf("Set-Cookie %q: the identity was not bound", sc)
				}
			}
		})
	}
}

// TestSSORenewedKeepsTags: when the panel renews the session's ID, the
// session carried over keeps the identity's tags, by which the
// provider's logout finds it.
func TestSSORenewedKeepsTags(t *testing.T) {
	usrv := httptest.NewServer(&ssoUpstream{})
	t.Cleanup(usrv.Close)
	sso := &fakeSSO{}
	p, srv := newProxy(t, usrv.URL, proxy.Django(), fakeclock.New(), func(o *proxy.Options) {
		o.SSO = func(*logout.Manager, string) (proxy.SSO, error) { return sso, nil }
	})
	get := func(path, cookie string) *http.Response { return navigate(t, srv.URL+path, cookie) }
	var key string
	for _, c := range get("/admin/sso/callback", "fake_sso=pending").Cookies() {
		if c.Name == "sessionid" {
			key = c.Value
		}
	}
	if key == "" || len(sso.started) != 1 {
		t.Fatalf("no session started (cookie %q, bound %v)", key, sso.started)
	}
	if resp := get("/admin/renew/", "fake_sso=bound; sessionid="+key); resp.StatusCode != http.StatusFound {
		t.Fatalf("renew: %d", resp.StatusCode)
	}
	sessions, err := p.Manager().Sessions(t.Context(), logout.ListOptions{UserID: "panel:ada"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) == 0 {
		t.Fatal("no session after the renewal")
	}
	for _, s := range sessions {
		if len(s.Tags) != 1 || s.Tags[0] != "oidc:sub:ada" {
			t.Errorf("session %.8s has tags %q, want the identity's", s.ID, s.Tags)
		}
	}
	if len(sso.started) != 1 {
		t.Errorf("bound %d times, want once", len(sso.started))
	}
}

// navigate loads u as a page with the Cookie header cookie, without
// following a redirect, and returns the answer with its body closed.
func navigate(t *testing.T, u, cookie string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
