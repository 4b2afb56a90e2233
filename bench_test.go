package logout_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gologout/logout"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure
// the middleware, not the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

// headerApp stands for an application's own sessions (Options.App): its
// session ID is a 43-character token, as scs's, read here from a request
// header so that the application costs nothing.
type headerApp struct{}

func (headerApp) SessionID(r *http.Request) string              { return r.Header.Get("X-App-Session") }
func (headerApp) EndSession(http.ResponseWriter, *http.Request) {}

// benchRequest serves one signed-in backend request b.N times; bare runs
// the same handler without the middleware as the baseline.
func benchRequest(b *testing.B, app bool, bare bool) {
	opts := logout.Options{Logger: slog.New(slog.DiscardHandler)}
	if app {
		opts.App = headerApp{}
	}
	m, err := logout.New(logout.NewMemoryStore(), opts)
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/backend/auth/signin", nil)
	r.Header.Set("X-App-Session", "OUvLQGWm2kSLV_YtYGWGwWRnNPbgbFmTMwvuo0qnc3g")
	if _, err := m.SignIn(w, r, logout.User{ID: "alice"}); err != nil {
		b.Fatal(err)
	}
	r = httptest.NewRequest("GET", "/backend/dashboard", nil)
	if app {
		r.Header.Set("X-App-Session", "OUvLQGWm2kSLV_YtYGWGwWRnNPbgbFmTMwvuo0qnc3g")
	} else {
		r.AddCookie(w.Result().Cookies()[0])
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := logout.FromContext(r.Context()); !ok {
			b.Fatal("not signed in")
		}
		w.WriteHeader(http.StatusOK)
	}))
	if bare {
		h = okHandler
	}
	d := &discard{h: make(http.Header)}
	h.ServeHTTP(d, r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(d.h)
		h.ServeHTTP(d, r)
	}
}

// BenchmarkRequest compares a signed-in backend request through
// Manager.Handler on the memory store, with the Manager's own cookie
// ("memory") and with an application's sessions ("app"), with a bare
// handler that only writes 200.
func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchRequest(b, false, true) })
	b.Run("memory", func(b *testing.B) { benchRequest(b, false, false) })
	b.Run("app", func(b *testing.B) { benchRequest(b, true, false) })
}
