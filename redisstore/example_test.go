package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
	"github.com/gologout/logout/redisstore"
)

// Every app instance builds its Manager on the same Redis server and
// prefix; they then share sessions, settings and the sign-out log, and
// hear each other's changes at once. This example needs a server, so it is
// compiled but not run.
func Example() {
	// ContextTimeoutEnabled lets the Manager's StoreTimeout bound each call.
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close() // the caller owns the client

	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:logout:"})
	if err != nil {
		log.Fatal(err)
	}
	m, err := logout.New(store, logout.Options{})
	if err != nil {
		log.Fatal(err)
	}
	go m.Run(context.Background()) // sweeps, and watches the store for changes

	mux := http.NewServeMux()
	mux.Handle("/backend/session/", m.Endpoints())
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", m.Handler(mux)))
}

// Watch reports changes made through any Store on the same server and
// channel. This example needs a server, so it is compiled but not run.
func ExampleStore_Watch() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = store.Watch(ctx, func(c logout.Change) {
		switch {
		case c.All: // first, once subscribed: anything may have changed before
			fmt.Println("reread everything")
		case c.Settings:
			fmt.Println("settings saved")
		default:
			fmt.Println("ended", c.Ended)
		}
	})
	log.Println(err) // the connection failed: reread the store, then watch again
}
