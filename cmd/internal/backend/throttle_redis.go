package backend

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisThrottlePrefix starts the backend's throttle keys, apart from the
// session store's "logout:".
const redisThrottlePrefix = "logout_backend:signin:"

// redisThrottle is a throttleStore on Redis, shared by the instances on
// one server. Each counter is a hash {tat, last} (Unix ms, as
// [throttleRule.attempt] takes them) that Redis expires once every
// attempt it counted is forgiven. A reservation is one Lua script, so it
// is atomic and one round trip.
type redisThrottle struct {
	c      redis.Scripter
	prefix string
}

// redisReserve is [throttleRule.attempt] for each key, all or nothing,
// as [reserveAll] decides: it reads every key first and writes them only
// if each allows the attempt.
//
// KEYS: the counters. ARGV: now, throttleBase and throttleMax in ms,
// throttleSteps, then free and decay ms of each key in turn. Returns 0 if
// every key counted the attempt, else the longest wait in ms. The expiry
// is relative, so Redis's clock never judges a counter.
var redisReserve = redis.NewScript(`
local now, base, max, steps = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local debts, longest = {}, 0
for i, key in ipairs(KEYS) do
	local free, decay = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
	local s = redis.call('HMGET', key, 'tat', 'last')
	local tat, last = tonumber(s[1]) or 0, tonumber(s[2]) or 0
	local debt = math.max(tat - now, 0)
	local n = math.floor((debt + decay - 1) / decay)
	local wait = 0
	if n >= free then wait = math.min(base * 2 ^ math.min(n - free, steps), max) end
	longest = math.max(longest, last + wait - now)
	debts[i] = math.min(debt + decay, (free + steps) * decay)
end
if longest > 0 then return longest end
for i, key in ipairs(KEYS) do
	redis.call('HSET', key, 'tat', string.format('%d', now + debts[i]), 'last', string.format('%d', now))
	redis.call('PEXPIRE', key, debts[i])
end
return 0
`)

// redisForgive takes one attempt back from each of the first ARGV[1]
// keys, by the decay ms that follow, and deletes the other keys.
var redisForgive = redis.NewScript(`
local n = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
	if i > n then
		redis.call('DEL', key)
	elseif redis.call('EXISTS', key) == 1 then
		redis.call('HINCRBY', key, 'tat', -tonumber(ARGV[1 + i]))
	end
end
return 0
`)

func (s *redisThrottle) keys(cs []throttleCounter) []string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = s.prefix + c.Key
	}
	return keys
}

func (s *redisThrottle) reserve(ctx context.Context, now time.Time, cs []throttleCounter) (time.Duration, error) {
	args := []any{now.UnixMilli(), throttleBase.Milliseconds(), throttleMax.Milliseconds(), throttleSteps}
	for _, c := range cs {
		args = append(args, c.Rule.Free, c.Rule.Decay.Milliseconds())
	}
	ms, err := redisReserve.Run(ctx, s.c, s.keys(cs), args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (s *redisThrottle) forgive(ctx context.Context, refund, clear []throttleCounter) error {
	args := []any{len(refund)}
	for _, c := range refund {
		args = append(args, strconv.FormatInt(c.Rule.Decay.Milliseconds(), 10))
	}
	if err := redisForgive.Run(ctx, s.c, s.keys(append(refund[:len(refund):len(refund)], clear...)), args...).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}
