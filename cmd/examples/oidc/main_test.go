package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/cmd/internal/hydratest"
	"github.com/gologout/logout/oidc"
)

const (
	user     = "ada"
	password = "ada-password"
	// lockOpen: the widget locked the page in place.
	lockOpen = `document.querySelector('.logout-lock') && document.querySelector('.logout-lock').open`
	// pageReady: a page finished loading.
	pageReady = `document.readyState === 'complete'`
)

// instance is one instance of the example app, on a loopback server.
type instance struct {
	URL string
	m   *logout.Manager
}

// recorder records the logout tokens that Hydra posts, and forwards them
// to next when it is set.
type recorder struct {
	mu     sync.Mutex
	tokens []string
	next   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("logout_token") != "" {
		rec.mu.Lock()
		rec.tokens = append(rec.tokens, form.Get("logout_token"))
		rec.mu.Unlock()
	}
	if rec.next == "" {
		return // a client that only listens
	}
	res, err := http.Post(rec.next, r.Header.Get("Content-Type"), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	res.Body.Close()
	w.WriteHeader(res.StatusCode)
}

func (rec *recorder) last(t *testing.T) string {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.tokens) == 0 {
		t.Fatal("the provider sent no logout token")
	}
	return rec.tokens[len(rec.tokens)-1]
}

// site is a client registered at Hydra and the instances of the app that
// sign in through it, sharing one store and one cookie key.
type site struct {
	client    hydratest.RegisteredClient
	instances []instance
	store     *logout.MemoryStore
	back      *recorder
}

// newSite registers a client at h and starts n instances of the app for it.
func newSite(t *testing.T, h *hydratest.Server, n int, keep bool, lifetime time.Duration) *site {
	t.Helper()
	return newSiteWith(t, h, n, keep, lifetime, false)
}

// newSiteWith is newSite with front-channel logout instead of the
// back-channel when front is true.
func newSiteWith(t *testing.T, h *hydratest.Server, n int, keep bool, lifetime time.Duration, front bool) *site {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s := &site{store: logout.NewMemoryStore(), back: &recorder{}}
	servers := make([]*httptest.Server, n)
	for i := range servers {
		servers[i] = httptest.NewUnstartedServer(nil)
		t.Cleanup(servers[i].Close)
	}
	base := "http://" + servers[0].Listener.Addr().String()
	rec := httptest.NewServer(s.back)
	t.Cleanup(rec.Close)
	s.back.next = base + backChannel
	c := hydratest.Client{
		RedirectURIs:           []string{base + callbackPath},
		PostLogoutRedirectURIs: []string{base + loggedOut},
		BackChannelLogoutURI:   rec.URL,
	}
	if front {
		c.BackChannelLogoutURI, c.FrontChannelLogoutURI = "", base+frontChannel
	}
	s.client = h.NewClient(t, c)
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	for _, srv := range servers {
		m, err := newManager(s.store, lifetime, logout.SystemClock{}, logger)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go m.Run(ctx)
		h, err := newServer(t.Context(), m, config{
			Issuer: h.Issuer, ClientID: s.client.ID, ClientSecret: s.client.Secret,
			BaseURL: base, CookieKey: key, KeepProviderSession: keep,
		}, time.Now, logger)
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = h
		srv.Start()
		s.instances = append(s.instances, instance{URL: "http://" + srv.Listener.Addr().String(), m: m})
	}
	return s
}

// testWriter writes the app's warnings to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// tab is a browser tab of a test.
type tab struct{ browsertest.Tab }

func (tb tab) open(u string) {
	tb.T.Helper()
	tb.Do(chromedp.Navigate(u))
	tb.Wait(5*time.Second, u+" to load", pageReady)
}

// load runs a step that loads a new page and waits for it.
func (tb tab) load(step chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
	tb.Do(step)
	tb.Wait(8*time.Second, "a new page", `!window.oldPage && document.readyState === 'complete'`)
}

// providerForm waits for the provider's sign-in form, then signs in there.
func (tb tab) providerForm(h *hydratest.Server) {
	tb.T.Helper()
	tb.Wait(8*time.Second, "the provider's password form", `!!document.querySelector('#password')`)
	if loc := tb.Location(); !strings.HasPrefix(loc, h.UI+"/login") {
		tb.T.Fatalf("password form at %s, want the provider's", loc)
	}
	tb.Do(chromedp.SetValue(chromedp.ID("username"), user), chromedp.SetValue(chromedp.ID("password"), password))
	tb.load(chromedp.Click(chromedp.ID("submit")))
}

// dashboard waits for the app's dashboard.
func (tb tab) dashboard() {
	tb.T.Helper()
	tb.Wait(8*time.Second, "the dashboard", `!!document.querySelector('#dashboard')`)
}

