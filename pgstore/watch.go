package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gologout/logout"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// maxPayload is the longest NOTIFY payload PostgreSQL accepts, in bytes
// (it must be shorter than 8000).
const maxPayload = 7999

// payload is a notification, one of:
//
//	{"settings":true}
//	{"ended":["id1","id2"]}
type payload struct {
	Settings bool     `json:"settings,omitempty"`
	Ended    []string `json:"ended,omitempty"`
}

const settingsPayload = `{"settings":true}`

// endedPayloads announces ids in as few payloads as fit: each is at most
// maxPayload bytes. An ID too long to fit a payload of its own is left
// out; watchers then see its end at their next reread.
func endedPayloads(ids []string) []string {
	const head, tail = `{"ended":[`, `]}`
	var out []string
	var buf []byte
	for _, id := range ids {
		q, err := json.Marshal(id)
		if err != nil || len(head)+len(q)+len(tail) > maxPayload {
			continue
		}
		if buf != nil && len(buf)+1+len(q)+len(tail) > maxPayload {
			out = append(out, string(append(buf, tail...)))
			buf = nil
		}
		if buf == nil {
			buf = append(buf, head...)
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, q...)
	}
	if buf != nil {
		out = append(out, string(append(buf, tail...)))
	}
	return out
}

// Watch implements [logout.Watcher]. It takes a connection out of the
// pool for as long as it runs (it does not count against the pool's
// MaxConns meanwhile, and is closed, never returned, at the end), LISTENs
// on [Options.Channel] and calls fn, on Watch's goroutine, once per
// notification: with Settings set after a [Store.SaveSettings], with Ended
// after a [Store.EndSessions] (a large end arrives as several Changes).
// Notifications it cannot read are skipped. Changes made while no Watch
// listened are not replayed: once it listens, Watch calls fn with All set,
// so the caller rereads what it holds.
//
// Watch returns ctx.Err() when ctx is done, or an error as soon as the
// connection fails. When no notification comes for [Options.PingInterval]
// it pings the server, and a ping unanswered as long ends Watch with an error,
// so that a connection silenced by the network is not listened to for
// ever.
func (s *Store) Watch(ctx context.Context, fn func(logout.Change)) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return watchErr(ctx, err)
	}
	// A LISTENing connection must not go back to the pool, where the
	// subscription would outlive Watch and its notifications pile up.
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return watchErr(ctx, err)
	}
	// Changes made before the LISTEN took effect were missed.
	fn(logout.Change{All: true})
	for {
		// A connection whose server vanished without a reset (a network
		// partition, a failover) stays silent for ever: ping it when
		// nothing came for a while.
		wctx, cancel := context.WithTimeout(ctx, s.ping)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil {
			var p payload
			if n.Channel == s.channel && json.Unmarshal([]byte(n.Payload), &p) == nil {
				fn(logout.Change{Settings: p.Settings, Ended: p.Ended})
			}
		}
		if err != nil && ctx.Err() == nil && wctx.Err() != nil && pgconn.Timeout(err) {
			pctx, cancel := context.WithTimeout(ctx, s.ping)
			err = conn.Ping(pctx)
			cancel()
		}
		if err != nil {
			return watchErr(ctx, err)
		}
	}
}

func watchErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("pgstore: watch: %w", err)
}
