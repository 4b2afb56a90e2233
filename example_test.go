package logout_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gologout/logout"
)

// The Manager as the session layer itself: it issues the cookie at sign-in
// and signs the user out after 15 idle minutes.
func ExampleManager_Handler() {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	m, _ := logout.New(logout.NewMemoryStore(), logout.Options{
		Clock:  handClock{&now}, // reads now, which the example moves
		Logger: slog.New(slog.DiscardHandler),
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then:
		m.SignIn(w, r, logout.User{ID: "alice", Roles: []string{"admin"}})
	})
	mux.HandleFunc("/backend/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := logout.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", s.UserID)
	})
	h := m.Handler(mux)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/backend/auth/signin", nil))
	cookie := w.Result().Cookies()[0]

	get := func() *http.Response {
		r := httptest.NewRequest("GET", "/backend/dashboard", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	res := get()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, string(body))

	now = now.Add(15 * time.Minute) // idle for the whole lifetime
	res = get()
	fmt.Println(res.StatusCode, res.Header.Get("Location"))
	// Output:
	// 200 hello alice
	// 303 /backend/auth/signin?reason=idle&return=%2Fbackend%2Fdashboard
}

// appSessions adapts an application's own session cookie.
type appSessions struct{}

func (appSessions) SessionID(r *http.Request) string {
	if c, err := r.Cookie("app_session"); err == nil {
		return c.Value
	}
	return ""
}

func (appSessions) EndSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: "app_session", MaxAge: -1, Path: "/"})
}

// The Manager on top of an application's own session system: it keeps
// deadlines per application session and ends the application's session
// when they pass. A front-end page is never redirected.
func ExampleOptions_app() {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	m, _ := logout.New(logout.NewMemoryStore(), logout.Options{
		App:    appSessions{},
		Clock:  handClock{&now}, // reads now, which the example moves
		Logger: slog.New(slog.DiscardHandler),
	})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := logout.FromContext(r.Context())
		fmt.Fprintf(w, "signed in: %v", signedIn)
	}))
	request := func(path string) *http.Request {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: "app_session", Value: "the-app-session-id"})
		return r
	}
	// At the application's sign-in, after it renewed its session ID:
	m.SignIn(httptest.NewRecorder(), request("/backend/auth/signin"), logout.User{ID: "alice"})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("/"))
	fmt.Println(w.Body)

	now = now.Add(time.Hour)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, request("/"))
	fmt.Println(w.Code, w.Body, w.Header().Get("Set-Cookie"))
	// Output:
	// signed in: true
	// 200 signed in: false app_session=; Path=/; Max-Age=0
}

func ExampleSafeReturnPath() {
	for _, p := range []string{"/backend/pages?id=7", "//evil.example", "/%5Cevil.example", "https://evil.example"} {
		_, ok := logout.SafeReturnPath(p)
		fmt.Println(p, ok)
	}
	// Output:
	// /backend/pages?id=7 true
	// //evil.example false
	// /%5Cevil.example false
	// https://evil.example false
}

// handClock is a [logout.Clock] that reads *t, for examples that move
// the time by hand. Its After never fires: they call no [Manager.Run]. A
// test that runs it fakes time with a [testing/synctest] bubble and the
// default clock, or with a clock whose After follows its moves.
type handClock struct{ t *time.Time }

func (c handClock) Now() time.Time                       { return *c.t }
func (c handClock) After(time.Duration) <-chan time.Time { return nil }
