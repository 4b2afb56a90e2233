package oidc_test

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/gologout/logout"
	"github.com/gologout/logout/oidc"
	"golang.org/x/oauth2"
)

func TestVerifyLogoutToken(t *testing.T) {
	e := newEnv(t, nil)
	_, other := keys(t)
	now := e.clock.Now()
	with := func(mod func(c map[string]any)) map[string]any {
		c := e.logoutClaims("sid-1")
		mod(c)
		return c
	}
	noneToken := func(c map[string]any) string {
		// alg none: a header and claims with an empty signature.
		tok := e.token(c)
		parts := strings.Split(tok, ".")
		return "eyJhbGciOiJub25lIn0." + parts[1] + "."
	}
	tests := []struct {
		name  string
		token func() string
		ok    bool
	}{
		{"valid, typed logout+jwt", func() string { return e.token(e.logoutClaims("sid-1")) }, true},
		{"valid, typ JWT as Hydra sends", func() string {
			return sign(t, e.key, jose.RS256, e.logoutClaims("sid-1"), map[jose.HeaderKey]any{"typ": "JWT"})
		}, true},
		{"valid, untyped, aud a string, sub only", func() string {
			return sign(t, e.key, jose.RS256, with(func(c map[string]any) { c["aud"] = clientID; delete(c, "sid"); c["sub"] = "ada" }), nil)
		}, true},
		{"valid, exp in the future", func() string { return e.token(with(func(c map[string]any) { c["exp"] = now.Add(time.Minute).Unix() })) }, true},
		{"alg none", func() string { return noneToken(e.logoutClaims("sid-1")) }, false},
		{"HS256 with the public key as secret", func() string {
			return sign(t, []byte("a shared secret of 32 bytes!!!!!"), jose.HS256, e.logoutClaims("sid-1"), nil)
		}, false},
		{"forged: signed by another key", func() string { return sign(t, other, jose.ES256, e.logoutClaims("sid-1"), nil) }, false},
		{"signature of another token", func() string {
			a, b := strings.Split(e.token(e.logoutClaims("sid-1")), "."), strings.Split(e.token(e.logoutClaims("sid-2")), ".")
			return a[0] + "." + b[1] + "." + a[2]
		}, false},
		{"typ of an access token", func() string {
			return sign(t, e.key, jose.RS256, e.logoutClaims("sid-1"), map[jose.HeaderKey]any{"typ": "at+jwt"})
		}, false},
		{"another issuer", func() string { return e.token(with(func(c map[string]any) { c["iss"] = issuer + "/" })) }, false},
		{"wrong audience", func() string { return e.token(with(func(c map[string]any) { c["aud"] = []string{"other-client"} })) }, false},
		{"no audience", func() string { return e.token(with(func(c map[string]any) { delete(c, "aud") })) }, false},
		{"aud a number", func() string { return e.token(with(func(c map[string]any) { c["aud"] = 7 })) }, false},
		{"no iat", func() string { return e.token(with(func(c map[string]any) { delete(c, "iat") })) }, false},
		{"iat too old", func() string {
			return e.token(with(func(c map[string]any) {
				c["iat"] = now.Add(-oidc.DefaultMaxTokenAge - oidc.DefaultLeeway - time.Second).Unix()
			}))
		}, false},
		{"iat in the future", func() string { return e.token(with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })) }, false},
		{"iat a string", func() string { return e.token(with(func(c map[string]any) { c["iat"] = "now" })) }, false},
		{"expired", func() string {
			return e.token(with(func(c map[string]any) { c["exp"] = now.Add(-oidc.DefaultLeeway - time.Second).Unix() }))
		}, false},
		{"no events", func() string { return e.token(with(func(c map[string]any) { delete(c, "events") })) }, false},
		{"events without the logout event", func() string {
			return e.token(with(func(c map[string]any) { c["events"] = map[string]any{"http://example.com/other": map[string]any{}} }))
		}, false},
		{"logout event not an object", func() string {
			return e.token(with(func(c map[string]any) { c["events"] = map[string]any{oidc.EventBackChannelLogout: true} }))
		}, false},
		{"events an array", func() string {
			return e.token(with(func(c map[string]any) { c["events"] = []string{oidc.EventBackChannelLogout} }))
		}, false},
		{"a nonce", func() string { return e.token(with(func(c map[string]any) { c["nonce"] = "n" })) }, false},
		{"a null nonce", func() string { return e.token(with(func(c map[string]any) { c["nonce"] = nil })) }, false},
		{"neither sub nor sid", func() string { return e.token(with(func(c map[string]any) { delete(c, "sid") })) }, false},
		{"sid a number", func() string { return e.token(with(func(c map[string]any) { c["sid"] = 1 })) }, false},
		{"no jti", func() string { return e.token(with(func(c map[string]any) { delete(c, "jti") })) }, false},
		{"an ID token", func() string { return e.idToken("ada", "sid-1", now) }, false},
		{"too long", func() string {
			return e.token(with(func(c map[string]any) { c["pad"] = strings.Repeat("x", oidc.MaxLogoutToken) }))
		}, false},
		{"empty", func() string { return "" }, false},
		{"garbage", func() string { return "a.b.c" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.rp.VerifyLogoutToken(t.Context(), tt.token())
			if tt.ok && err != nil {
				t.Errorf("got %v, want accepted", err)
			}
			if !tt.ok && !errors.Is(err, oidc.ErrInvalidToken) {
				t.Errorf("got %v, want an error wrapping ErrInvalidToken", err)
			}
		})
	}
}

