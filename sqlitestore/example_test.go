package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/sqlitestore"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "logout")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := sqlitestore.New(ctx, filepath.Join(dir, "logout.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	signIn := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	err = store.CreateSession(ctx, logout.Session{
		ID: "3f9a", UserID: "alice", Roles: []string{"editor"},
		Created: signIn, LastSeen: signIn, Deadline: signIn.Add(15 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	expired, err := store.ExpiredSessions(ctx, signIn.Add(time.Hour), 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range expired {
		fmt.Println("expired:", s.ID, s.UserID, s.Deadline.Format(time.Kitchen))
	}
	events, err := store.EndSessions(ctx, logout.Selector{IDs: []string{"3f9a"}}, logout.ReasonIdle, signIn.Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println("ended:", e.SessionID, e.UserID, e.Reason)
	}
	// Output:
	// expired: 3f9a alice 9:15AM
	// ended: 3f9a alice idle
}
