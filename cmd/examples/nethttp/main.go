// Command nethttp is a tiny notes admin on plain net/http that adds Logout
// in its own cookie mode: Logout's cookie is the admin session, an idle
// admin is signed out after 15 minutes, and a countdown sits next to the
// user's name. Every line that Logout adds ends with a "Logout" comment.
//
//	cd examples && go run ./nethttp
//
// Then open http://127.0.0.1:8080/backend/ and sign in as "demo" with the
// password "demo-password". Sessions are kept in sessions.db in the data
// directory (-data), so they survive a restart.
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
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"             // Logout
	"github.com/gologout/logout/sqlitestore" // Logout
	"github.com/gologout/logout/widget"      // Logout
)

// The demo user; a real app keeps its users in a database.
const (
	demoUser     = "demo"
	demoPassword = "demo-password"
	demoHash     = "$2a$10$lFRKX9d9ePOP.yTsWMU.W.PPAfrzNMpbRUooNy2KizskoTqY0jPua" // bcrypt of demoPassword
)

// assetsPrefix is where the widget's script and stylesheet are served.
const assetsPrefix = "/backend/assets/logout/" // Logout

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
}

// run serves the notes admin until ctx is done, then shuts the server
// down and writes the session activity it saw meanwhile.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("nethttp", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", cmp.Or(getenv("NOTES_ADDR"), "127.0.0.1:8080"), "`host:port` to listen on (NOTES_ADDR)")
	lifetime := fs.Duration("lifetime", 0, "a short idle `lifetime`, such as 20s, to watch a timeout (default: the settings' 15 minutes)")
	data := fs.String("data", cmp.Or(getenv("NOTES_DATA"), "data"), "`directory` of the session database, created if missing (NOTES_DATA)") // Logout
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))

	if err := os.MkdirAll(*data, 0o700); err != nil { // Logout
		return fmt.Errorf("data directory: %w", err) // Logout
	} // Logout

	store, err := sqlitestore.New(ctx, filepath.Join(*data, "sessions.db"), sqlitestore.Options{}) // Logout
	if err != nil {                                                                                // Logout
		return fmt.Errorf("session store: %w", err) // Logout
	} // Logout
	defer store.Close()                                                                            // Logout
	m, err := logout.New(store, logout.Options{Logger: logger, Defaults: demoLifetime(*lifetime)}) // Logout
	if err != nil {                                                                                // Logout
		return fmt.Errorf("session manager: %w", err) // Logout
	} // Logout
	go m.Run(ctx) // Logout: ends the sessions that stopped making requests

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newServer(m, logger), ReadHeaderTimeout: 10 * time.Second} // Logout
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
	return m.Flush(sctx) // Logout: the activity of the last requests
}

// newServer returns the app's handler. m is its session layer: Logout
// issues the session cookie at sign-in and ends idle sessions.
func newServer(m *logout.Manager, logger *slog.Logger) http.Handler { // Logout
	var notes notes
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		logger.ErrorContext(r.Context(), "nethttp: request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
	}
	render := func(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			logger.ErrorContext(r.Context(), "nethttp: render", slog.String("page", name), slog.Any("error", err))
		}
	}

	// The admin: every route needs a signed-in user.
	backend := http.NewServeMux()
	backend.HandleFunc("GET /backend/{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := logout.FromContext(r.Context()) // Logout
		page := dashboardPage{User: sess.UserID, Notes: notes.list()}
		page.Logout, _ = widget.New(m, r)       // Logout
		page.Logout.AssetsPrefix = assetsPrefix // Logout
		render(w, r, http.StatusOK, "dashboard", page)
	})
	backend.HandleFunc("POST /backend/notes", func(w http.ResponseWriter, r *http.Request) {
		if text := r.PostFormValue("text"); text != "" {
			notes.add(text)
		}
		http.Redirect(w, r, "/backend/", http.StatusSeeOther)
	})
	backend.HandleFunc("GET /backend/api/notes", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(map[string][]string{"notes": notes.list()}); err != nil {
			logger.ErrorContext(r.Context(), "nethttp: write notes", slog.Any("error", err))
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusOK, "front", nil)
	})
	mux.HandleFunc("GET /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, http.StatusOK, "signin", signInPage{})
	})
	mux.HandleFunc("POST /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user")
		// Compare the password even for an unknown user: the time taken
		// does not tell which users exist.
		wrong := bcrypt.CompareHashAndPassword([]byte(demoHash), []byte(r.PostFormValue("password"))) != nil
		if wrong || user != demoUser {
			render(w, r, http.StatusUnauthorized, "signin", signInPage{Error: "Wrong user name or password."})
			return
		}
		if _, err := m.SignIn(w, r, logout.User{ID: user, Name: user}); err != nil { // Logout: the name the lock dialog fills in
			fail(w, r, fmt.Errorf("sign in %q: %w", user, err)) // Logout
			return                                              // Logout
		} // Logout
		// The form posts to its own URL, ?reason=…&return=… included.
		to, _ := logout.SafeReturnPath(r.FormValue("return"))             // Logout
		http.Redirect(w, r, cmp.Or(to, "/backend/"), http.StatusSeeOther) // Logout
	})
	mux.Handle(m.Paths().Endpoints+"/", m.Endpoints())                         // Logout
	mux.Handle(assetsPrefix, http.StripPrefix(assetsPrefix, widget.Handler())) // Logout
	mux.Handle("/backend/", m.Require(backend))                                // Logout
	return http.NewCrossOriginProtection().Handler(m.Handler(mux))             // Logout
}

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
<h1>Notes</h1><p>The public site. The admin is at <a href="/backend/">/backend</a>.</p></html>{{end}}

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
<form method="post" action="{{.Logout.SignOutURL}}"><input type="hidden" name="csrf_token" value="{{.Logout.CSRFToken}}"><button data-logout-sign-out>Sign out</button></form>{{/* Logout */}}
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
