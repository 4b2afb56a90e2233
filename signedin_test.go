package logout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// signedInBody is what WriteSignedIn answers.
type signedInBody struct {
	SignedIn  bool   `json:"signed_in"`
	Deadline  int64  `json:"deadline"`
	Lifetime  int64  `json:"lifetime"`
	User      string `json:"user"`
	CSRFToken string `json:"csrf_token"`
	StartURL  string `json:"start_url"`
}

func decodeSignedIn(t *testing.T, w *httptest.ResponseRecorder) signedInBody {
	t.Helper()
	var v signedInBody
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &v) != nil {
		t.Fatalf("got %d %s, want 200 with JSON", w.Code, w.Body)
	}
	return v
}

// TestWriteSignedInCookie: in the cookie mode the answer carries the new
// session's CSRF token, for a first sign-in and for a sign-in again.
func TestWriteSignedInCookie(t *testing.T) {
	e := newEnv(t, logout.Options{})
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := e.m.SignIn(w, r, logout.User{ID: r.FormValue("user")})
		if err != nil {
			t.Fatal(err)
		}
		e.m.WriteSignedIn(w, r, s, r.FormValue("start"))
	}))
	var old *http.Cookie
	for _, tt := range []struct{ name, start, wantStart string }{
		{"first sign-in", "/backend/dashboard", "/backend/dashboard"},
		{"sign-in again, another site's start page refused", "https://evil.example/", "/backend"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://app.example/backend/auth/signin", bytes.NewBufferString("user=alice&start="+tt.start))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Accept", "application/json")
			if old != nil {
				r.AddCookie(old)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			v := decodeSignedIn(t, w)
			var c *http.Cookie
			for _, ck := range w.Result().Cookies() {
				if ck.Value != "" {
					c = ck
				}
			}
			if c == nil {
				t.Fatal("no new session cookie")
			}
			if want := e.csrf(c); v.CSRFToken != want || !v.SignedIn || v.User != "alice" || v.StartURL != tt.wantStart || v.Lifetime != 900 || v.Deadline == 0 {
				t.Fatalf("got %+v, want signed in as alice with CSRF token %q and start %q", v, want, tt.wantStart)
			}
			old = c
		})
	}
}

// TestWriteSignedInApp: in the application-sessions mode the token is
// that of the application's renewed session.
func TestWriteSignedInApp(t *testing.T) {
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{App: ctxApp{}, Clock: fakeclock.New()})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Context().Value(appIDKey{}).(*appID).id = "app-2" // the application renews its ID
		s, err := m.SignIn(w, r, logout.User{ID: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		m.WriteSignedIn(w, r, s, "/backend")
	}))
	r := httptest.NewRequest("POST", "/backend/auth/signin", nil)
	r = r.WithContext(context.WithValue(r.Context(), appIDKey{}, &appID{id: "app-1"}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	v := decodeSignedIn(t, w)
	var want string
	check := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { want = m.CSRFToken(r) }))
	r = httptest.NewRequest("GET", "/backend", nil)
	check.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), appIDKey{}, &appID{id: "app-2"})))
	if want == "" || v.CSRFToken != want || v.User != "bob" {
		t.Fatalf("got %+v, want user bob with the renewed session's CSRF token %q", v, want)
	}
}
