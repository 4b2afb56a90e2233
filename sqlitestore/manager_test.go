package sqlitestore_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// TestManagerRestart runs a Manager on a file, stops it cleanly and starts
// another on the same file: the session, its exact last activity, the
// settings and the sign-out log all carry over.
func TestManagerRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logout.db")
	clock := fakeclock.New()
	advance := clock.Advance
	newManager := func(s logout.Store) *logout.Manager {
		m, err := logout.New(s, logout.Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	get := func(m *logout.Manager, c *http.Cookie) int {
		r := httptest.NewRequest("GET", "/backend", nil)
		r.AddCookie(c)
		w := httptest.NewRecorder()
		m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		return w.Code
	}

	s1 := open(t, path)
	m1 := newManager(s1)
	set := logout.DefaultSettings()
	set.Lifetime = 600 * time.Second
	if _, err := m1.UpdateSettings(t.Context(), set, "test"); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := m1.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	w = httptest.NewRecorder()
	if _, err := m1.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.ForceSignOut(t.Context(), logout.Selector{UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	advance(100 * time.Second)
	if code := get(m1, cookie); code != 404 { // signed in, then the app's 404
		t.Fatalf("before restart: %d", code)
	}
	advance(time.Second) // within the touch interval: only in memory
	if code := get(m1, cookie); code != 404 {
		t.Fatalf("before restart: %d", code)
	}
	if err := m1.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := newManager(open(t, path))
	advance(600*time.Second - time.Microsecond) // just before the deadline of the last request
	if code := get(m2, cookie); code != 404 {
		t.Fatalf("after restart, before the deadline: %d", code)
	}
	if got, _ := m2.Settings(t.Context()); got.Lifetime != 600*time.Second {
		t.Fatalf("settings after restart: %+v", got)
	}
	evs, err := m2.Events(t.Context(), 10)
	if err != nil || len(evs) != 1 || evs[0].UserID != "bob" || evs[0].Reason != logout.ReasonForced {
		t.Fatalf("log after restart: %+v, %v", evs, err)
	}
	advance(600 * time.Second)
	if code := get(m2, cookie); code != http.StatusSeeOther {
		t.Fatalf("after the deadline: %d, want 303", code)
	}
}
