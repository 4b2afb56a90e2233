package widget_test

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/widget"
)

// A backend page puts the script tags in its head and the counter next to
// the avatar.
func ExampleConfig_Element() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := widget.Config{
		AssetsPrefix: "/backend/assets/logout/",
		Deadline:     now.Add(15 * time.Minute),
		ServerTime:   now,
		Lifetime:     15 * time.Minute,
		WarningLead:  time.Minute,
		ShowCounter:  true,
		StatusURL:    "/backend/session/status",
		KeepAliveURL: "/backend/session/keepalive",
		SignOutURL:   "/backend/session/signout",
		SignInURL:    "/backend/auth/signin",
		CSRFToken:    "token",
		User:         "42",
		UserName:     "ada",
		Labels:       widget.Labels{Stay: "Stay here"},
	}
	page := template.Must(template.New("page").Parse(`<div class="user">{{.Element}}</div>` + "\n"))
	if err := page.Execute(os.Stdout, cfg); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <div class="user"><span class="logout-counter" role="timer" aria-live="off" aria-label="Time left" data-deadline="1767323945000" data-server-time="1767323045000" data-lifetime="900" data-warning-lead="60" data-status-url="/backend/session/status" data-keep-alive-url="/backend/session/keepalive" data-sign-out-url="/backend/session/signout" data-sign-in-url="/backend/auth/signin" data-csrf-token="token" data-user="42" data-user-name="ada" data-preview="Preview: your session has not ended." data-lang="en" data-day="day" data-days="days" data-days-few="" data-warning="You will be signed out in %s" data-retrying="Can&#39;t reach the server, retrying…" data-expired="Session expired">15:00</span><dialog class="logout-dialog" role="alertdialog" aria-labelledby="logout-title" aria-describedby="logout-msg"><h2 id="logout-title">Your session is about to end</h2><p class="logout-msg" id="logout-msg"></p><p class="logout-note"></p><p class="logout-live" aria-live="assertive" aria-atomic="true"></p><div class="logout-actions"><button type="button" class="logout-stay">Stay here</button><button type="button" class="logout-out" data-logout-sign-out>Sign out now</button></div></dialog><dialog class="logout-lock" role="alertdialog" aria-modal="true" aria-labelledby="logout-lock-title" aria-describedby="logout-why"><form class="logout-form" method="post" action="/backend/auth/signin"><h2 class="logout-title" id="logout-lock-title">Sign in to continue</h2><p class="logout-why" id="logout-why" aria-live="assertive" aria-atomic="true"></p><label>User name<input name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required></label><label>Password<input name="password" type="password" autocomplete="current-password" required></label><p class="logout-err" role="alert"></p><div class="logout-actions"><button type="button" class="logout-end">End preview</button><button class="logout-stay">Sign in</button></div><p><a href="/backend/auth/signin">Sign in as someone else</a></p></form></dialog></div>
}

// Handler serves the files that Script links to, with long-lived caching.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/backend/assets/logout/", http.StripPrefix("/backend/assets/logout", widget.Handler()))

	tags := widget.Config{AssetsPrefix: "/backend/assets/logout/"}.Script()
	src := regexp.MustCompile(`src="([^"]+)"`).FindStringSubmatch(string(tags))[1]

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", src, nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Header().Get("Cache-Control"))
	// Output:
	// 200 text/javascript; charset=utf-8
	// public, max-age=31536000, immutable
}

// New builds the widget's Config from the Manager that checked the
// request: nothing is copied by hand, not even the user's name, which
// the sign-in gave. The page adds where the assets are
// mounted and, if it is not in English, the labels.
func ExampleNew() {
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Clock: fixedClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		m.SignIn(w, r, logout.User{ID: "7", Name: "alice"}) // the name the user signs in with
	})
	mux.Handle("GET /backend/", m.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg, ok := widget.New(m, r)
		if !ok {
			return
		}
		cfg.AssetsPrefix = "/assets/logout/"
		fmt.Println(cfg.Deadline.Sub(cfg.ServerTime), cfg.WarningLead, cfg.StatusURL, cfg.SignInURL, cfg.CSRFToken != "", cfg.User, cfg.UserName)
	})))
	h := m.Handler(mux)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/backend/auth/signin", nil))
	r := httptest.NewRequest("GET", "/backend/", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// 15m0s 1m0s /backend/session/status /backend/auth/signin true 7 alice
}

// fixedClock is a [logout.Clock] stopped at one time, for an example
// whose output must not depend on when it runs. Its After never fires:
// the example calls no [logout.Manager.Run].
type fixedClock time.Time

func (c fixedClock) Now() time.Time                       { return time.Time(c) }
func (c fixedClock) After(time.Duration) <-chan time.Time { return nil }