func TestBackChannel(t *testing.T) {
	e := newEnv(t, nil)
	ada1, ada2, bob := newBrowser(), newBrowser(), newBrowser()
	t0 := e.clock.Now()
	if _, err := e.signIn(ada1, "ada", "sid-1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signIn(ada2, "ada", "sid-2", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signIn(bob, "bob", "sid-3", t0); err != nil {
		t.Fatal(err)
	}
	valid := e.token(e.logoutClaims("sid-1"))
	steps := []struct {
		name      string
		method    string
		ctype     string
		form      url.Values
		wantCode  int
		wantCount int
	}{
		{"GET is not allowed", http.MethodGet, "", nil, http.StatusMethodNotAllowed, 3},
		{"JSON is refused", http.MethodPost, "application/json", url.Values{"logout_token": {valid}}, http.StatusBadRequest, 3},
		{"no token", http.MethodPost, "application/x-www-form-urlencoded", url.Values{}, http.StatusBadRequest, 3},
		{"two tokens", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {valid, valid}}, http.StatusBadRequest, 3},
		{"wrong audience", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {e.token(func() map[string]any {
			c := e.logoutClaims("sid-1")
			c["aud"] = "x"
			return c
		}())}}, http.StatusBadRequest, 3},
		{"valid ends the sessions of sid-1 only", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {valid}}, http.StatusOK, 2},
		{"replayed is refused", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {valid}}, http.StatusBadRequest, 2},
		{"unknown sid is 200 and ends nothing", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {e.token(e.logoutClaims("sid-9"))}}, http.StatusOK, 2},
		{"sub only ends every session of the subject", http.MethodPost, "application/x-www-form-urlencoded", url.Values{"logout_token": {e.token(func() map[string]any {
			c := e.logoutClaims("")
			delete(c, "sid")
			c["sub"] = "bob"
			return c
		}())}}, http.StatusOK, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := httptest.NewRequest(st.method, "https://panel.example/auth/oidc/backchannel", strings.NewReader(st.form.Encode()))
			if st.ctype != "" {
				r.Header.Set("Content-Type", st.ctype)
			}
			w := httptest.NewRecorder()
			e.rp.BackChannel().ServeHTTP(w, r)
			if w.Code != st.wantCode {
				t.Errorf("status: got %d, want %d", w.Code, st.wantCode)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if w.Code == http.StatusBadRequest && strings.Contains(w.Body.String(), "iss") {
				t.Errorf("the answer tells why: %q", w.Body.String())
			}
			if got := e.count(); got != st.wantCount {
				t.Errorf("sessions: got %d, want %d", got, st.wantCount)
			}
		})
	}
	evs, err := e.m.QueryEvents(t.Context(), logout.EventQuery{UserID: "user:ada"})
	if err != nil || len(evs) != 1 || evs[0].Reason != logout.ReasonProvider {
		t.Errorf("ada's events: got %v, %v; want one provider end", evs, err)
	}
}

