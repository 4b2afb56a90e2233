package redisstore_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/redisstore/redistest"
)

// TestManagersHearEachOther runs two Managers, each on its own client, as
// two app instances. Their sync interval is an hour, so only Watch can
// tell the second of a settings save or a forced sign-out made through
// the first.
func TestManagersHearEachOther(t *testing.T) {
	c1, c2 := redistest.Redis(t), redistest.Redis(t)
	prefix := redistest.RedisPrefix(t, c1)
	newManager := func(s logout.Store) *logout.Manager {
		m, err := logout.New(s, logout.Options{SyncInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1 := newManager(newStore(t, c1, redisstore.Options{Prefix: prefix}))
	m2 := newManager(newStore(t, c2, redisstore.Options{Prefix: prefix}))
	ctx := t.Context()
	if _, err := m2.Settings(ctx); err != nil { // cached for an hour
		t.Fatal(err)
	}

	w := httptest.NewRecorder()
	if _, err := m1.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	get := func() int {
		r := httptest.NewRequest("GET", "/backend", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		m2.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
		return w.Code
	}
	if code := get(); code != http.StatusNotFound { // signed in, then the app's 404
		t.Fatalf("signed in: got %d, want 404", code)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m2.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitSubscribed(t, c1, prefix+"changes")

	set := logout.DefaultSettings()
	set.Lifetime = 600 * time.Second
	if _, err := m1.UpdateSettings(ctx, set, "test"); err != nil {
		t.Fatal(err)
	}
	servicetest.Within(t, time.Second, "m2 sees the new lifetime", func() bool {
		got, err := m2.Settings(ctx)
		return err == nil && got.Lifetime == set.Lifetime
	})

	if _, err := m1.ForceSignOut(ctx, logout.Selector{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	servicetest.Within(t, time.Second, "m2 refuses the session", func() bool { return get() == http.StatusSeeOther })
}
