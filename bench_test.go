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

// benchRequest serves one signed-in backend request b.N times; bare runs
// the same handler without the middleware as the baseline.
func benchRequest(b *testing.B, store logout.Store, bare bool) {
	m, err := logout.New(store, logout.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	m.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"})
	r := httptest.NewRequest("GET", "/backend/dashboard", nil)
	r.AddCookie(w.Result().Cookies()[0])
	h := m.Handler(okHandler)
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

func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchRequest(b, logout.NewMemoryStore(), true) })
	b.Run("memory", func(b *testing.B) { benchRequest(b, logout.NewMemoryStore(), false) })
}
