package logout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// slowRequest is a backend request of the session in c that its handler
// holds until release is called, as a long upload.
type slowRequest struct {
	release func()
	done    chan struct{}
}

// startSlow starts a request to path that blocks in the handler; it
// returns once the handler runs.
func (e *env) startSlow(c *http.Cookie, header map[string]string, handle func(w http.ResponseWriter, r *http.Request)) *slowRequest {
	e.t.Helper()
	started, hold := make(chan struct{}), make(chan struct{})
	s := &slowRequest{release: func() { close(hold) }, done: make(chan struct{})}
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if handle != nil {
			handle(w, r)
		}
		close(started)
		<-hold
	}))
	r := httptest.NewRequest("POST", "http://app.example/backend/upload", nil)
	r.AddCookie(c)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	go func() {
		defer close(s.done)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	<-started
	return s
}

func (s *slowRequest) finish() { s.release(); <-s.done }

// signedIn asks the status endpoint (passive) whether c's session lives.
func (e *env) signedIn(c *http.Cookie) (bool, string) {
	e.t.Helper()
	w := e.do(req{path: "/backend/session/status", cookie: c})
	v := decodeJSON(e.t, w)
	reason, _ := v["reason"].(string)
	return w.Code == 200 && v["signed_in"] == true, reason
}

func (e *env) wantSignedIn(c *http.Cookie, want bool, wantReason string, when string) {
	e.t.Helper()
	got, reason := e.signedIn(c)
	if got != want || reason != wantReason {
		e.t.Fatalf("%s: signed in %v (reason %q), want %v (reason %q)", when, got, reason, want, wantReason)
	}
}