func TestReplayOutlivesNothing(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser()
	if _, err := e.signIn(b, "ada", "sid-1", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tok := e.token(e.logoutClaims("sid-1"))
	if w := e.post(url.Values{"logout_token": {tok}}); w.Code != http.StatusOK {
		t.Fatalf("first: got %d, want 200", w.Code)
	}
	// Once the cache forgot the jti, iat refuses the token.
	e.clock.Advance(oidc.DefaultMaxTokenAge + 2*oidc.DefaultLeeway + time.Second)
	if w := e.post(url.Values{"logout_token": {tok}}); w.Code != http.StatusBadRequest {
		t.Errorf("replayed after the window: got %d, want 400", w.Code)
	}
}

func TestFrontChannelWithoutIssuer(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := newEnv(t, func(o *oidc.Options) { o.FrontChannelWithoutIssuer = allow })
		if _, err := e.signIn(newBrowser(), "ada", "sid-1", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"iss=https%3A%2F%2Fevil.example&sid=sid-1", "sid=sid-1"} {
			w := httptest.NewRecorder()
			e.rp.FrontChannel().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://panel.example/fc?"+q, nil))
			want := http.StatusBadRequest
			if allow && q == "sid=sid-1" {
				want = http.StatusOK
			}
			if w.Code != want {
				t.Errorf("allowed %v, %s: got %d, want %d", allow, q, w.Code, want)
			}
		}
		if got, want := e.count(), map[bool]int{false: 1, true: 0}[allow]; got != want {
			t.Errorf("allowed %v: sessions %d, want %d", allow, got, want)
		}
	}
}

