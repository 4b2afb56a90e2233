package bench

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gologout/logout"
	"github.com/gologout/logout/sqlitestore"
	_ "modernc.org/sqlite"
)

// discard is a ResponseWriter that keeps nothing, so that the figures are
// the middleware's, not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// run serves the same signed-in backend request b.N times.
func run(b *testing.B, h http.Handler, cookie *http.Cookie) {
	r := httptest.NewRequest("GET", "/backend/dashboard", nil)
	if cookie != nil {
		r.AddCookie(cookie)
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

// runParallel is run from every core at once, one session per goroutine.
func runParallel(b *testing.B, h http.Handler, newCookie func() *http.Cookie) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/backend/dashboard", nil)
		if c := newCookie(); c != nil {
			r.AddCookie(c)
		}
		d := &discard{h: make(http.Header)}
		for pb.Next() {
			clear(d.h)
			h.ServeHTTP(d, r)
		}
	})
}

var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func logoutHandler(b *testing.B, store logout.Store) (http.Handler, func() *http.Cookie) {
	m, err := logout.New(store, logout.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := logout.FromContext(r.Context()); !ok || s.UserID != "alice" {
			b.Fatal("not signed in")
		}
		w.WriteHeader(http.StatusOK)
	}))
	signIn := func() *http.Cookie {
		w := httptest.NewRecorder()
		if _, err := m.SignIn(w, httptest.NewRequest("POST", "/backend/auth/signin", nil), logout.User{ID: "alice"}); err != nil {
			b.Fatal(err)
		}
		return w.Result().Cookies()[0]
	}
	return h, signIn
}

func scsHandler(b *testing.B, store scs.Store) (http.Handler, func() *http.Cookie) {
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = 15 * time.Minute
	sm.Lifetime = 24 * time.Hour
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sm.GetString(r.Context(), "user") != "alice" {
			b.Fatal("not signed in")
		}
		w.WriteHeader(http.StatusOK)
	}))
	signIn := func() *http.Cookie {
		signin := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				b.Fatal(err)
			}
			sm.Put(r.Context(), "user", "alice")
		}))
		w := httptest.NewRecorder()
		signin.ServeHTTP(w, httptest.NewRequest("POST", "/backend/auth/signin", nil))
		return w.Result().Cookies()[0]
	}
	return h, signIn
}

func sqliteStore(b *testing.B) logout.Store {
	s, err := sqlitestore.New(context.Background(), filepath.Join(b.TempDir(), "logout.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// scsSQLite is scs's sqlite3store on the same pure-Go driver, in WAL mode
// with the same busy timeout as sqlitestore.
func scsSQLite(b *testing.B) scs.Store {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "scs.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions(expiry);`); err != nil {
		b.Fatal(err)
	}
	s := sqlite3store.NewWithCleanupInterval(db, 0)
	return s
}

func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) { run(b, app, nil) })
	b.Run("logout-memory", func(b *testing.B) { h, c := logoutHandler(b, logout.NewMemoryStore()); run(b, h, c()) })
	b.Run("scs-memstore", func(b *testing.B) { h, c := scsHandler(b, memstore.NewWithCleanupInterval(0)); run(b, h, c()) })
	b.Run("logout-sqlite", func(b *testing.B) { h, c := logoutHandler(b, sqliteStore(b)); run(b, h, c()) })
	b.Run("scs-sqlite3store", func(b *testing.B) { h, c := scsHandler(b, scsSQLite(b)); run(b, h, c()) })
}

func BenchmarkRequestParallel(b *testing.B) {
	b.Run("bare", func(b *testing.B) { runParallel(b, app, func() *http.Cookie { return nil }) })
	b.Run("logout-memory", func(b *testing.B) { h, c := logoutHandler(b, logout.NewMemoryStore()); runParallel(b, h, c) })
	b.Run("scs-memstore", func(b *testing.B) { h, c := scsHandler(b, memstore.NewWithCleanupInterval(0)); runParallel(b, h, c) })
	b.Run("logout-sqlite", func(b *testing.B) { h, c := logoutHandler(b, sqliteStore(b)); runParallel(b, h, c) })
	b.Run("scs-sqlite3store", func(b *testing.B) { h, c := scsHandler(b, scsSQLite(b)); runParallel(b, h, c) })
}
