package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

// eventJSON is the stored form of an event.
type eventJSON struct {
	Seq     int64  `json:"seq"`
	Session string `json:"session"`
	User    string `json:"user"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"`
}

func parseEvent(b string) (logout.Event, error) {
	e, _, err := parseEventSeq(b)
	return e, err
}

// parseEventSeq parses an event and its sequence number, the order in
// which events were logged.
func parseEventSeq(b string) (logout.Event, int64, error) {
	var j eventJSON
	if err := json.Unmarshal([]byte(b), &j); err != nil {
		return logout.Event{}, 0, fmt.Errorf("event %q: %w", b, err)
	}
	r, err := logout.ParseReason(j.Reason)
	if err != nil {
		return logout.Event{}, 0, fmt.Errorf("event %q: %w", b, err)
	}
	return logout.Event{SessionID: j.Session, UserID: j.User, Reason: r, At: time.UnixMicro(j.At).UTC()}, j.Seq, nil
}

// Event implements [logout.Store]. A session's event is found for 30 days
// after it was logged, or until [Store.DeleteEvents] removes it.
func (s *Store) Event(ctx context.Context, sessionID string) (logout.Event, error) {
	b, err := s.client.Get(ctx, s.eventKey(sessionID)).Result()
	if errors.Is(err, redis.Nil) {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", logout.ErrNotFound)
	}
	if err != nil {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", err)
	}
	e, err := parseEvent(b)
	if err != nil {
		return logout.Event{}, fmt.Errorf("redisstore: event: %w", err)
	}
	return e, nil
}

// Events implements [logout.EventLog]. It reads the events zset, or the
// user's (eu:<user>), both scored by At, from Until down to Since, a page
// of at most [batch] events per ZREVRANGEBYSCORE, so its cost grows with
// the events returned; a filter by reason is applied as the pages come,
// so it also reads the events of the range that it skips. Redis orders
// members of equal score by their text, not by when they were logged, so
// it reads on to the end of the last time it returns and sorts events of
// equal At by their sequence number, newest logged first.
func (s *Store) Events(ctx context.Context, q logout.EventQuery) ([]logout.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	key := s.events
	if q.UserID != "" {
		key = s.userEventsKey(q.UserID)
	}
	rng := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: batch}
	if !q.Until.IsZero() {
		rng.Max = "(" + micros(q.Until)
	}
	if !q.Since.IsZero() {
		rng.Min = micros(q.Since)
	}
	type seqEvent struct {
		logout.Event
		seq int64
	}
	var out []seqEvent
	for {
		bs, err := s.client.ZRevRangeByScore(ctx, key, rng).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: events: %w", err)
		}
		done := false
		for _, b := range bs {
			e, seq, err := parseEventSeq(b)
			if err != nil {
				return nil, fmt.Errorf("redisstore: events: %w", err)
			}
			if n := len(out); n >= q.Limit && !e.At.Equal(out[n-1].At) {
				done = true // past the last time returned
				break
			}
			if q.Match(e) {
				out = append(out, seqEvent{e, seq})
			}
		}
		if done || len(bs) < batch {
			break
		}
		rng.Offset += batch
	}
	slices.SortStableFunc(out, func(a, b seqEvent) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	evs := make([]logout.Event, 0, min(len(out), q.Limit))
	for _, e := range out[:min(len(out), q.Limit)] {
		evs = append(evs, e.Event)
	}
	return evs, nil
}

// DeleteEvents implements [logout.Store]. It removes the events in
// batches; if it fails midway, the count it returns with the error is of
// those removed.
//
// It also upgrades data written by a version of this package before the
// event queries, once: it adds the logged events to their user's zsets
// and seeds the settings history, a batch at a time.
func (s *Store) DeleteEvents(ctx context.Context, before time.Time) (int, error) {
	if err := s.upgrade(ctx); err != nil {
		return 0, fmt.Errorf("redisstore: delete events: %w", err)
	}
	total := 0
	for {
		n, err := deleteEventsScript.Run(ctx, s.client, []string{s.events}, s.prefix, micros(before), batch).Int()
		if err != nil {
			return total, fmt.Errorf("redisstore: delete events: %w", err)
		}
		if total += n; n < batch {
			return total, nil
		}
	}
}
