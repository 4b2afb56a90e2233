package backend_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"time"

	"github.com/gologout/logout/cmd/internal/backend"
)

// An App starts in-process on a data directory and serves through
// httptest; the first start creates the administrator and the editor.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "backend-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, err := backend.New(ctx, backend.Config{
		DataDir:       dir,
		AdminPassword: "correct horse battery",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }() // the sweeper; flushes on return
	srv := httptest.NewServer(app.Handler())

	for _, c := range app.Created() {
		fmt.Println("created", c.User, "with role", c.Role)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/", "/backend", app.SignInPath()} {
		res, err := client.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		title := regexp.MustCompile(`<title>(.*)</title>`).FindSubmatch(body)
		if title != nil {
			fmt.Printf("%s: %d %s\n", path, res.StatusCode, title[1])
		} else {
			fmt.Printf("%s: %d to %s\n", path, res.StatusCode, res.Header.Get("Location"))
		}
	}

	srv.Close() // stop serving first,
	cancel()    // then stop the background work,
	fmt.Println(<-ran, app.Close())
	// Output:
	// created admin with role admin
	// created editor with role editor
	// /: 200 Welcome – Example site
	// /backend: 303 to /backend/auth/signin?return=%2Fbackend
	// /backend/auth/signin: 200 Sign in – Backend
	// <nil> <nil>
}

// An administrator makes an API token (as "backend tokens create" does
// on the data directory); a script then reads the sessions with it.
func ExampleCreateToken() {
	dir, err := os.MkdirTemp("", "backend-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	tok, secret, err := backend.CreateToken(context.Background(), dir, "reports", backend.ScopeRead, 30*24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Name, tok.Scope, len(secret)) // show the secret once; users.db keeps its hash

	app, err := backend.New(context.Background(), backend.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	for _, token := range []string{secret, "lgo_wrong"} {
		req, _ := http.NewRequest("GET", srv.URL+"/backend/api/v1/sessions?order=active", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d %s", res.StatusCode, body)
	}
	// Output:
	// reports read 47
	// 200 {"sessions":[],"total":0}
	// 401 {"error":"a valid bearer token is required"}
}
