package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gologout/logout"
)

// Settings implements [logout.Store].
func (s *Store) Settings(ctx context.Context) (logout.Settings, error) {
	v, err := s.client.HMGet(ctx, s.settings, "version", "json").Result()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", err)
	}
	ver, _ := v[0].(string)
	b, _ := v[1].(string)
	if ver == "" || b == "" {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", logout.ErrNotFound)
	}
	var st logout.Settings
	if err := json.Unmarshal([]byte(b), &st); err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: %w", err)
	}
	if st.Version, err = strconv.ParseInt(ver, 10, 64); err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: settings: version: %w", err)
	}
	return st, nil
}

// SaveSettings implements [logout.Store]: one script saves the settings
// and appends them to the history. A successful save is announced to
// watchers.
func (s *Store) SaveSettings(ctx context.Context, st logout.Settings) (logout.Settings, error) {
	want := st.Version
	st.Version++
	b, err := json.Marshal(st)
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: %w", err)
	}
	res, err := saveSettingsScript.Run(ctx, s.client, []string{s.settings, s.history}, s.channel, want, b).Int64Slice()
	if err != nil {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: %w", err)
	}
	if len(res) != 2 {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: bad script reply %v", res)
	}
	if res[0] == 0 {
		return logout.Settings{}, fmt.Errorf("redisstore: save settings: version %d, stored %d: %w", want, res[1], logout.ErrConflict)
	}
	st.Version = res[1]
	return st, nil
}

// SettingsHistory implements [logout.SettingsStore]. It reads the history
// zset, scored by version, downwards from Before, [batch] entries at a
// time; a filter by time reads the entries it skips.
func (s *Store) SettingsHistory(ctx context.Context, q logout.HistoryQuery) ([]logout.Settings, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rng := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: batch}
	if q.Before > 0 {
		rng.Max = "(" + strconv.FormatInt(q.Before, 10)
	}
	var out []logout.Settings
	for len(out) < q.Limit {
		docs, err := s.client.ZRevRangeByScoreWithScores(ctx, s.history, rng).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: settings history: %w", err)
		}
		for _, z := range docs {
			var st logout.Settings
			doc, _ := z.Member.(string)
			if err := json.Unmarshal([]byte(doc), &st); err != nil {
				return nil, fmt.Errorf("redisstore: settings history: %w", err)
			}
			st.Version = int64(z.Score)
			if q.Match(st) && len(out) < q.Limit {
				out = append(out, st)
			}
		}
		if len(docs) < batch {
			break
		}
		rng.Offset += batch
	}
	return out, nil
}

// DeleteSettingsHistory implements [logout.SettingsStore] with one script
// that reads the whole history: one entry per save.
func (s *Store) DeleteSettingsHistory(ctx context.Context, before time.Time) (int, error) {
	n, err := deleteHistoryScript.Run(ctx, s.client, []string{s.history}, micros(before)).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete settings history: %w", err)
	}
	return n, nil
}
