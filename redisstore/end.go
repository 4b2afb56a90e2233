package redisstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gologout/logout"
)

// EndSessions implements [logout.Store]. It ends the selected sessions in
// batches of scripts; each session is deleted, dropped from the indexes
// and logged in one atomic step. Ending a user's or all sessions scans
// the user's index or the deadlines index, by tag the tag's set: sessions
// created meanwhile may or may not be ended. If it fails midway, it returns the events of the
// sessions it did end along with the error. reason must be valid.
func (s *Store) EndSessions(ctx context.Context, sel logout.Selector, reason logout.Reason, at time.Time) ([]logout.Event, error) {
	if err := sel.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: end sessions: %w", err)
	}
	if !reason.Valid() {
		return nil, fmt.Errorf("redisstore: end sessions: invalid reason %v", reason)
	}
	seenBy := ""
	if !sel.SeenBy.IsZero() {
		seenBy = micros(sel.SeenBy)
	}
	var out []logout.Event
	end := func(ids []string) error {
		args := append([]any{s.prefix, s.channel, reason.String(), micros(at), seenBy, sel.Except,
			sel.UserID, eventKeyTTL.Milliseconds(), sel.Tag}, toAny(ids)...)
		res, err := endScript.Run(ctx, s.client, []string{s.deadlines, s.events, s.seq, s.created, s.seen}, args...).StringSlice()
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(res); i += 2 {
			out = append(out, logout.Event{SessionID: res[i], UserID: res[i+1], Reason: reason, At: at})
		}
		return nil
	}
	var err error
	switch {
	case len(sel.IDs) > 0:
		for page := range slices.Chunk(sel.IDs, batch) {
			if err = end(page); err != nil {
				break
			}
		}
	case sel.UserID != "":
		err = s.scan(ctx, s.userKey(sel.UserID), false, end)
	case sel.Tag != "":
		err = s.scan(ctx, s.tagKey(sel.Tag), true, end)
	default:
		err = s.scan(ctx, s.deadlines, false, end)
	}
	if err != nil {
		// The sessions in out did end: report them with the error.
		return out, fmt.Errorf("redisstore: end sessions: %w", err)
	}
	return out, nil
}