func TestFrontChannel(t *testing.T) {
	e := newEnv(t, nil)
	for _, sid := range []string{"sid-1", "sid-2"} {
		if _, err := e.signIn(newBrowser(), "ada", sid, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		method    string
		query     url.Values
		dest      string
		wantCode  int
		wantCount int
	}{
		{"POST is not allowed", http.MethodPost, url.Values{"iss": {issuer}, "sid": {"sid-1"}}, "", http.StatusMethodNotAllowed, 2},
		{"no iss", http.MethodGet, url.Values{"sid": {"sid-1"}}, "", http.StatusBadRequest, 2},
		{"another iss", http.MethodGet, url.Values{"iss": {"https://evil.example"}, "sid": {"sid-1"}}, "", http.StatusBadRequest, 2},
		{"no sid", http.MethodGet, url.Values{"iss": {issuer}}, "", http.StatusBadRequest, 2},
		{"a top-level navigation", http.MethodGet, url.Values{"iss": {issuer}, "sid": {"sid-1"}}, "document", http.StatusBadRequest, 2},
		{"the provider's frame ends sid-1", http.MethodGet, url.Values{"iss": {issuer}, "sid": {"sid-1"}}, "iframe", http.StatusOK, 1},
		{"again: nothing left to end", http.MethodGet, url.Values{"iss": {issuer}, "sid": {"sid-1"}}, "", http.StatusOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://panel.example/auth/oidc/frontchannel?"+tt.query.Encode(), nil)
			if tt.dest != "" {
				r.Header.Set("Sec-Fetch-Dest", tt.dest)
			}
			w := httptest.NewRecorder()
			e.rp.FrontChannel().ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantCode)
			}
			if got, want := w.Header().Get("Content-Security-Policy"), "frame-ancestors https://idp.example"; !strings.Contains(got, want) {
				t.Errorf("CSP: got %q, want it to hold %q", got, want)
			}
			if got := e.count(); got != tt.wantCount {
				t.Errorf("sessions: got %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// authParams returns the parameters that AuthCodeOptions add.
func authParams(opts []oauth2.AuthCodeOption) url.Values {
	c := oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{AuthURL: "https://idp.example/auth"}}
	u, _ := url.Parse(c.AuthCodeURL("s", opts...))
	q := u.Query()
	for _, k := range []string{"client_id", "response_type", "state"} {
		q.Del(k)
	}
	return q
}

func TestAfterAnEndTheNextSignInAsksAgain(t *testing.T) {
	for _, keep := range []bool{false, true} {
		name := "provider session ended"
		if keep {
			name = "provider session kept"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *oidc.Options) { o.KeepProviderSession = keep })
			b := newBrowser()
			authAt := e.clock.Now()
			s, err := e.signIn(b, "ada", "sid-1", authAt)
			if err != nil {
				t.Fatal(err)
			}
			app := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if e.rp.EndProviderSession(w, r) {
					return
				}
				w.Header().Set("X-Auth-Params", authParams(e.rp.AuthCodeOptions(w, r)).Encode())
			}))
			signInPage := func() *httptest.ResponseRecorder {
				return b.do(app, httptest.NewRequest(http.MethodGet, "https://panel.example/backend/auth/signin?reason=idle&return=%2Fbackend%2Fnotes", nil))
			}
			if w := signInPage(); w.Code != http.StatusOK || w.Header().Get("X-Auth-Params") != "" {
				t.Fatalf("while signed in: got %d with %q, want 200 and a silent sign-in", w.Code, w.Header().Get("X-Auth-Params"))
			}

			e.clock.Advance(16 * time.Minute)
			if err := e.m.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := e.count(); n != 0 {
				t.Fatalf("sessions after the idle end: got %d, want 0", n)
			}

			w := signInPage()
			if keep {
				if got := w.Header().Get("X-Auth-Params"); got != "max_age=0&prompt=login" {
					t.Errorf("auth params: got %q, want max_age=0&prompt=login", got)
				}
			} else {
				if w.Code != http.StatusSeeOther {
					t.Fatalf("sign-in page after the end: got %d, want 303 to the provider", w.Code)
				}
				loc, _ := url.Parse(w.Header().Get("Location"))
				q := loc.Query()
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != endpoint {
					t.Errorf("redirect: got %s, want %s", got, endpoint)
				}
				if q.Get("id_token_hint") == "" || q.Get("client_id") != clientID || q.Get("post_logout_redirect_uri") != postURL || q.Get("state") == "" {
					t.Errorf("end session parameters: got %v", q)
				}
				if w.Header().Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("Referrer-Policy: got %q", w.Header().Get("Referrer-Policy"))
				}
				// The provider sends the browser back with the state.
				back := b.do(e.rp.PostLogout(), httptest.NewRequest(http.MethodGet, postURL+"?state="+url.QueryEscape(q.Get("state")), nil))
				if got, want := back.Header().Get("Location"), "/backend/auth/signin?reason=idle&return=%2Fbackend%2Fnotes"; got != want {
					t.Errorf("after the provider: got %q, want %q", got, want)
				}
				// A forged state leads to the plain sign-in page.
				forged := b.do(e.rp.PostLogout(), httptest.NewRequest(http.MethodGet, postURL+"?state=x"+q.Get("state")[1:], nil))
				if got := forged.Header().Get("Location"); got != "/backend/auth/signin" {
					t.Errorf("forged state: got %q, want the plain sign-in page", got)
				}
				// Once is enough: the cookie is gone.
				if w := signInPage(); w.Code != http.StatusOK || w.Header().Get("X-Auth-Params") != "max_age=0&prompt=login" {
					t.Errorf("sign-in page after the round trip: got %d with %q, want 200 asking again", w.Code, w.Header().Get("X-Auth-Params"))
				}
			}

			// The provider signs the user in from its old session: refused.
			_, err = e.signIn(newBrowser(), "ada", "sid-1", authAt)
			if !errors.Is(err, oidc.ErrReauthenticate) {
				t.Errorf("silent sign-in after the end: got %v, want ErrReauthenticate", err)
			}
			// Asked again, the provider answers with the old one: refused for good.
			_, err = e.signIn(b, "ada", "sid-1", authAt)
			if !errors.Is(err, oidc.ErrNotReauthenticated) {
				t.Errorf("old authentication after asking again: got %v, want ErrNotReauthenticated", err)
			}
			e.clock.Advance(5 * time.Second)
			s2, err := e.signIn(b, "ada", "sid-1", e.clock.Now())
			if err != nil {
				t.Fatalf("fresh authentication: %v", err)
			}
			if s2.ID == s.ID {
				t.Error("the new session has the old ID")
			}
			if w := signInPage(); w.Header().Get("X-Auth-Params") != "" {
				t.Errorf("signed in afresh: auth params %q, want none", w.Header().Get("X-Auth-Params"))
			}
		})
	}
}

