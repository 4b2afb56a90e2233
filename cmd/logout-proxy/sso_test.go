package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/cmd/internal/hydratest"
)

// ssoPanel is a stand-in for an admin panel with a single sign-on plugin
// of its own, under the django profile's paths: a real OpenID client of
// the provider (go-oidc and oauth2), which the proxy cannot see into.
type ssoPanel struct {
	*httptest.Server
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	mu       sync.Mutex
	sessions map[string]string // sessionid → subject
}

// newSSOPanel starts the panel, registered at h as a client whose
// redirect URI is at the proxy's base.
func newSSOPanel(t *testing.T, h *hydratest.Server, base string) *ssoPanel {
	t.Helper()
	c := h.NewClient(t, hydratest.Client{RedirectURIs: []string{base + "/admin/sso/callback"}})
	p, err := gooidc.NewProvider(t.Context(), h.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	s := &ssoPanel{sessions: map[string]string{},
		conf: oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: p.Endpoint(),
			RedirectURL: base + "/admin/sso/callback", Scopes: []string{gooidc.ScopeOpenID}},
		verifier: p.Verifier(&gooidc.Config{ClientID: c.ID}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		user := s.user(r)
		if user == "" {
			http.Redirect(w, r, "/admin/login/?next=/admin/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Dashboard</title></head><body><div id="user-tools">%s</div><h1 id="dashboard">Dashboard</h1></body></html>`, user)
	})
	mux.HandleFunc("GET /admin/login/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><title>Sign in</title></head><body><h1 id="sign-in">Sign in</h1><a href="/admin/sso/start">Sign in with single sign-on</a></body></html>`)
	})
	mux.HandleFunc("GET /admin/sso/start", func(w http.ResponseWriter, r *http.Request) {
		state := randomHex()
		http.SetCookie(w, &http.Cookie{Name: "panel_sso_state", Value: state, Path: "/admin/sso/", HttpOnly: true})
		http.Redirect(w, r, s.conf.AuthCodeURL(state), http.StatusFound)
	})
	mux.HandleFunc("GET /admin/sso/callback", func(w http.ResponseWriter, r *http.Request) {
		st, err := r.Cookie("panel_sso_state")
		if err != nil || st.Value != r.URL.Query().Get("state") {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := s.conf.Exchange(r.Context(), r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := s.verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "ID token: "+err.Error(), http.StatusForbidden)
			return
		}
		key := randomHex()
		s.mu.Lock()
		s.sessions[key] = id.Subject
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: key, Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/admin/", http.StatusFound)
	})
	mux.HandleFunc("POST /admin/logout/", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("sessionid"); err == nil {
			s.mu.Lock()
			delete(s.sessions, c.Value)
			s.mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: "sessionid", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/admin/login/", http.StatusFound)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			if strings.Contains(c.Name, "logout_oidc") {
				t.Errorf("the panel got the proxy's cookie %s at %s", c.Name, r.URL.Path)
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ssoPanel) user(r *http.Request) string {
	c, err := r.Cookie("sessionid")
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ssoBrowser follows redirects across the proxy, the provider and its
// login UI, as a browser does.
type ssoBrowser struct {
	t    *testing.T
	h    *hydratest.Server
	base string
	c    *http.Client
	hops []*url.URL // the redirects the last get or form followed
}

func newSSOBrowser(t *testing.T, h *hydratest.Server, base string) *ssoBrowser {
	jar, _ := cookiejar.New(nil)
	b := &ssoBrowser{t: t, h: h, base: base}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return errors.New("too many redirects")
		}
		b.hops = append(b.hops, r.URL)
		return nil
	}}
	return b
}

// get loads u (a path at the proxy, or a URL) and follows the redirects;
// it returns where it landed and the page.
func (b *ssoBrowser) get(u string) (*url.URL, string) {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *ssoBrowser) do(req *http.Request) (*url.URL, string) {
	b.t.Helper()
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	b.hops = nil
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s %s landed at %s with %d: %s", req.Method, req.URL.Path, resp.Request.URL, resp.StatusCode, body)
	}
	return resp.Request.URL, string(body)
}

var challengeRe = regexp.MustCompile(`name="challenge" value="([^"]+)"`)

