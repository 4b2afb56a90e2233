package oidc

import (
	"context"
	"sync"
	"time"
)

// A ReplayCache remembers the logout tokens that were used, by a key made
// from their issuer and jti, so that a token is used once. Implementations
// must be safe for concurrent use.
//
// [NewMemoryReplayCache] remembers them in one process. Behind a load
// balancer, give every instance one shared cache (a Redis SET NX with an
// expiry, a table with a unique key) to refuse a token replayed to another
// instance. Without one, such a replay can only end sessions of the
// provider session or subject that the token already ended (ends are
// idempotent) and only within [Options.MaxTokenAge] of its iat, after
// which every instance refuses it.
type ReplayCache interface {
	// Add records key until the given time and reports true, or reports
	// false when key is recorded already and its time has not passed. Of
	// concurrent calls with one key at most one reports true. An error
	// means the cache failed: the token is then refused.
	Add(ctx context.Context, key string, until, now time.Time) (bool, error)
	// Remove forgets key, so that a token whose logout failed can be
	// sent again.
	Remove(ctx context.Context, key string) error
}

// DefaultReplayEntries is the default bound of [NewMemoryReplayCache].
const DefaultReplayEntries = 100_000

// NewMemoryReplayCache returns a [ReplayCache] in memory that holds at most
// max unexpired keys (0: [DefaultReplayEntries]). When it is full it drops
// expired keys, and then the key that expires first: only a provider
// sending more than max valid tokens within [Options.MaxTokenAge] makes it
// forget a key early.
func NewMemoryReplayCache(max int) ReplayCache {
	if max <= 0 {
		max = DefaultReplayEntries
	}
	return &memoryReplay{max: max, keys: map[string]time.Time{}}
}

type memoryReplay struct {
	mu   sync.Mutex
	max  int
	keys map[string]time.Time
}

func (c *memoryReplay) Add(_ context.Context, key string, until, now time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.keys[key]; ok && now.Before(t) {
		return false, nil
	}
	if len(c.keys) >= c.max {
		first, firstAt := "", time.Time{}
		for k, t := range c.keys {
			if !now.Before(t) {
				delete(c.keys, k)
			} else if first == "" || t.Before(firstAt) {
				first, firstAt = k, t
			}
		}
		if len(c.keys) >= c.max {
			delete(c.keys, first)
		}
	}
	c.keys[key] = until
	return true, nil
}

func (c *memoryReplay) Remove(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, key)
	return nil
}
