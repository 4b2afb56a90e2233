package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// settingsCases are the cases of saving and reading the settings.
var settingsCases = []struct {
	name string
	run  func(t *testing.T, s logout.Store)
}{
	{"settings: none saved, save, conflict, round-trip", func(t *testing.T, s logout.Store) {
		if _, err := s.Settings(ctx(t)); !errors.Is(err, logout.ErrNotFound) {
			t.Fatalf("Settings on an empty store = %v, want ErrNotFound", err)
		}
		want := logout.Settings{
			Lifetime: 600 * time.Second, ShowCounter: false, AbsoluteLifetime: 8 * time.Hour,
			WarningLead: 45 * time.Second, FrontendActivity: true,
			RoleLifetimes: map[string]time.Duration{"editor": 300 * time.Second, "admin": 120 * time.Second},
		}
		saved, err := s.SaveSettings(ctx(t), want)
		if err != nil {
			t.Fatal(err)
		}
		want.Version = 1
		if !saved.Equal(want) {
			t.Fatalf("SaveSettings = %+v, want %+v", saved, want)
		}
		got, err := s.Settings(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("Settings = %+v, want %+v", got, want)
		}
		stale := logout.DefaultSettings() // version 0
		if _, err := s.SaveSettings(ctx(t), stale); !errors.Is(err, logout.ErrConflict) {
			t.Fatalf("SaveSettings with a stale version = %v, want ErrConflict", err)
		}
		if got, _ := s.Settings(ctx(t)); !got.Equal(want) {
			t.Fatalf("a refused save changed the settings to %+v", got)
		}
		next := logout.DefaultSettings()
		next.Version = 1
		saved, err = s.SaveSettings(ctx(t), next)
		if err != nil {
			t.Fatal(err)
		}
		next.Version = 2
		if got, _ := s.Settings(ctx(t)); !saved.Equal(next) || !got.Equal(next) {
			t.Fatalf("second save = %+v, stored %+v; want %+v", saved, got, next)
		}
	}},
	{"concurrent settings saves: exactly one wins", func(t *testing.T, s logout.Store) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := logout.DefaultSettings()
				st.Lifetime = time.Duration(100+i) * time.Second
				_, err := s.SaveSettings(context.Background(), st)
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, logout.ErrConflict):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d saves of version 0 succeeded, want 1", wins)
		}
		got, err := s.Settings(ctx(t))
		if err != nil || got.Version != 1 {
			t.Fatalf("Settings = %+v, %v; want version 1", got, err)
		}
	}},
}
