package oidc_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/oidc"
)

const (
	issuer   = "https://idp.example/realms/staff"
	clientID = "panel"
	endpoint = "https://idp.example/realms/staff/logout"
	postURL  = "https://panel.example/backend/auth/oidc/logged-out"
)

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
)

// keys returns the provider's RSA key and an EC key of nobody's.
func keys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey
}

// sign signs claims with key as alg, with extra protected headers.
func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, claims map[string]any, headers map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: headers}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// env is a Manager on a memory store and a fake clock with an RP over a
// static key set.
type env struct {
	t     *testing.T
	clock *fakeclock.Clock
	store *logout.MemoryStore
	m     *logout.Manager
	rp    *oidc.RP
	key   *rsa.PrivateKey
	jti   int
}

func newEnv(t *testing.T, mod func(*oidc.Options)) *env {
	t.Helper()
	k, _ := keys(t)
	e := &env{t: t, clock: fakeclock.New(), store: logout.NewMemoryStore(), key: k}
	logger := slog.New(slog.DiscardHandler)
	m, err := logout.New(e.store, logout.Options{Clock: e.clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	opts := oidc.Options{
		Issuer:                issuer,
		ClientID:              clientID,
		KeySet:                &gooidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.Public()}},
		EndSessionEndpoint:    endpoint,
		PostLogoutRedirectURL: postURL,
		CookieKey:             []byte(strings.Repeat("k", 32)),
		Now:                   e.clock.Now,
		Logger:                logger,
	}
	if mod != nil {
		mod(&opts)
	}
	if e.rp, err = oidc.New(t.Context(), m, opts); err != nil {
		t.Fatal(err)
	}
	return e
}

// logoutClaims returns valid logout token claims for sid at the clock's
// time, each with a new jti.
func (e *env) logoutClaims(sid string) map[string]any {
	e.jti++
	return map[string]any{
		"iss":    issuer,
		"aud":    []string{clientID},
		"iat":    e.clock.Now().Unix(),
		"jti":    fmt.Sprintf("jti-%d", e.jti),
		"events": map[string]any{oidc.EventBackChannelLogout: map[string]any{}},
		"sid":    sid,
	}
}

// token signs claims with the provider's key.
func (e *env) token(claims map[string]any) string {
	return sign(e.t, e.key, jose.RS256, claims, map[jose.HeaderKey]any{"typ": "logout+jwt"})
}

// idToken returns an ID token for sub in provider session sid,
// authenticated at authTime.
func (e *env) idToken(sub, sid string, authTime time.Time) string {
	now := e.clock.Now()
	return sign(e.t, e.key, jose.RS256, map[string]any{
		"iss": issuer, "aud": clientID, "sub": sub, "sid": sid,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": authTime.Unix(),
	}, nil)
}

// browser is a cookie jar on the app's origin.
type browser struct{ cookies map[string]*http.Cookie }

func newBrowser() *browser { return &browser{cookies: map[string]*http.Cookie{}} }

// do serves r to h with the browser's cookies and keeps the cookies of
// the answer.
func (b *browser) do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

// signIn signs sub in through the RP as the app's redirect handler does.
func (e *env) signIn(b *browser, sub, sid string, authTime time.Time) (logout.Session, error) {
	var s logout.Session
	var err error
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err = e.rp.SignIn(w, r, logout.User{ID: "user:" + sub, Name: sub}, e.idToken(sub, sid, authTime))
	}))
	b.do(h, httptest.NewRequest(http.MethodGet, "https://panel.example/auth/callback", nil))
	return s, err
}

// post posts a logout token to the back-channel endpoint.
func (e *env) post(form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://panel.example/auth/oidc/backchannel", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.rp.BackChannel().ServeHTTP(w, r)
	return w
}

// count returns how many sessions the store holds.
func (e *env) count() int {
	n, err := e.m.CountSessions(e.t.Context(), logout.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// staticKeys is a key set of k's public key.
func staticKeys(k *rsa.PrivateKey) *gooidc.StaticKeySet {
	return &gooidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.Public()}}
}
