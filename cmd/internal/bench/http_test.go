package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

const (
	// parallelism is how many client goroutines per GOMAXPROCS make the
	// requests of the HTTP benchmarks, each with a session of its own.
	parallelism = 4
	statsPath   = "/backend/api/stats"
)

// BenchmarkHTTP measures signed-in requests to a backend JSON endpoint
// over loopback HTTP with keep-alive clients, from parallelism ×
// GOMAXPROCS goroutines, each its own session:
//
//   - bare: the minimal JSON handler with no session at all, the
//     baseline;
//   - backend-*: the reference backend (package backend) on each store,
//     GET /backend/api/stats, the dashboard's stats: Logout's middleware,
//     then a users.db lookup and a CountSessions of the user's sessions;
//   - logout-*: Logout's middleware in front of the minimal handler;
//   - scs-*: scs's LoadAndSave, IdleTimeout 15 min, in front of the same
//     minimal handler.
func BenchmarkHTTP(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeStats(w, "") }))
		defer srv.Close()
		runHTTP(b, srv.URL+statsPath, nil)
	})
	for _, k := range kinds {
		b.Run("backend-"+k.name, func(b *testing.B) {
			app, srv := backendServer(b, k.newLogout(b), logout.SystemClock{})
			runInBackground(b, app.Run)
			runHTTP(b, srv.URL+statsPath, signIns(func() string { return signInBackend(b, srv.URL) }))
		})
	}
	for _, k := range kinds {
		b.Run("logout-"+k.name, func(b *testing.B) {
			h, signIn := logoutJSON(b, k.newLogout(b), logout.SystemClock{})
			srv := httptest.NewServer(h)
			defer srv.Close()
			runHTTP(b, srv.URL+statsPath, signIns(signIn))
		})
	}
	for _, k := range kinds {
		b.Run("scs-"+k.name, func(b *testing.B) {
			h, signIn := scsJSON(b, k.newSCS(b))
			srv := httptest.NewServer(h)
			defer srv.Close()
			runHTTP(b, srv.URL+statsPath, signIns(signIn))
		})
	}
}

// runHTTP GETs url b.N times in all from the parallel goroutines, each
// with a keep-alive connection and one of the cookies.
func runHTTP(b *testing.B, url string, cookies []string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.Header.Set("Accept", "application/json")
		if len(cookies) > 0 {
			req.Header.Set("Cookie", cookies[int(next.Add(1)-1)%len(cookies)])
		}
		for pb.Next() {
			res, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %s", url, res.Status)
				return
			}
		}
	})
}

// signIns returns the cookies of enough sessions for every goroutine.
func signIns(signIn func() string) []string {
	out := make([]string, parallelism*runtime.GOMAXPROCS(0))
	for i := range out {
		out[i] = signIn()
	}
	return out
}

// writeStats is the minimal JSON handler's body: what the dashboard's
// stats carry, in short.
func writeStats(w http.ResponseWriter, user string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"user":`...)
	buf = strconv.AppendQuote(buf, user)
	buf = append(buf, `,"server_time":`...)
	buf = strconv.AppendInt(buf, time.Now().UnixMilli(), 10)
	buf = append(buf, "}\n"...)
	w.Write(buf)
}

// logoutJSON is Logout's middleware in front of the minimal handler,
// with its Run loop going; signIn starts a session and returns its
// Cookie header.
func logoutJSON(b *testing.B, store logout.Store, clock logout.Clock) (http.Handler, func() string) {
	m, err := logout.New(store, logout.Options{Logger: slog.New(slog.DiscardHandler), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	runInBackground(b, m.Run)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := logout.FromContext(r.Context())
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		writeStats(w, s.UserID)
	}))
	signIn := func() string {
		w := httptest.NewRecorder()
		if _, err := m.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
			b.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		return c.Name + "=" + c.Value
	}
	return h, signIn
}

// scsJSON is scs's LoadAndSave, with the idle timeout of Logout's
// default lifetime, in front of the minimal handler.
func scsJSON(b *testing.B, store scs.Store) (http.Handler, func() string) {
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = logout.DefaultLifetime
	sm.Lifetime = 24 * time.Hour
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := sm.GetString(r.Context(), "user")
		if user == "" {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		writeStats(w, user)
	}))
	signin := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			b.Fatal(err)
		}
		sm.Put(r.Context(), "user", "alice")
	}))
	signIn := func() string {
		w := httptest.NewRecorder()
		signin.ServeHTTP(w, httptest.NewRequest("POST", "/backend/auth/signin", nil))
		c := w.Result().Cookies()[0]
		return c.Name + "=" + c.Value
	}
	return h, signIn
}

const benchPassword = "bench-password-1"

// backendServer starts the reference backend on store; the caller runs
// its Run loop if it wants it.
func backendServer(b *testing.B, store logout.Store, clock logout.Clock) (*backend.App, *httptest.Server) {
	app, err := backend.New(context.Background(), backend.Config{
		DataDir: b.TempDir(), Store: store, Clock: clock, BcryptCost: bcrypt.MinCost,
		AdminPassword: benchPassword, EditorPassword: benchPassword,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	b.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	return app, srv
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signInBackend signs in as the editor through the backend's form and
// returns the session's Cookie header.
func signInBackend(b *testing.B, base string) string {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	res, err := c.Get(base + "/backend/auth/signin")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		b.Fatalf("no csrf_token in the sign-in page")
	}
	res, err = c.PostForm(base+"/backend/auth/signin", url.Values{
		"csrf_token": {string(m[1])}, "username": {"editor"}, "password": {benchPassword},
	})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "logout_session" {
			return ck.Name + "=" + ck.Value
		}
	}
	b.Fatalf("sign in: %s, no session cookie", res.Status)
	return ""
}

// runInBackground runs f until the benchmark ends.
func runInBackground(b *testing.B, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
}