func TestMaxAuthAge(t *testing.T) {
	e := newEnv(t, func(o *oidc.Options) { o.MaxAuthAge = time.Hour })
	b := newBrowser()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Auth-Params", authParams(e.rp.AuthCodeOptions(w, r)).Encode())
	})
	if got := b.do(app, httptest.NewRequest(http.MethodGet, "https://panel.example/login", nil)).Header().Get("X-Auth-Params"); got != "max_age=3600" {
		t.Errorf("auth params: got %q, want max_age=3600", got)
	}
	now := e.clock.Now()
	tests := []struct {
		name     string
		authTime time.Time
		ok       bool
	}{
		{"authenticated a minute ago", now.Add(-time.Minute), true},
		{"authenticated two hours ago", now.Add(-2 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.signIn(newBrowser(), "ada", "sid-1", tt.authTime)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, oidc.ErrReauthenticate)) {
				t.Errorf("got %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestSignInRefusesBadIDTokens(t *testing.T) {
	e := newEnv(t, nil)
	_, other := keys(t)
	now := e.clock.Now()
	base := map[string]any{"iss": issuer, "aud": clientID, "sub": "ada", "sid": "s", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix()}
	with := func(k string, v any) map[string]any {
		c := maps.Clone(base)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name string
		tok  string
	}{
		{"another key", sign(t, other, jose.ES256, base, nil)},
		{"another audience", sign(t, e.key, jose.RS256, with("aud", "x"), nil)},
		{"another issuer", sign(t, e.key, jose.RS256, with("iss", "https://evil.example"), nil)},
		{"expired", sign(t, e.key, jose.RS256, with("exp", now.Add(-time.Minute).Unix()), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := e.rp.SignIn(w, r, logout.User{ID: "ada"}, tt.tok); err == nil {
					t.Error("got a session, want an error")
				}
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "https://panel.example/cb", nil))
			if n := e.count(); n != 0 {
				t.Errorf("sessions: got %d, want 0", n)
			}
		})
	}
}

func TestSessionTag(t *testing.T) {
	a, b := oidc.SessionTag(issuer, "x"), oidc.SubjectTag(issuer, "x")
	if a == b || len(a) != 73 || len(b) != 73 || !strings.HasPrefix(a, "oidc:sid:") || !strings.HasPrefix(b, "oidc:sub:") {
		t.Errorf("tags %q and %q", a, b)
	}
	if oidc.SessionTag(issuer+"/", "x") == a {
		t.Error("the issuer does not change the tag")
	}
}

func TestNewRefuses(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name string
		mod  func(*oidc.Options)
	}{
		{"no issuer", func(o *oidc.Options) { o.Issuer = "" }},
		{"no client", func(o *oidc.Options) { o.ClientID = "" }},
		{"short key", func(o *oidc.Options) { o.CookieKey = []byte("short") }},
		{"HMAC", func(o *oidc.Options) { o.Algorithms = []string{"HS256"} }},
		{"none", func(o *oidc.Options) { o.Algorithms = []string{"none"} }},
		{"no post-logout URL", func(o *oidc.Options) { o.PostLogoutRedirectURL = "" }},
		{"relative post-logout URL", func(o *oidc.Options) { o.PostLogoutRedirectURL = "/x" }},
		{"negative window", func(o *oidc.Options) { o.MaxTokenAge = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := keys(t)
			o := oidc.Options{Issuer: issuer, ClientID: clientID, KeySet: staticKeys(k), EndSessionEndpoint: endpoint, PostLogoutRedirectURL: postURL}
			tt.mod(&o)
			if _, err := oidc.New(t.Context(), e.m, o); err == nil {
				t.Error("got an RP, want an error")
			}
		})
	}
}
