package oidc_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/oidc"
)

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name     string
		tls      bool
		secure   bool
		wantName string
	}{
		{"plain HTTP", false, false, oidc.DefaultCookieName},
		{"TLS", true, false, "__Host-" + oidc.DefaultCookieName},
		{"behind a TLS proxy (Secure)", false, true, "__Host-" + oidc.DefaultCookieName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *oidc.Options) { o.Secure = tt.secure })
			tok := e.idToken("ada", "sid-1", e.clock.Now())
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "http://panel.example/cb", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := e.rp.SignIn(w, r, logout.User{ID: "ada"}, tok); err != nil {
					t.Fatal(err)
				}
			})).ServeHTTP(w, r)
			var c *http.Cookie
			for _, k := range w.Result().Cookies() {
				if k.Name == tt.wantName {
					c = k
				}
			}
			if c == nil {
				t.Fatalf("no cookie %s in %v", tt.wantName, w.Result().Cookies())
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != (tt.tls || tt.secure) {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, no Domain, Secure %v", c, tt.tls || tt.secure)
			}
			if c.MaxAge <= 0 || c.MaxAge > int((24*time.Hour)/time.Second) {
				t.Errorf("Max-Age %d: want at most a day", c.MaxAge)
			}
			// Sealed: neither the token nor any part of it is readable.
			parts := strings.Split(tok, ".")
			if strings.Contains(c.Value, parts[1][:20]) || strings.Contains(c.Value, "ada") {
				t.Error("the cookie shows the ID token")
			}
		})
	}
}

func TestEndProviderSessionNotInAFrame(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowser()
	if _, err := e.signIn(b, "ada", "sid-1", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(16 * time.Minute)
	if err := e.m.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.rp.EndProviderSession(w, r) {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	for _, tt := range []struct {
		dest string
		want int
	}{{"iframe", http.StatusNoContent}, {"document", http.StatusSeeOther}} {
		r := httptest.NewRequest(http.MethodGet, "https://panel.example/backend/auth/signin", nil)
		r.Header.Set("Sec-Fetch-Dest", tt.dest)
		if got := b.do(page, r).Code; got != tt.want {
			t.Errorf("Sec-Fetch-Dest %s: got %d, want %d", tt.dest, got, tt.want)
		}
	}
}

func TestMemoryReplayCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	c := oidc.NewMemoryReplayCache(2)
	add := func(key string, until time.Time) bool {
		ok, err := c.Add(ctx, key, until, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		name  string
		key   string
		until time.Time
		want  bool
	}{
		{"new", "a", now.Add(time.Minute), true},
		{"seen", "a", now.Add(time.Minute), false},
		{"second", "b", now.Add(2 * time.Minute), true},
		{"full: the key that expires first goes", "c", now.Add(3 * time.Minute), true},
		{"b is kept", "b", now.Add(2 * time.Minute), false},
		{"a was forgotten", "a", now.Add(time.Minute), true},
	}
	for _, st := range steps {
		if got := add(st.key, st.until); got != st.want {
			t.Errorf("%s: got %v, want %v", st.name, got, st.want)
		}
	}
	if err := c.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if !add("b", now.Add(time.Minute)) {
		t.Error("removed key: got seen, want new")
	}
	// Expired keys are new again.
	now = now.Add(time.Hour)
	if !add("c", now.Add(time.Minute)) {
		t.Error("expired key: got seen, want new")
	}
}
