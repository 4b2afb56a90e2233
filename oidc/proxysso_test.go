package oidc_test

import (
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/oidc"
)

// fakeProvider serves discovery and the token endpoint; its token
// endpoint answers with the ID token that the test set, and records the
// PKCE verifier it got.
type fakeProvider struct {
	*httptest.Server
	mu       sync.Mutex
	idToken  string
	verifier string
}

func newFakeProvider(t *testing.T) *fakeProvider {
	p := &fakeProvider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.URL, "authorization_endpoint": p.URL + "/auth", "token_endpoint": p.URL + "/token",
			"jwks_uri": p.URL + "/jwks", "end_session_endpoint": p.URL + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if id, secret, ok := r.BasicAuth(); !ok || id != "proxy" || secret != "proxy-secret" || r.PostFormValue("code") != "the-code" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		p.verifier = r.PostFormValue("code_verifier")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": p.idToken})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

const ssoURL = "https://panel.example/admin/_logout/sso/"

// newProxySSO returns a fake provider, its key, and a ProxySSO for it,
// with its Manager and clock; mod changes the options.
func newProxySSO(t *testing.T, mod func(*oidc.ProxyOptions)) (*fakeProvider, *rsa.PrivateKey, *fakeclock.Clock, *logout.Manager, *oidc.ProxySSO) {
	t.Helper()
	p := newFakeProvider(t)
	k, _ := keys(t)
	clock := fakeclock.New()
	quiet := slog.New(slog.DiscardHandler)
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Clock: clock, Logger: quiet, BackendPrefix: "/admin", SignInPath: "/admin/login/"})
	if err != nil {
		t.Fatal(err)
	}
	o := oidc.ProxyOptions{
		Options:      oidc.Options{Issuer: p.URL, ClientID: "proxy", KeySet: staticKeys(k), Now: clock.Now, Logger: quiet},
		ClientSecret: "proxy-secret", URL: ssoURL, UserID: func(name string) string { return "panel:" + name },
	}
	if mod != nil {
		mod(&o)
	}
	s, err := oidc.NewProxySSO(t.Context(), m, o)
	if err != nil {
		t.Fatal(err)
	}
	return p, k, clock, m, s
}

func TestProxySSOCallback(t *testing.T) {
	tests := []struct {
		name     string
		claims   func(c map[string]any) // changes the valid claims
		query    func(q url.Values)     // changes the callback's query
		ended    bool                   // the user's last session ended after auth_time
		status   int
		location string // a prefix
		identity bool
	}{
		{name: "signs in", status: 303, location: "/admin/x?y=1", identity: true},
		{name: "wrong state", query: func(q url.Values) { q.Set("state", "forged") }, status: 400},
		{name: "no state", query: func(q url.Values) { q.Del("state") }, status: 400},
		{name: "the provider refused", query: func(q url.Values) { q.Set("error", "access_denied") }, status: 403},
		{name: "code not redeemed", query: func(q url.Values) { q.Set("code", "other") }, status: 502},
		{name: "wrong nonce", claims: func(c map[string]any) { c["nonce"] = "other" }, status: 403},
		{name: "other audience", claims: func(c map[string]any) { c["aud"] = "panel" }, status: 403},
		{name: "expired", claims: func(c map[string]any) { c["exp"] = time.Unix(c["iat"].(int64), 0).Add(-time.Minute).Unix() }, status: 403},
		{name: "authenticated before the last end", ended: true, status: 303,
			location: ssoURL[len("https://panel.example"):] + "login?return=" + url.QueryEscape("/admin/x?y=1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, k, clock, m, s := newProxySSO(t, func(o *oidc.ProxyOptions) {
				o.CookieKey = []byte(strings.Repeat("k", 32))
				o.Scopes = []string{"profile"}
			})
			authTime := clock.Now().Add(-time.Minute)
			if tt.ended {
				u := logout.User{ID: "panel:ada", Name: "ada"}
				ended := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if _, err := m.SignIn(w, r, u); err != nil {
						t.Fatal(err)
					}
				}))
				ended.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "https://panel.example/admin/", nil))
				if _, err := m.EndSessions(t.Context(), logout.Selector{UserID: u.ID}, logout.ReasonIdle); err != nil {
					t.Fatal(err)
				}
			}

			b := newBrowser()
			w := b.do(s, httptest.NewRequest(http.MethodGet, ssoURL+"login?return="+url.QueryEscape("/admin/x?y=1"), nil))
			auth, err := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(auth.String(), p.URL+"/auth?") {
				t.Fatalf("login: %d to %q", w.Code, w.Header().Get("Location"))
			}
			q := auth.Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("scope") != "openid profile" || q.Get("redirect_uri") != ssoURL+"callback" ||
				q.Get("client_id") != "proxy" || q.Get("nonce") == "" || q.Get("state") == "" || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("authorization request %v, Cache-Control %q", q, w.Header().Get("Cache-Control"))
			}
			claims := map[string]any{"iss": p.URL, "aud": "proxy", "sub": "sub-1", "sid": "sid-1", "nonce": q.Get("nonce"),
				"preferred_username": "ada", "iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Hour).Unix(), "auth_time": authTime.Unix()}
			if tt.claims != nil {
				tt.claims(claims)
			}
			p.mu.Lock()
			p.idToken = sign(t, k, jose.RS256, claims, nil)
			p.mu.Unlock()
			cq := url.Values{"code": {"the-code"}, "state": {q.Get("state")}}
			if tt.query != nil {
				tt.query(cq)
			}
			w = b.do(s, httptest.NewRequest(http.MethodGet, ssoURL+"callback?"+cq.Encode(), nil))
			if w.Code != tt.status || !strings.HasPrefix(w.Header().Get("Location"), tt.location) || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("callback: %d to %q (Cache-Control %q), want %d to %q", w.Code, w.Header().Get("Location"), w.Header().Get("Cache-Control"), tt.status, tt.location)
			}
			if tt.status == 303 && tt.query == nil && p.verifier == "" {
				t.Error("no PKCE verifier at the token endpoint")
			}
			r := httptest.NewRequest(http.MethodGet, "https://panel.example/admin/", nil)
			for _, c := range b.cookies {
				r.AddCookie(c)
			}
			u, ok := s.Identity(r)
			if ok != tt.identity {
				t.Fatalf("identity %v, want %v", ok, tt.identity)
			}
			if !tt.identity {
				return
			}
			want := logout.User{ID: "panel:ada", Name: "ada", Tags: []string{oidc.SubjectTag(p.URL, "sub-1"), oidc.SessionTag(p.URL, "sid-1")}}
			if u.ID != want.ID || u.Name != want.Name || !slices.Equal(u.Tags, want.Tags) {
				t.Fatalf("identity %+v, want %+v", u, want)
			}
			for name := range b.cookies {
				if !slices.ContainsFunc(s.CookieNames(), func(pat string) bool {
					pre, wild := strings.CutSuffix(pat, "*")
					return name == pat || (wild && strings.HasPrefix(name, pre) && len(name) > len(pre))
				}) {
					t.Errorf("cookie %s is not among CookieNames %q", name, s.CookieNames())
				}
			}
		})
	}
}