// signInPage waits for the app's sign-in page with the notice.
func (tb tab) signInPage(notice string) {
	tb.T.Helper()
	tb.Wait(10*time.Second, "the sign-in page saying "+notice, `document.querySelector('#message') && document.querySelector('#message').textContent === `+jsString(notice))
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestSingleSignOn(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: starts Ory Hydra and Chromium")
	}
	h := hydratest.Start(t, hydratest.Options{Users: map[string]string{user: password}})
	b := browsertest.NewBrowser(t)
	idle := logout.ReasonIdle.Message()

	t.Run("an idle end ends the provider session: the next sign-in asks for the password", func(t *testing.T) {
		s := newSite(t, h, 1, false, 4*time.Second)
		app := s.instances[0].URL
		tb := tab{browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})}
		tb.open(app + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		prompts := h.Prompts(user)

		tb.Wait(10*time.Second, "the page locked after the idle lifetime", lockOpen)
		tb.open(app + "/backend/")
		// To the provider's end_session_endpoint and back, with the reason.
		tb.signInPage(idle)
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		if got := h.Prompts(user); got != prompts+1 {
			t.Errorf("password prompts: got %d, want %d", got, prompts+1)
		}
		if got := s.back.tokens; len(got) == 0 {
			t.Log("no back-channel token for the RP-initiated logout (the session had ended already)")
		}
	})

	t.Run("provider session kept: prompt=login, and auth_time checked without cookies", func(t *testing.T) {
		s := newSite(t, h, 1, true, 4*time.Second)
		app := s.instances[0].URL
		// Another app of the same provider asks for the password first;
		// then this app's first sign-in is silent: single sign-on works.
		other := newSite(t, h, 1, true, time.Hour)
		tb := tab{browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})}
		tb.open(other.instances[0].URL + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		prompts := h.Prompts(user)
		tb.open(app + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.dashboard()
		if got := h.Prompts(user); got != prompts {
			t.Errorf("a first sign-in with a live provider session asked for the password (%d prompts, want %d)", got, prompts)
		}

		tb.Wait(10*time.Second, "the page locked after the idle lifetime", lockOpen)
		tb.open(app + "/backend/")
		tb.Wait(5*time.Second, "the sign-in page", `!!document.querySelector('#sso')`)
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		if got := h.Prompts(user); got != prompts+1 {
			t.Errorf("password prompts: got %d, want %d", got, prompts+1)
		}

		// The browser loses the app's cookies: the provider signs the
		// user in silently, the app refuses the old authentication and
		// asks again.
		tb.Wait(10*time.Second, "the page locked after the idle lifetime", lockOpen)
		for _, name := range []string{oidc.DefaultCookieName, oidc.DefaultCookieName + "_reauth", "logout_session"} {
			if _, err := chromedp.Call(tb.Ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: name, URL: app + "/"}); err != nil {
				t.Fatal(err)
			}
		}
		tb.open(app + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		if got := h.Prompts(user); got != prompts+2 {
			t.Errorf("password prompts: got %d, want %d", got, prompts+2)
		}
	})

	t.Run("the provider ends the session: every tab on every instance locks within a second", func(t *testing.T) {
		s := newSite(t, h, 2, false, 0)
		a, bInst := s.instances[0], s.instances[1]
		tb := tab{browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})}
		tb.open(a.URL + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		// A second tab of the same browser, on the other instance.
		tb2 := tab{browsertest.NewTab(t, tb.Ctx, browsertest.TabOptions{})}
		tb2.open(bInst.URL + "/backend/")
		tb2.dashboard()

		sid := providerSession(t, h, a.m)
		start := time.Now()
		h.EndSession(t, sid)
		for _, x := range []tab{tb, tb2} {
			x.Wait(time.Second-time.Since(start), "the tab locked", lockOpen)
		}
		t.Logf("both tabs locked %v after the provider ended the session", time.Since(start).Round(time.Millisecond))
		evs, err := a.m.QueryEvents(t.Context(), logout.EventQuery{UserID: user, Reason: logout.ReasonProvider})
		if err != nil || len(evs) != 1 {
			t.Errorf("provider ends in the log: got %v, %v; want 1", evs, err)
		}
	})

	t.Run("front-channel: signing out at the provider locks the app's tabs", func(t *testing.T) {
		s := newSiteWith(t, h, 1, false, 0, true)
		a := s.instances[0]
		tb := tab{browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})}
		tb.open(a.URL + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		tb2 := tab{browsertest.NewTab(t, tb.Ctx, browsertest.TabOptions{})}
		tb2.open(a.URL + "/backend/")
		tb2.dashboard()
		// The person signs out at the provider, in the first tab: its
		// logout page frames the app's front-channel URL.
		tb.open(h.Issuer + "oauth2/sessions/logout")
		tb2.Wait(5*time.Second, "the other tab locked", lockOpen)
		evs, err := a.m.QueryEvents(t.Context(), logout.EventQuery{UserID: user, Reason: logout.ReasonProvider})
		if err != nil || len(evs) != 1 {
			t.Errorf("provider ends in the log: got %v, %v; want 1", evs, err)
		}
	})

	t.Run("forged, expired, replayed and wrong-audience logout tokens change nothing", func(t *testing.T) {
		s := newSite(t, h, 1, false, 0)
		a := s.instances[0]
		// A second client that the same provider session signs in to,
		// so that Hydra sends it a logout token of its own.
		listener := &recorder{}
		lsrv := httptest.NewServer(listener)
		t.Cleanup(lsrv.Close)
		other := h.NewClient(t, hydratest.Client{RedirectURIs: []string{lsrv.URL + "/cb"}, BackChannelLogoutURI: lsrv.URL + "/bc"})

		tb := tab{browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})}
		tb.open(a.URL + "/backend/")
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()
		tb.open(h.Issuer + "oauth2/auth?" + url.Values{"client_id": {other.ID}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {lsrv.URL + "/cb"}, "state": {"state-of-sixteen-chars"}, "nonce": {"nonce-of-sixteen"}}.Encode())
		tb.Wait(8*time.Second, "the other client's redirect", `location.href.startsWith(`+jsString(lsrv.URL)+`)`)
		tb.open(a.URL + "/backend/")
		tb.dashboard()

		h.EndSession(t, providerSession(t, h, a.m))
		tb.Wait(2*time.Second, "the tab locked", lockOpen)
		own, theirs := s.back.last(t), listener.last(t)

		// Sign in again (the provider asks), for a live session to guard.
		tb.open(a.URL + "/backend/")
		tb.signInPage(logout.ReasonProvider.Message())
		tb.load(chromedp.Click(chromedp.ID("sso")))
		tb.providerForm(h)
		tb.dashboard()

		// A forged token: the real one's header and claims, for every
		// session of the user with a new jti, signed by a key the
		// provider never had.
		forged := reSign(t, own, func(c map[string]any) {
			delete(c, "sid")
			c["sub"], c["jti"], c["iat"] = user, "forged", time.Now().Unix()
		})
		// The real signature over other claims.
		tampered := func() string {
			p := strings.Split(own, ".")
			f := strings.Split(forged, ".")
			return p[0] + "." + f[1] + "." + p[2]
		}()
		// An instance whose clock is three minutes on: the real token has
		// expired there (iat more than MaxTokenAge old).
		later, err := newManager(s.store, 0, aheadClock{d: 3 * time.Minute}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		laterRP, err := oidc.New(t.Context(), later, oidc.Options{Issuer: h.Issuer, ClientID: s.client.ID, KeepProviderSession: true,
			Now: aheadClock{d: 3 * time.Minute}.Now, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		appBC := a.URL + backChannel
		tests := []struct {
			name  string
			token string
			to    func(token string) int
		}{
			{"replayed", own, post(appBC)},
			{"forged", forged, post(appBC)},
			{"tampered", tampered, post(appBC)},
			{"wrong audience", theirs, post(appBC)},
			{"expired", own, serve(laterRP.BackChannel())},
			{"garbage", "x.y.z", post(appBC)},
		}
		before := count(t, a.m)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := tt.to(tt.token); got != http.StatusBadRequest {
					t.Errorf("status: got %d, want 400", got)
				}
				if got := count(t, a.m); got != before || got == 0 {
					t.Errorf("sessions: got %d, want %d", got, before)
				}
				evs, _ := a.m.QueryEvents(t.Context(), logout.EventQuery{UserID: user, Reason: logout.ReasonProvider})
				if len(evs) != 1 {
					t.Errorf("provider ends: got %d, want the first one only", len(evs))
				}
			})
		}
		tb.open(a.URL + "/backend/")
		tb.dashboard()
	})
}

