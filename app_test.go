package logout_test

import (
	"context"
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
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{App: ctxApp{}, Now: clock.Now,
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
