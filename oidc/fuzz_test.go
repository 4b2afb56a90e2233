package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// fuzzRP returns an RP whose clock reads 2026-11-25 09:00:00 UTC.
func fuzzRP(f *testing.F) *RP {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	clock := fakeclock.New()
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	rp, err := New(f.Context(), m, Options{
		Issuer: "https://idp.example", ClientID: "panel", KeepProviderSession: true,
		KeySet: &gooidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.Public()}},
		Now:    clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	return rp
}

// FuzzLogoutTokenClaims checks that the claims parser never panics, and
// that what it accepts has what the specification requires.
func FuzzLogoutTokenClaims(f *testing.F) {
	rp := fuzzRP(f)
	iat := "1795510800"
	for _, s := range []string{
		`{"iss":"https://idp.example","aud":["panel"],"iat":` + iat + `,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sid":"s"}`,
		`{"iss":"https://idp.example","aud":"panel","iat":` + iat + `.5,"exp":1e10,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sub":"u"}`,
		`{"iss":"https://idp.example","aud":"panel","iat":` + iat + `,"jti":"j","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sub":"u","nonce":null}`,
		`{"iat":-1e308}`, `{"iat":"NaN"}`, `[]`, `null`, `{} {}`, `{"events":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok, err := rp.checkClaims(payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if tok.Issuer != "https://idp.example" || tok.ID == "" || (tok.Subject == "" && tok.SessionID == "") || tok.IssuedAt.IsZero() {
			t.Fatalf("accepted %+v from %q", tok, payload)
		}
		if strings.Contains(string(payload), `"nonce"`) && !strings.Contains(string(payload), `\`) {
			t.Fatalf("accepted a nonce: %q", payload)
		}
	})
}

// FuzzVerifyLogoutToken checks that no input makes VerifyLogoutToken
// panic or accept a token no key signed.
func FuzzVerifyLogoutToken(f *testing.F) {
	rp := fuzzRP(f)
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA", strings.Repeat(".", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := rp.VerifyLogoutToken(t.Context(), raw); err == nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}

// FuzzUnseal checks that no cookie or state opens but what was sealed.
func FuzzUnseal(f *testing.F) {
	s, err := newSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	good, err := seal(s, "hint", hint{IDToken: "t", Session: "s"}, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, text string) {
		h, err := unseal[hint](s, "hint", text, now)
		// Each fuzzing process seals good afresh (another nonce), so only
		// what was sealed may open, whatever its encoding.
		if err == nil && !reflect.DeepEqual(h, hint{IDToken: "t", Session: "s"}) {
			t.Fatalf("opened %q as %+v", text, h)
		}
		if _, err := unseal[hint](s, "state", text, now); err == nil {
			t.Fatalf("a hint opened as a state: %q", text)
		}
	})
}
