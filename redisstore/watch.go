package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

// pingEvery is how long Watch waits for a message before it checks the
// connection with a PING; a second silent wait ends Watch with an error.
const pingEvery = 15 * time.Second

// Watch implements [logout.Watcher]: it subscribes to [Options.Channel]
// and calls fn, on Watch's goroutine, for every change that a Store
// sharing the server and channel announces: Settings after a
// [Store.SaveSettings], Ended after a [Store.EndSessions] (a large end
// arrives as several Changes). Changes made while no Watch listened are
// not replayed: once subscribed, Watch calls fn with All set, so the
// caller rereads what it holds; it does the same for a message it cannot
// read. fn must not block for long: Redis drops a subscriber that falls
// too far behind.
//
// Watch returns ctx.Err() when ctx is done, or an error as soon as the
// subscription fails or the connection is lost (it does not resubscribe
// by itself).
func (s *Store) Watch(ctx context.Context, fn func(logout.Change)) error {
	ps := s.client.Subscribe(ctx, s.channel)
	defer ps.Close()
	// A blocked receive does not see ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()

	subscribed, pinged := false, false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var ne net.Error
			if !subscribed || pinged || !errors.As(err, &ne) || !ne.Timeout() {
				return fmt.Errorf("redisstore: watch: %w", err)
			}
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("redisstore: watch: %w", err)
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				return fmt.Errorf("redisstore: watch: unexpected %s", m)
			}
			subscribed = true
			// Changes made before the subscription took effect were missed.
			fn(logout.Change{All: true})
		case *redis.Message:
			var c struct {
				Settings bool     `json:"settings"`
				Ended    []string `json:"ended"`
			}
			if json.Unmarshal([]byte(m.Payload), &c) != nil || !c.Settings && len(c.Ended) == 0 {
				fn(logout.Change{All: true}) // something changed; what is unknown
				continue
			}
			fn(logout.Change{Settings: c.Settings, Ended: c.Ended})
		}
	}
}