// providerForm fills in the provider's login form that page is, and
// follows on.
func (b *ssoBrowser) providerForm(at *url.URL, page, user, password string) (*url.URL, string) {
	b.t.Helper()
	m := challengeRe.FindStringSubmatch(page)
	if m == nil || !strings.HasPrefix(at.String(), b.h.UI+"/login") {
		b.t.Fatalf("want the provider's login form, landed at %s: %s", at, page)
	}
	form := url.Values{"challenge": {m[1]}, "username": {user}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, b.h.UI+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// first answers GET path at the proxy without following a redirect.
func (b *ssoBrowser) first(path string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// startSSO runs the command with --oidc-issuer h.Issuer on the real
// clock in front of a new ssoPanel, both new clients of h; it returns the
// proxy's base URL, the command and the proxy's client secret.
func startSSO(t *testing.T, h *hydratest.Server, keep bool, lifetime time.Duration) (string, *started, string) {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", hydratest.FreePort(t))
	sso := base + "/admin/_logout/sso/"
	client := h.NewClient(t, hydratest.Client{RedirectURIs: []string{sso + "callback"},
		PostLogoutRedirectURIs: []string{sso + "logged-out"}, BackChannelLogoutURI: sso + "backchannel"})
	panel := newSSOPanel(t, h, base)
	args := []string{"--addr", strings.TrimPrefix(base, "http://"), "--oidc-issuer", h.Issuer, "--oidc-client-id", client.ID}
	if keep {
		args = append(args, "--oidc-keep-provider-session")
	}
	env := map[string]string{"LOGOUT_OIDC_CLIENT_SECRET": client.Secret, "LOGOUT_OIDC_COOKIE_KEY": strings.Repeat("5a", 32)}
	return base, startClock(t, nil, lifetime, panel.URL, env, args...), client.Secret
}

// TestSingleSignOnInChromium: in Chromium, a browser that signed in
// through the proxy and the panel's plugin has its open page locked
// within a second when the provider ends its session (back-channel
// logout, then the push stream).
func TestSingleSignOnInChromium(t *testing.T) {
	const user, password = "ada", "ada-password"
	h := hydratest.Start(t, hydratest.Options{Users: map[string]string{user: password}})
	br := browsertest.NewBrowser(t)
	base, _, _ := startSSO(t, h, false, time.Hour)
	tab := browsertest.NewTab(t, br, browsertest.TabOptions{Isolated: true})
	tab.Do(chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("submit")))
	tab.Wait(10*time.Second, "the panel's sign-in page", `location.pathname === '/admin/login/' && document.readyState === 'complete'`)
	tab.Do(chromedp.Click(chromedp.CSS(`a[href="/admin/sso/start"]`)))
	tab.Wait(10*time.Second, "the dashboard with the counter", `document.querySelector('#dashboard') !== null && document.querySelector('.logout-counter') !== null`)

	start := time.Now()
	h.EndSession(t, h.SessionIDs(t, user)[0])
	tab.Wait(time.Second-time.Since(start), "the tab locked", `document.querySelector('.logout-lock') !== null && document.querySelector('.logout-lock').open`)
	t.Logf("the tab locked %v after the provider ended the session", time.Since(start).Round(time.Millisecond))
}

// TestSingleSignOnThroughCommand runs logout-proxy with --oidc-issuer in
// front of a panel whose own single sign-on plugin signs in at the same
// Ory Hydra: the proxy signs the browser in first; an idle session's end
// makes the next sign-in ask for the password again (by ending the
// provider session, or with prompt=login); the provider's back-channel
// logout ends the panel's session.
func TestSingleSignOnThroughCommand(t *testing.T) {
	const user, password = "ada", "ada-password"
	// Real time: the provider's auth_time is, and a sign-in must be
	// newer than the last ended session.
	const lifetime = 3 * time.Second
	h := hydratest.Start(t, hydratest.Options{Users: map[string]string{user: password}})
	for _, tc := range []struct {
		name string
		keep bool          // --oidc-keep-provider-session
		end  logout.Reason // how the session ends: idle, or at the provider
	}{
		{name: "idle ends the provider session", keep: false, end: logout.ReasonIdle},
		{name: "idle asks again, the provider session kept", keep: true, end: logout.ReasonIdle},
		{name: "back-channel logout", keep: false, end: logout.ReasonProvider},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, s, secret := startSSO(t, h, tc.keep, lifetime)
			prompts := h.Prompts(user)
			b := newSSOBrowser(t, h, base)

			// The proxy sends the browser to the provider first; the
			// panel's plugin then signs in silently.
			b.signIn(user, password)
			if n := h.Prompts(user) - prompts; n != 1 {
				t.Fatalf("the provider asked for the password %d times, want 1", n)
			}
			if strings.Contains(s.out.String(), secret) {
				t.Error("the output holds the client secret")
			}

			if tc.end == logout.ReasonProvider {
				// The provider ends its session (the newest: this
				// sign-in's): the back-channel logout ends the panel's.
				h.EndSession(t, h.SessionIDs(t, user)[0])
				deadline := time.Now().Add(5 * time.Second)
				for {
					resp := b.first("/admin/")
					loc, _ := resp.Location()
					if loc != nil && loc.Path == "/admin/login/" && loc.Query().Get("reason") == tc.end.String() {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("after the provider's logout: /admin/ answered %d, Location %v", resp.StatusCode, loc)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}

			// Idle: the next page is the sign-in page with the notice,
			// after the provider's logout unless the session is kept.
			time.Sleep(lifetime + 1500*time.Millisecond)
			at, page := b.get("/admin/")
			if at.Path != "/admin/login/" || at.Query().Get("reason") != tc.end.String() || !strings.Contains(page, tc.end.Message()) {
				t.Fatalf("after the end: landed at %s: %s", at, page)
			}
			// RP-initiated logout: through the provider's end_session
			// endpoint with the ID token, back to the sign-in page.
			ended := slices.ContainsFunc(b.hops, func(u *url.URL) bool {
				return u.Path == "/oauth2/sessions/logout" && u.Query().Get("id_token_hint") != ""
			})
			if ended == tc.keep {
				t.Errorf("through the provider's logout: %v, want %v (hops %v)", ended, !tc.keep, b.hops)
			}
			// The next sign-in asks for the password again.
			b.signIn(user, password)
			if n := h.Prompts(user) - prompts; n != 2 {
				t.Fatalf("the provider asked for the password %d times, want 2", n)
			}
		})
	}
}

// signIn signs in as a browser does: /admin/ leads to the provider's
// form through the proxy's sign-in, then to the panel's sign-in page, whose
// single sign-on link signs in at the provider silently.
func (b *ssoBrowser) signIn(user, password string) {
	b.t.Helper()
	at, page := b.get("/admin/")
	at, page = b.providerForm(at, page, user, password)
	if at.Path != "/admin/login/" {
		b.t.Fatalf("after the provider: landed at %s: %s", at, page)
	}
	if at, page = b.get("/admin/sso/start"); at.Path != "/admin/" || !strings.Contains(page, `id="dashboard"`) {
		b.t.Fatalf("the panel's single sign-on: landed at %s: %s", at, page)
	}
}
