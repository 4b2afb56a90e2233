package storetest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/storetest"
)

// TestRunOnAWatcher runs the whole suite, the Watcher cases included,
// without servers: on a MemoryStore that announces its changes to the
// Watches of every store value sharing it, as pub/sub would.
func TestRunOnAWatcher(t *testing.T) {
	var shared watched
	storetest.Run(t, func(t *testing.T) logout.Store {
		shared = watched{logout.NewMemoryStore(), &hub{}}
		return shared
	}, func(t *testing.T) logout.Store {
		return watched{shared.MemoryStore, shared.hub} // another value on the same data
	})
}

// A hub passes changes to every listening Watch.
type hub struct {
	mu        sync.Mutex
	listeners map[chan logout.Change]bool
}

func (h *hub) announce(c logout.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.listeners {
		l <- c // buffered well beyond what a case announces
	}
}

func (h *hub) listen(l chan logout.Change, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.listeners == nil {
		h.listeners = make(map[chan logout.Change]bool)
	}
	if on {
		h.listeners[l] = true
	} else {
		delete(h.listeners, l)
	}
}

// watched is a MemoryStore that announces its saves and ends on a hub.
type watched struct {
	*logout.MemoryStore
	hub *hub
}

var _ logout.Watcher = watched{}

func (w watched) EndSessions(ctx context.Context, sel logout.Selector, r logout.Reason, at time.Time) ([]logout.Event, error) {
	evs, err := w.MemoryStore.EndSessions(ctx, sel, r, at)
	if len(evs) > 0 {
		c := logout.Change{}
		for _, e := range evs {
			c.Ended = append(c.Ended, e.SessionID)
		}
		w.hub.announce(c)
	}
	return evs, err
}

func (w watched) SaveSettings(ctx context.Context, s logout.Settings) (logout.Settings, error) {
	saved, err := w.MemoryStore.SaveSettings(ctx, s)
	if err == nil {
		w.hub.announce(logout.Change{Settings: true})
	}
	return saved, err
}

func (w watched) Watch(ctx context.Context, fn func(logout.Change)) error {
	l := make(chan logout.Change, 4096)
	w.hub.listen(l, true)
	defer w.hub.listen(l, false)
	fn(logout.Change{All: true})
	for {
		select {
		case c := <-l:
			fn(c)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