func (e *env) sweep() {
	e.t.Helper()
	if err := e.m.Sweep(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// TestInFlightUpload: a request served longer than the idle lifetime
// keeps its session, and its end starts a full idle lifetime.
func TestInFlightUpload(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	up := e.startSlow(c, nil, nil)
	e.clock.Advance(logout.DefaultLifetime + 5*time.Minute)
	e.sweep()
	e.wantSignedIn(c, true, "", "during the upload, past the idle lifetime")
	e.clock.Advance(5 * time.Minute)
	up.finish()
	e.clock.Advance(logout.DefaultLifetime - time.Second)
	e.sweep()
	e.wantSignedIn(c, true, "", "a second before a lifetime after the upload")
	e.clock.Advance(time.Second)
	e.wantSignedIn(c, false, "idle", "a lifetime after the upload")
}

// TestInFlightShort: a request that ends within a touch interval of its
// start leaves the deadline that its response told, even when a sweep
// saw it in flight.
func TestInFlightShort(t *testing.T) {
	e := newEnv(t, logout.Options{TouchInterval: 5 * time.Second})
	c := e.signIn("alice")
	e.clock.Advance(time.Minute)
	up := e.startSlow(c, nil, nil)
	e.clock.Advance(2 * time.Second)
	e.sweep()
	up.finish()
	e.clock.Advance(logout.DefaultLifetime - 2*time.Second - time.Millisecond)
	e.wantSignedIn(c, true, "", "just before a lifetime after the request began")
	e.clock.Advance(time.Millisecond)
	e.wantSignedIn(c, false, "idle", "a lifetime after the request began")
}

// TestInFlightAbsolute: work in flight does not outlast the absolute
// limit.
func TestInFlightAbsolute(t *testing.T) {
	set := logout.DefaultSettings()
	set.AbsoluteLifetime = 30 * time.Minute
	e := newEnv(t, logout.Options{Defaults: &set})
	c := e.signIn("alice")
	up := e.startSlow(c, nil, nil)
	defer up.finish()
	e.clock.Advance(29 * time.Minute)
	e.wantSignedIn(c, true, "", "within the absolute limit")
	e.clock.Advance(time.Minute)
	e.sweep()
	e.wantSignedIn(c, false, "absolute", "at the absolute limit")
}

// TestInFlightPassive: a passive request in flight is no work.
func TestInFlightPassive(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	up := e.startSlow(c, map[string]string{logout.HeaderPassive: "1"}, nil)
	defer up.finish()
	e.clock.Advance(logout.DefaultLifetime)
	e.sweep()
	e.wantSignedIn(c, false, "idle", "a lifetime after sign-in, with only a passive request in flight")
}

// sweepHour sweeps A and then B every lifetime for an hour, and fails
// if B ends a session meanwhile: A's sweep writes the activity of the
// work that it has in flight.
func sweepHour(a, b *env, work string) {
	a.t.Helper()
	for range 4 {
		a.clock.Advance(logout.DefaultLifetime)
		a.sweep()
		b.sweep()
	}
	if evs := b.events(); len(evs) != 0 {
		a.t.Fatalf("B ended %v during %s on A", evs, work)
	}
}

// TestInFlightSharedStore: another instance's sweeper does not end a
// session busy on this one.
func TestInFlightSharedStore(t *testing.T) {
	store := logout.NewMemoryStore()
	a := newEnvStore(t, store, logout.Options{})
	b := newEnvStore(t, store, logout.Options{Clock: a.clock})
	c := a.signIn("alice")
	b.wantSignedIn(c, true, "", "on B after sign-in on A")
	up := a.startSlow(c, nil, nil)
	sweepHour(a, b, "the upload")
	up.finish()
	b.wantSignedIn(c, true, "", "on B after the upload on A")
	a.clock.Advance(logout.DefaultLifetime)
	b.sweep()
	if evs := b.events(); len(evs) != 1 || evs[0].Reason != logout.ReasonIdle {
		t.Fatalf("B ended %v, want the session idle a lifetime after the upload", evs)
	}
}

// TestBusySharedStore: another instance's sweeper does not end a session
// whose work, marked with Busy, runs on this one after its request.
func TestBusySharedStore(t *testing.T) {
	store := logout.NewMemoryStore()
	a := newEnvStore(t, store, logout.Options{})
	b := newEnvStore(t, store, logout.Options{Clock: a.clock})
	c := a.signIn("alice")
	var done func()
	a.startSlow(c, nil, func(w http.ResponseWriter, r *http.Request) { done = a.m.Busy(r) }).finish()
	// A's sweep writes the export's activity to the store a touch
	// interval on, long before the session would expire there.
	a.clock.Advance(time.Minute)
	a.sweep()
	if list, err := store.ListSessions(t.Context(), logout.ListOptions{UserID: "alice", Limit: 2}); err != nil || len(list) != 1 || !list[0].LastSeen.Equal(a.clock.Now()) {
		t.Fatalf("the store has %v (%v), want the session last seen at %v", list, err, a.clock.Now())
	}
	sweepHour(a, b, "the export")
	done()
	b.wantSignedIn(c, true, "", "on B after the export on A")
}

// TestBusy: work marked with Busy outlives its request and counts as
// activity until done.
func TestBusy(t *testing.T) {
	e := newEnv(t, logout.Options{})
	c := e.signIn("alice")
	var done func()
	e.startSlow(c, nil, func(w http.ResponseWriter, r *http.Request) { done = e.m.Busy(r) }).finish()
	e.clock.Advance(2 * logout.DefaultLifetime)
	e.sweep()
	e.wantSignedIn(c, true, "", "while the export runs")
	done()
	done() // a second call does nothing
	e.clock.Advance(logout.DefaultLifetime - time.Second)
	e.sweep()
	e.wantSignedIn(c, true, "", "a second before a lifetime after the export")
	e.clock.Advance(time.Second)
	e.wantSignedIn(c, false, "idle", "a lifetime after the export")
	if d := e.m.Busy(httptest.NewRequest("GET", "/backend", nil)); d == nil {
		t.Fatal("Busy of a request without a session returned nil")
	} else {
		d()
	}
}

// TestInFlightBounded: a request that never ends (a tunnel) holds its
// session BusyLimit after it started, not for ever; when the session then
// ends, by idleness or by a forced sign-out, the request is cut with
// ErrSessionEnded.
func TestInFlightBounded(t *testing.T) {
	tunnel := func(e *env, c *http.Cookie) (cause chan error) {
		cause = make(chan error, 1)
		e.startSlow(c, nil, func(w http.ResponseWriter, r *http.Request) {
			go func() { <-r.Context().Done(); cause <- context.Cause(r.Context()) }()
		})
		return cause
	}
	wantCut := func(t *testing.T, cause chan error) {
		t.Helper()
		select {
		case err := <-cause:
			if !errors.Is(err, logout.ErrSessionEnded) {
				t.Fatalf("the request was canceled with %v, want ErrSessionEnded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the request was not cut when its session ended")
		}
	}
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, logout.Options{BusyLimit: 3 * logout.DefaultLifetime})
		c := e.signIn("alice")
		cause := tunnel(e, c)
		for range 3 {
			e.clock.Advance(logout.DefaultLifetime)
			e.sweep()
		}
		e.wantSignedIn(c, true, "", "the limit after the tunnel opened")
		e.clock.Advance(logout.DefaultLifetime)
		e.sweep()
		e.wantSignedIn(c, false, "idle", "a lifetime past the limit, the tunnel still open")
		wantCut(t, cause)
	})
	t.Run("forced", func(t *testing.T) {
		e := newEnv(t, logout.Options{})
		c := e.signIn("alice")
		cause := tunnel(e, c)
		if _, err := e.m.ForceSignOut(context.Background(), logout.Selector{UserID: "alice"}); err != nil {
			t.Fatal(err)
		}
		wantCut(t, cause)
	})
	// The request that signs its own session out answers on; another
	// request of the session, in flight beside it, is cut.
	t.Run("own sign-out", func(t *testing.T) {
		e := newEnv(t, logout.Options{})
		c := e.signIn("alice")
		cause := tunnel(e, c)
		var after error
		e.startSlow(c, nil, func(w http.ResponseWriter, r *http.Request) {
			if err := e.m.SignOut(w, r); err != nil {
				t.Error(err)
			}
			after = r.Context().Err()
		}).finish()
		if after != nil {
			t.Fatalf("the request that signed out was cut: %v", after)
		}
		wantCut(t, cause)
	})
}
