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

	"github.com/gologout/logout/backend"
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
