package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

const (
	// batch is the most sessions or events one script handles.
	batch = 256
	// deadlineBatch is the most sessions one setDeadlinesScript
	// updates: a page of the Manager's refresh (500) in one script, which
	// keeps the server busy for about a millisecond.
	deadlineBatch = 500
	// eventKeyTTL is how long e:<id> keeps a session's newest event.
	eventKeyTTL = 30 * 24 * time.Hour
)

// Options configure a [Store]. The zero Options are valid: every field
// has a default.
type Options struct {
	// Prefix starts every key, so that several stores, or other data,
	// can share one Redis database. Default "logout:". On Redis Cluster it
	// must hold a hash tag, such as "{logout}:".
	Prefix string
	// Margin is how long Redis keeps a session's key after its stored
	// Deadline, or after the session's last write if that is later, before
	// it expires the key. Default 1h; negative is an error.
	//
	// The stored Deadline is not final: the Manager recomputes deadlines
	// from the current settings, and an administrator may lengthen the
	// lifetime, so a session past its stored Deadline may still be alive
	// until the Manager rewrites it. The margin also leaves the Manager's
	// sweep time to end the session itself and log why, and absorbs skew
	// between the app's clock and the Redis server's. Make it longer than
	// the sweep interval plus that skew.
	Margin time.Duration
	// Channel is the pub/sub channel that changes are announced on.
	// Default Prefix + "changes".
	Channel string
}

// A Store is a [logout.Store] and [logout.Watcher] on Redis. It is safe
// for concurrent use. Create one with [New].
type Store struct {
	client  redis.UniversalClient
	prefix  string
	margin  time.Duration
	channel string

	deadlines, created, seen, events, seq, settings, history, schema string // keys
}

// dataVersion is the version of the data's layout that this package
// writes: 2 added the user's events zsets and the settings history,
// which upgradeScript builds for data written before; 3 added the
// session's user agent, address and tags, the address and tag indexes
// and the seen zset, which backfillSeenScript builds for data of layout 2.
const dataVersion = 3

var (
	_ logout.Store   = (*Store)(nil)
	_ logout.Watcher = (*Store)(nil)
)

// New returns a Store that keeps its data in client. The caller owns the
// client and closes it after the last use of the store. New sends
// nothing to the server.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: new: nil client")
	}
	if opts.Margin < 0 {
		return nil, fmt.Errorf("redisstore: new: negative Margin %v", opts.Margin)
	}
	if opts.Prefix == "" {
		opts.Prefix = "logout:"
	}
	if opts.Margin == 0 {
		opts.Margin = time.Hour
	}
	if opts.Channel == "" {
		opts.Channel = opts.Prefix + "changes"
	}
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		if !hasHashTag(opts.Prefix) {
			return nil, fmt.Errorf("redisstore: new: Prefix %q has no hash tag; a cluster or ring needs one, such as \"{logout}:\"", opts.Prefix)
		}
	}
	p := opts.Prefix
	return &Store{
		client: client, prefix: p, margin: opts.Margin, channel: opts.Channel,
		deadlines: p + "deadlines", created: p + "created", seen: p + "seen", events: p + "events", seq: p + "seq", settings: p + "settings",
		history: p + "history", schema: p + "schema",
	}, nil
}

// hasHashTag reports whether Redis Cluster would hash key by a tag: a
// non-empty part between the first '{' and the next '}'.
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

func (s *Store) sessionKey(id string) string   { return s.prefix + "s:" + id }
func (s *Store) userKey(user string) string    { return s.prefix + "u:" + user }
func (s *Store) addrKey(addr string) string    { return s.prefix + "a:" + addr }
func (s *Store) tagKey(tag string) string      { return s.prefix + "t:" + tag }
func (s *Store) eventKey(id string) string     { return s.prefix + "e:" + id }
func (s *Store) userEventsKey(u string) string { return s.prefix + "eu:" + u }

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// upgrade brings the data to dataVersion: upgradeScript to layout 2,
// then backfillSeenScript to layout 3, each a batch at a time. Once the
// data is at dataVersion it costs one GET.
func (s *Store) upgrade(ctx context.Context) error {
	v, err := s.client.Get(ctx, s.schema).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for start := 0; v < 2; start += batch {
		n, err := upgradeScript.Run(ctx, s.client, []string{s.events, s.schema, s.settings, s.history},
			s.prefix, start, batch, 2).Int()
		if err != nil {
			return fmt.Errorf("upgrade to layout 2: %w", err)
		}
		if n < batch {
			break
		}
	}
	for after := (cursor{}); v < 3; {
		res, err := backfillSeenScript.Run(ctx, s.client, []string{s.created, s.seen, s.schema},
			s.prefix, after.score, after.id, batch, 3).Slice()
		if err != nil {
			return fmt.Errorf("upgrade to layout 3: %w", err)
		}
		if n, _ := res[0].(int64); n < batch {
			break
		}
		after.score, _ = res[1].(string)
		after.id, _ = res[2].(string)
	}
	return nil
}
