package logout_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// ctxApp is an application session system that, like scs, keeps the
// session ID in the request context, where a renewal at sign-in shows at
// once.
type ctxApp struct{}

type appIDKey struct{}

type appID struct{ id string }

func (ctxApp) SessionID(r *http.Request) string {
	if v, ok := r.Context().Value(appIDKey{}).(*appID); ok {
		return v.id
	}
	return ""
}

func (ctxApp) EndSession(http.ResponseWriter, *http.Request) {}

// TestAppSignInAgainEndsThePrevious: in the application-sessions mode, a
// sign-in on a request that carried a session (which the application
// renewed just before) ends that session as manual, rather than leaving
// it for the sweeper to log as idle.
func TestAppSignInAgainEndsThePrevious(t *testing.T) {
	clock := fakeclock.New()
	var mu sync.Mutex
	var ended []logout.Event
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{App: ctxApp{}, Clock: clock,
		OnSignOut: func(_ context.Context, ev logout.Event) { mu.Lock(); ended = append(ended, ev); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	var first logout.Session
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Context().Value(appIDKey{}).(*appID)
		id.id = r.URL.Query().Get("renew") // the application renews its ID
		s, err := m.SignIn(w, r, logout.User{ID: "alice"})
		if err != nil {
			t.Error(err)
		}
		if first.ID == "" {
			first = s
		}
	}))
	do := func(id, renew string) {
		r := httptest.NewRequest("POST", "/backend/auth/signin?renew="+renew, nil)
		r = r.WithContext(context.WithValue(r.Context(), appIDKey{}, &appID{id: id}))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	do("", "app-1")
	do("app-1", "app-2")
	mu.Lock()
	defer mu.Unlock()
	if len(ended) != 1 || ended[0].SessionID != first.ID || ended[0].Reason != logout.ReasonReplaced {
		t.Fatalf("sign-outs %+v, want the first session ended as manual", ended)
	}
}

// TestKeySpacesApart: a Manager of its own cookie and a Manager of an
// application's sessions that share one store never take a credential of
// the one kind for a session of the other. A 32-byte application key
// base64url-encoded is a well-formed token, and a token's 32 bytes are a
// possible application key; each names no session of the other kind.
func TestKeySpacesApart(t *testing.T) {
	store := logout.NewMemoryStore()
	clock := fakeclock.New()
	cookieM, err := logout.New(store, logout.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	appM, err := logout.New(store, logout.Options{App: ctxApp{}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	withApp := func(r *http.Request, id string) *http.Request {
		return r.WithContext(context.WithValue(r.Context(), appIDKey{}, &appID{id: id}))
	}

	// An application session whose key is 32 bytes, as Django's
	// sessionid or PHP's PHPSESSID are.
	appKey := "0123456789abcdef0123456789abcdef"
	r := withApp(httptest.NewRequest("POST", "/backend/auth/signin", nil), appKey)
	appSess, err := appM.SignIn(httptest.NewRecorder(), r, logout.User{ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// The cookie Manager's session of a user.
	w := httptest.NewRecorder()
	cookieSess, err := cookieM.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	token := w.Result().Cookies()[0].Value
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		m    *logout.Manager
		req  func() *http.Request
	}{
		{"app key as a cookie token", cookieM, func() *http.Request {
			r := httptest.NewRequest("GET", "/backend/", nil)
			r.AddCookie(&http.Cookie{Name: "logout_session", Value: base64.RawURLEncoding.EncodeToString([]byte(appKey))})
			return r
		}},
		{"cookie token as an app key", appM, func() *http.Request {
			return withApp(httptest.NewRequest("GET", "/backend/", nil), token)
		}},
		{"cookie token's bytes as an app key", appM, func() *http.Request {
			return withApp(httptest.NewRequest("GET", "/backend/", nil), string(raw))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served bool
			h := tt.m.Handler(tt.m.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true })))
			h.ServeHTTP(httptest.NewRecorder(), tt.req())
			if served {
				t.Fatal("a credential of the other kind was served as a session")
			}
		})
	}
	if cookieM.SessionID(token) != cookieSess.ID || appM.SessionID(appKey) != appSess.ID {
		t.Fatal("SessionID does not name each Manager's own session")
	}
	if appM.SessionID(token) == cookieSess.ID || cookieM.SessionID(base64.RawURLEncoding.EncodeToString([]byte(appKey))) == appSess.ID {
		t.Fatal("one credential names a session of both kinds")
	}
}