// TestProxySSOStarted: the identity starts one session; when that
// session ends, the sign-in page ends the provider session with the ID
// token, and the post-logout endpoint returns to the sign-in page with the
// reason.
func TestProxySSOStarted(t *testing.T) {
	p, k, clock, m, s := newProxySSO(t, nil)
	var err error
	b := newBrowser()
	w := b.do(s, httptest.NewRequest(http.MethodGet, ssoURL+"login", nil))
	auth, _ := url.Parse(w.Header().Get("Location"))
	p.idToken = sign(t, k, jose.RS256, map[string]any{"iss": p.URL, "aud": "proxy", "sub": "sub-1", "nonce": auth.Query().Get("nonce"),
		"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Hour).Unix(), "auth_time": clock.Now().Unix()}, nil)
	w = b.do(s, httptest.NewRequest(http.MethodGet, ssoURL+"callback?code=the-code&state="+auth.Query().Get("state"), nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/" {
		t.Fatalf("callback: %d to %q", w.Code, w.Header().Get("Location"))
	}
	var sess logout.Session
	start := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.Identity(r)
		if !ok || u.Name != "sub-1" {
			t.Fatalf("identity %+v %v: want the subject as the name", u, ok)
		}
		if sess, err = m.SignIn(w, r, u); err != nil {
			t.Fatal(err)
		}
		s.Started(w, r, sess)
	}))
	b.do(start, httptest.NewRequest(http.MethodGet, "https://panel.example/admin/", nil))
	r := httptest.NewRequest(http.MethodGet, "https://panel.example/admin/", nil)
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	if _, ok := s.Identity(r); ok {
		t.Fatal("the identity is still pending after it started a session")
	}
	if s.EndProviderSession(httptest.NewRecorder(), r) {
		t.Fatal("EndProviderSession while the session is alive")
	}
	if _, err := m.EndSessions(t.Context(), logout.Selector{IDs: []string{sess.ID}}, logout.ReasonIdle); err != nil {
		t.Fatal(err)
	}
	w = b.do(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.EndProviderSession(w, r) {
			t.Fatal("the sign-in page did not end the provider session")
		}
	}), httptest.NewRequest(http.MethodGet, "https://panel.example/admin/login/?reason=idle", nil))
	end, _ := url.Parse(w.Header().Get("Location"))
	if !strings.HasPrefix(end.String(), p.URL+"/logout?") || end.Query().Get("id_token_hint") != p.idToken ||
		end.Query().Get("post_logout_redirect_uri") != ssoURL+"logged-out" {
		t.Fatalf("end session: %q", end)
	}
	w = b.do(s, httptest.NewRequest(http.MethodGet, ssoURL+"logged-out?state="+url.QueryEscape(end.Query().Get("state")), nil))
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login/") || !strings.Contains(loc, "reason=idle") {
		t.Fatalf("post-logout: %d to %q", w.Code, loc)
	}
	for _, tt := range []struct{ method, path string }{{"POST", "login"}, {"POST", "callback"}, {"GET", "other"}, {"GET", "backchannel"}} {
		if w := b.do(s, httptest.NewRequest(tt.method, ssoURL+tt.path, nil)); w.Code != http.StatusMethodNotAllowed && w.Code != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 405 or 404", tt.method, tt.path, w.Code)
		}
	}
}
