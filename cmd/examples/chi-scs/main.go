// Command chi-scs is a tiny notes admin on go-chi/chi that keeps its own
// sessions with alexedwards/scs and adds Logout on top of them
// (logout.Options.App): Logout keeps an idle deadline per scs session,
// destroys the scs session when an admin has been idle for 15 minutes,
// and shows a countdown next to the user's name. Every line that Logout
// adds ends with a "Logout" comment.
//
//	cd examples && go run ./chi-scs
//
// Then open http://127.0.0.1:8080/backend/ and sign in as "demo" with the
// password "demo-password". Both scs and Logout keep their sessions in
// memory here, so a restart signs everyone out; an app that keeps scs
// sessions in a database (sqlite3store) gives Logout the sqlitestore.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"        // Logout
	"github.com/gologout/logout/widget" // Logout
)

// The demo user; a real app keeps its users in a database.
const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoHash     = "$2a$10$lFRKX9d9ePOP.yTsWMU.W.PPAfrzNMpbRUooNy2KizskoTqY0jPua" // bcrypt of demoPassword
)

// userKey is the scs session key of the signed-in user's name.
const userKey = "user"

// assetsPrefix is where the widget's script and stylesheet are served.
const assetsPrefix = "/backend/assets/logout/" // Logout

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chi-scs:", err)
		os.Exit(1)
	}
}

// run serves the notes admin until ctx is done, then shuts it down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chi-scs", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", cmp.Or(getenv("NOTES_ADDR"), "127.0.0.1:8080"), "`host:port` to listen on (NOTES_ADDR)")
	lifetime := fs.Duration("lifetime", 0, "a short idle `lifetime`, such as 20s, to watch a timeout (default: the settings' 15 minutes)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))

	sessions := scs.New()                                                                                                                                // in memory (memstore)
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{App: scsSessions{sessions, logger}, Logger: logger, Defaults: demoLifetime(*lifetime)}) // Logout
	if err != nil {                                                                                                                                      // Logout
		return fmt.Errorf("session manager: %w", err) // Logout
	} // Logout
	go m.Run(ctx) // Logout: ends the sessions that stopped making requests

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newServer(sessions, m, logger), ReadHeaderTimeout: 10 * time.Second} // Logout
	fmt.Fprintf(stdout, "notes admin on http://%s/backend/ (user %q, password %q)\n", ln.Addr(), demoUser, demoPassword)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// scsSessions connects Logout to the scs sessions (logout.Options.App).
// Both methods read the session that scs's LoadAndSave put in the
// request's context, so Logout's middleware must run inside LoadAndSave.
type scsSessions struct { // Logout
	sessions *scs.SessionManager // Logout
	logger   *slog.Logger        // Logout
} // Logout

// SessionID returns the request's scs token: after RenewToken at sign-in
// the new one, and "" when the request has no scs session.
func (a scsSessions) SessionID(r *http.Request) string { return a.sessions.Token(r.Context()) } // Logout

// EndSession destroys the request's scs session; LoadAndSave then deletes
// its cookie.
func (a scsSessions) EndSession(_ http.ResponseWriter, r *http.Request) { // Logout
	if err := a.sessions.Destroy(r.Context()); err != nil { // Logout
		a.logger.ErrorContext(r.Context(), "chi-scs: destroy session", slog.Any("error", err)) // Logout
	} // Logout
} // Logout

