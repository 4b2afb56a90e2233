package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every instance of the application opens the same schema: they then share
// sessions, settings and the sign-out log, and each hears the others'
// changes. It needs a server, so it has no output to check.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(ctx, pool, pgstore.Options{}) // schema "logout"
	if err != nil {
		log.Fatal(err)
	}
	m, err := logout.New(store, logout.Options{})
	if err != nil {
		log.Fatal(err)
	}
	go m.Run(ctx) // sweeps expired sessions and watches the store

	mux := http.NewServeMux()
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}
