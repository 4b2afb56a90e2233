package logout_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

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

// BenchmarkRequestVsBare serves, in the same run, the bare handler and
// the same handler behind Manager.Handler (a signed-in backend request,
// the Manager's own cookie, the memory store), in turn by batches, so
// that the machine's load falls on both alike:
//
//   - inprocess: straight into a ResponseWriter that keeps nothing;
//   - http: over loopback HTTP, an http.Server on 127.0.0.1 for each,
//     with keep-alive clients in 4 goroutines, one session each.
//
// It reports the time of each per request (bare-ns/req, logout-ns/req),
// the difference (ns-over-bare), their ratio (x-bare), and the
// allocations and bytes the middleware adds to a request
// (allocs-over-bare, B-over-bare). ns/op is left out, as an op is a
// batch of each; allocs/op and B/op are those of one request through the
// middleware (over HTTP, client and server together).
func BenchmarkRequestVsBare(b *testing.B) {
	b.Run("inprocess", func(b *testing.B) {
		r, h := signedIn(b, logout.NewMemoryStore(), 1)
		d := &discard{h: make(http.Header)}
		serve := func(h http.Handler) func() {
			return func() {
				clear(d.h)
				h.ServeHTTP(d, r[0])
			}
		}
		vsBare(b, serve(okHandler), serve(h), 1, 1024)
	})
	b.Run("http", func(b *testing.B) {
		const clients = 4
		r, h := signedIn(b, logout.NewMemoryStore(), clients)
		bare, wrapped := httptest.NewServer(okHandler), httptest.NewServer(h)
		defer bare.Close()
		defer wrapped.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		get := func(url string, cookies []*http.Request) func(i int) {
			return func(i int) {
				req, err := http.NewRequest("GET", url+"/backend/dashboard", nil)
				if err != nil {
					b.Error(err) // from the client goroutines: not Fatal
					return
				}
				req.Header = cookies[i].Header
				res, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("%s: %s", url, res.Status)
				}
			}
		}
		vsBareParallel(b, get(bare.URL, r), get(wrapped.URL, r), clients, 64)
	})
}

// signedIn returns n signed-in backend requests, each of its own session
// on m's store, and m's middleware in front of a handler that checks the
// session and writes 200.
func signedIn(b *testing.B, store logout.Store, n int) ([]*http.Request, http.Handler) {
	m, err := logout.New(store, logout.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]*http.Request, n)
	for i := range rs {
		w := httptest.NewRecorder()
		if _, err := m.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
			b.Fatal(err)
		}
		rs[i] = httptest.NewRequest("GET", "/backend/dashboard", nil)
		rs[i].AddCookie(w.Result().Cookies()[0])
	}
	return rs, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := logout.FromContext(r.Context()); !ok {
			b.Error("not signed in")
		}
		w.WriteHeader(http.StatusOK)
	}))
}

// vsBare times batches of batch calls of bare and of wrapped in turn,
// from g goroutines at once (each with its index), until b.Loop ends,
// and reports the figures of BenchmarkRequestVsBare.
func vsBareParallel(b *testing.B, bare, wrapped func(i int), g, batch int) {
	run := func(f func(i int), n int) {
		if g == 1 {
			for range n {
				f(0)
			}
			return
		}
		var wg sync.WaitGroup
		for i := range g {
			wg.Go(func() {
				for range n / g {
					f(i)
				}
			})
		}
		wg.Wait()
	}
	// Allocations, outside the timing: the middleware's are the difference.
	mem := func(f func(i int)) (allocs, bytes float64) {
		const n = 256
		run(f, n) // warm: connections, caches
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		run(f, n)
		runtime.ReadMemStats(&m1)
		return float64(m1.Mallocs-m0.Mallocs) / n, float64(m1.TotalAlloc-m0.TotalAlloc) / n
	}
	aBare, bBare := mem(bare)
	aWrapped, bWrapped := mem(wrapped)
	var tBare, tWrapped time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		run(bare, batch)
		t1 := time.Now()
		run(wrapped, batch)
		tBare += t1.Sub(t0)
		tWrapped += time.Since(t1)
		n += batch / g * g
	}
	nsBare, nsWrapped := float64(tBare.Nanoseconds())/float64(n), float64(tWrapped.Nanoseconds())/float64(n)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(aWrapped, "allocs/op") // -benchmem's figures would count a batch of each
	b.ReportMetric(bWrapped, "B/op")
	b.ReportMetric(nsBare, "bare-ns/req")
	b.ReportMetric(nsWrapped, "logout-ns/req")
	b.ReportMetric(nsWrapped-nsBare, "ns-over-bare")
	b.ReportMetric(nsWrapped/nsBare, "x-bare")
	b.ReportMetric(aWrapped-aBare, "allocs-over-bare")
	b.ReportMetric(bWrapped-bBare, "B-over-bare")
}

// vsBare is vsBareParallel from one goroutine.
func vsBare(b *testing.B, bare, wrapped func(), g, batch int) {
	vsBareParallel(b, func(int) { bare() }, func(int) { wrapped() }, g, batch)
}

// BenchmarkRequestFloor measures, in the same run and as
// BenchmarkRequestVsBare's inprocess does, the floor of a signed-in
// backend request (floor_test.go: the least any middleware with the
// Manager's duties does, stage by stage) and the Manager's middleware
// ("logout"), each against the bare handler: what the middleware costs
// above the last stage is what its rules cost. A stage's logout-ns/req
// is its own time per request.
func BenchmarkRequestFloor(b *testing.B) {
	serve := func(h http.Handler, r *http.Request) func() {
		d := &discard{h: make(http.Header)}
		return func() {
			clear(d.h)
			h.ServeHTTP(d, r)
		}
	}
	for stage, name := range logout.FloorStages {
		b.Run(name, func(b *testing.B) {
			h, cookie := logout.Floor(stage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if stage >= logout.FloorContext && !logout.FloorSignedIn(r) {
					b.Error("not signed in")
				}
				w.WriteHeader(http.StatusOK)
			}))
			r := httptest.NewRequest("GET", "/backend/dashboard", nil)
			r.AddCookie(cookie)
			vsBare(b, serve(okHandler, r), serve(h, r), 1, 1024)
		})
	}
	b.Run("logout", func(b *testing.B) {
		r, h := signedIn(b, logout.NewMemoryStore(), 1)
		vsBare(b, serve(okHandler, r[0]), serve(h, r[0]), 1, 1024)
	})
}