// newServer returns the app's handler: its own sessions, and m, which
// ends them when an admin has been idle too long.
func newServer(sessions *scs.SessionManager, m *logout.Manager, logger *slog.Logger) http.Handler { // Logout
	var notes notes
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		logger.ErrorContext(r.Context(), "chi-scs: request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
	}
	render := func(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			logger.ErrorContext(r.Context(), "chi-scs: render", slog.String("page", name), slog.Any("error", err))
		}
	}

	r := chi.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler, sessions.LoadAndSave, m.Handler) // Logout
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusOK, "front", frontPage{User: sessions.GetString(r.Context(), userKey)})
	})
	r.Get("/backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusOK, "signin", signInPage{})
	})
	r.Post("/backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user")
		// Compare the password even for an unknown user: the time taken
		// does not tell which users exist.
		wrong := bcrypt.CompareHashAndPassword([]byte(demoHash), []byte(r.PostFormValue("password"))) != nil
		if wrong || user != demoUser {
			render(w, r, http.StatusUnauthorized, "signin", signInPage{Error: "Wrong user name or password."})
			return
		}
		// A new session token at every sign-in (session fixation).
		if err := sessions.RenewToken(r.Context()); err != nil {
			fail(w, r, fmt.Errorf("sign in %q: renew session: %w", user, err))
			return
		}
		sessions.Put(r.Context(), userKey, user)
		if _, err := m.SignIn(w, r, logout.User{ID: user, Name: user}); err != nil { // Logout: the name the lock dialog fills in
			fail(w, r, fmt.Errorf("sign in %q: %w", user, err)) // Logout
			return                                              // Logout
		} // Logout
		// The form posts to its own URL, ?reason=…&return=… included.
		to, _ := logout.SafeReturnPath(r.FormValue("return"))             // Logout
		http.Redirect(w, r, cmp.Or(to, "/backend/"), http.StatusSeeOther) // Logout
	})
	r.Post("/backend/auth/signout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.SignOut(w, r); err != nil { // Logout: ends both sessions (was sessions.Destroy)
			fail(w, r, fmt.Errorf("sign out: %w", err))
			return
		}
		http.Redirect(w, r, "/backend/auth/signin", http.StatusSeeOther)
	})
	r.Handle("/backend/session/*", m.Endpoints())                                // Logout
	r.Handle(assetsPrefix+"*", http.StripPrefix(assetsPrefix, widget.Handler())) // Logout

	// The admin: every route needs a signed-in user.
	r.Group(func(r chi.Router) {
		r.Use(m.Require) // Logout (was the app's own requireUser)
		r.Get("/backend/", func(w http.ResponseWriter, r *http.Request) {
			page := dashboardPage{User: sessions.GetString(r.Context(), userKey), Notes: notes.list()}
			page.Logout, _ = widget.New(m, r)       // Logout
			page.Logout.AssetsPrefix = assetsPrefix // Logout
			render(w, r, http.StatusOK, "dashboard", page)
		})
		r.Post("/backend/notes", func(w http.ResponseWriter, r *http.Request) {
			if text := r.PostFormValue("text"); text != "" {
				notes.add(text)
			}
			http.Redirect(w, r, "/backend/", http.StatusSeeOther)
		})
		r.Get("/backend/api/notes", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(map[string][]string{"notes": notes.list()}); err != nil {
				logger.ErrorContext(r.Context(), "chi-scs: write notes", slog.Any("error", err))
			}
		})
	})
	return r
}

// A frontPage is what the public front page shows.
type frontPage struct{ User string }

// A dashboardPage is what the dashboard shows.
type dashboardPage struct {
	User   string
	Notes  []string
	Logout widget.Config // Logout
}

// A signInPage is what the sign-in form shows.
type signInPage struct{ Error string }

// pages are the app's HTML pages.
var pages = template.Must(template.New("").Parse(`
{{define "front"}}<!doctype html><html lang="en"><title>Notes</title>
<h1>Notes</h1>{{with .User}}<p>Signed in as {{.}}.</p>{{end}}
<p>The public site. The admin is at <a href="/backend/">/backend</a>.</p></html>{{end}}

{{define "signin"}}<!doctype html><html lang="en"><title>Sign in · Notes admin</title>
<h1>Sign in</h1>{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post">
<label>User <input name="user" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></html>{{end}}

{{define "dashboard"}}<!doctype html><html lang="en"><head><title>Notes admin</title>
{{.Logout.Script}}{{/* Logout */}}
</head><body><header>Signed in as {{.User}}
{{.Logout.Element}}{{/* Logout */}}
<form method="post" action="/backend/auth/signout"><button>Sign out</button></form>
</header><main><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/backend/notes"><input name="text" required> <button>Add note</button></form>
</main></body></html>{{end}}
`))

// notes are the app's data, kept in memory. The zero value is empty and
// ready; it is safe for concurrent use.
type notes struct {
	mu    sync.Mutex
	items []string
}

func (n *notes) add(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.items = append(n.items, text)
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string{}, n.items...) // [] in JSON, not null
}

// demoLifetime returns the settings of a short idle lifetime d, with the
// warning at half of it, or nil (the defaults) for 0: so that a timeout
// can be watched. An app sets its defaults, or lets the settings page do.
func demoLifetime(d time.Duration) *logout.Settings {
	if d <= 0 {
		return nil
	}
	set := logout.DefaultSettings()
	set.Lifetime, set.WarningLead = d, min(set.WarningLead, d/2)
	return &set
}
