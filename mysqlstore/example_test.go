package mysqlstore_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"os"
	"os/signal"

	_ "github.com/go-sql-driver/mysql"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore"
)

// Every instance of the application opens the same tables, beside the
// application's own (a WordPress database, here): they then share
// sessions, settings and the sign-out log, and each hears the others'
// changes. It needs a server, so it has no output to check.
func Example() {
	ctx := context.Background()
	// For example "app:secret@tcp(127.0.0.1:3306)/wordpress?interpolateParams=true".
	db, err := sql.Open("mysql", os.Getenv("MYSQL_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := mysqlstore.New(ctx, db, mysqlstore.Options{Prefix: "wp_"}) // tables wp_logout_*
	if err != nil {
		log.Fatal(err)
	}
	m, err := logout.New(store, logout.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The sweeper and the watcher (a poll of the change log every
	// PollInterval) run until ctx is done.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	go m.Run(ctx)

	srv := &http.Server{Addr: ":8080", Handler: m.Handler(http.NewServeMux())}
	log.Fatal(srv.ListenAndServe())
}