// providerSession returns the provider session (sid) of the live session
// in m's store, found by its tag among the provider's sessions.
func providerSession(t *testing.T, h *hydratest.Server, m *logout.Manager) string {
	t.Helper()
	sessions, err := m.Sessions(t.Context(), logout.ListOptions{UserID: user})
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range h.SessionIDs(t, user) {
		for _, s := range sessions {
			if slices.Contains(s.Tags, oidc.SessionTag(h.Issuer, sid)) {
				return sid
			}
		}
	}
	t.Fatalf("no provider session tags any of %d sessions", len(sessions))
	return ""
}

// reSign returns token's claims, changed by mod, signed with a new key
// under the token's own header (kid included).
func reSign(t *testing.T, token string, mod func(map[string]any)) string {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		t.Fatal(err)
	}
	mod(claims)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.Signatures[0].Protected
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: hdr.KeyID}},
		&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"typ": "JWT"}})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	out, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := out.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// post returns a function that posts a logout token to u.
func post(u string) func(string) int {
	return func(token string) int {
		res, err := http.PostForm(u, url.Values{"logout_token": {token}})
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
}

// serve returns a function that serves a logout token to h.
func serve(h http.Handler) func(string) int {
	return func(token string) int {
		r := httptest.NewRequest(http.MethodPost, "/bc", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
}

func count(t *testing.T, m *logout.Manager) int {
	t.Helper()
	n, err := m.CountSessions(t.Context(), logout.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// aheadClock is the system clock d ahead, for an instance whose clock is
// wrong; its timers are the system clock's.
type aheadClock struct {
	logout.SystemClock
	d time.Duration
}

func (c aheadClock) Now() time.Time { return time.Now().Add(c.d) }
