package logout_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// TestUserName checks that the name given at sign-in travels with the
// session to every Manager on the store, for the widget, and never into
// a log or an event.
func TestUserName(t *testing.T) {
	const name = "Zoë Ørsted-Nakamura"
	store := logout.NewMemoryStore()
	a := newEnvStore(t, store, logout.Options{})
	b := newEnvStore(t, store, logout.Options{Clock: a.clock}) // another instance: a cold cache
	w := a.do(req{method: "POST", path: "/backend/auth/signin", body: "user=u-7f3a&name=" + strings.ReplaceAll(name, " ", "+")})
	if w.Code != http.StatusOK {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	c := w.Result().Cookies()[0]
	a.clock.Advance(time.Minute)
	for _, tt := range []struct {
		name string
		e    *env
	}{
		{"the instance that signed in", a},
		{"another instance", b},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got logout.Status
			h := tt.e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = tt.e.m.Status(r) }))
			r := httptest.NewRequest("GET", "http://app.example/backend", nil)
			r.AddCookie(c)
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got.Session.UserID != "u-7f3a" || got.Session.UserName != name {
				t.Errorf("session: got user %q named %q, want u-7f3a named %q", got.Session.UserID, got.Session.UserName, name)
			}
		})
	}
	t.Run("listed with the sessions", func(t *testing.T) {
		list, err := b.m.Sessions(t.Context(), logout.ListOptions{Limit: 10})
		if err != nil || len(list) != 1 || list[0].UserName != name {
			t.Errorf("Sessions: got %+v, %v; want one named %q", list, err, name)
		}
	})
	t.Run("never logged", func(t *testing.T) {
		if _, err := a.m.ForceSignOut(t.Context(), logout.Selector{UserID: "u-7f3a"}); err != nil {
			t.Fatal(err)
		}
		for i, e := range []*env{a, b} {
			e.mu.Lock()
			logs := e.logs.String()
			e.mu.Unlock()
			if i == 0 && !strings.Contains(logs, "logout: signed in") {
				t.Errorf("no sign-in logged, so nothing is checked: %s", logs)
			}
			if strings.Contains(logs, "Zoë") {
				t.Errorf("the log holds the user's name: %s", logs)
			}
		}
	})
}
