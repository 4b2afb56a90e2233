package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below make every multi-key change atomic. Each one
// touches a bounded number of keys per session it handles; the Go side
// splits large selections into batches of at most [batch] sessions.
//
// Times travel as decimal Unix microseconds. Lua numbers are doubles,
// exact up to 2^53 µs (year 2255), so comparisons in the scripts are exact.
// Keys not known before the script runs (the user index, the event key)
// are built from the prefix in ARGV; with Redis Cluster the prefix's hash
// tag keeps them in the slot of KEYS[1].

// expireAt is a Lua function: when Redis should expire a session key
// written now with this deadline: Margin after the deadline, or Margin
// after now by the Redis clock if that is later. A session written with a
// deadline already past (after an administrator shortened the lifetime)
// thus stays for the Manager's sweep to end and log. Redis's clock only
// decides when it forgets; whether a session has ended is never judged by
// it.
//
// nowMs reads the Redis clock in milliseconds; expireAtFrom is expireAt
// for a script that reads the clock once for many sessions.
const expireAt = `
local function nowMs()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expireAtFrom(deadlineUs, marginMs, now)
	return math.max(math.floor(tonumber(deadlineUs) / 1000), now) + tonumber(marginMs)
end
local function expireAt(deadlineUs, marginMs)
	return expireAtFrom(deadlineUs, marginMs, nowMs())
end
`

// indexKeys are Lua functions for the keys that index a session by what
// it carries: tagList decodes the hash's tags field (JSON; missing in
// sessions of layout 2, read as none); indexKeys returns the user's zset,
// the address's zset (none for the empty address) and the set of each
// tag; extend makes keys expire no sooner than exp (they expire with the
// longest-lived of their sessions).
const indexKeys = `
local function tagList(json)
	local ok, t = pcall(cjson.decode, json or '[]')
	if ok and type(t) == 'table' then return t end
	return {}
end
local function indexKeys(p, user, addr, tags)
	local keys = {p .. 'u:' .. user}
	if addr and addr ~= '' then keys[#keys + 1] = p .. 'a:' .. addr end
	for _, t in ipairs(tagList(tags)) do
		if type(t) == 'string' then keys[#keys + 1] = p .. 't:' .. t end
	end
	return keys
end
local function extend(keys, exp)
	for _, k in ipairs(keys) do
		redis.call('PEXPIREAT', k, exp, 'NX')
		redis.call('PEXPIREAT', k, exp, 'GT')
	end
end
`

// readSession is a Lua function: the reply row of session id, {id, user,
// roles, created, last_seen, deadline, name, ua, addr, tags}, or nil when
// its hash is gone. Fields missing from the hash of a session that an
// older layout wrote (name before layout 2; ua, addr, tags before 3) are
// "".
const readSession = `
local sessionFields = {'user', 'roles', 'created', 'last_seen', 'deadline', 'name', 'ua', 'addr', 'tags'}
local function readSession(p, id)
	local h = redis.call('HMGET', p .. 's:' .. id, unpack(sessionFields))
	if not h[1] then return nil end
	local r = {id}
	for i = 1, #sessionFields do r[i + 1] = h[i] or '' end
	return r
end
`

// rankOf is a Lua function: the number of members of an index zset that
// come before the cursor (score c, id) in the zset's ascending order, the
// cursor's own member included when inclusive. The index zsets are scored
// by a time in µs, and Redis orders members of equal score byte by byte
// (memcmp), so the zset's order is exactly (time, ID). ZCOUNT gives the
// ranks [lo, hi) of the members scored c, and a binary search among them,
// one ZRANGE of a single rank per step, finds the cursor's place. Lua's own
// string comparison follows the server's locale, so IDs are compared byte
// by byte by hand. O(log N), or O(log² N) when many members share c.
const rankOf = `
local function less(a, b)
	for i = 1, math.min(#a, #b) do
		local x, y = string.byte(a, i), string.byte(b, i)
		if x ~= y then return x < y end
	end
	return #a < #b
end
local function rankOf(key, c, id, inclusive)
	local lo = redis.call('ZCOUNT', key, '-inf', '(' .. c)
	local hi = redis.call('ZCOUNT', key, '-inf', c)
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		local m = redis.call('ZRANGE', key, mid, mid)[1]
		local before
		if inclusive then before = not less(id, m) else before = less(m, id) end
		if before then lo = mid + 1 else hi = mid end
	end
	return lo
end
`

// createScript stores a new session unless its ID is taken, and adds it
// to the indexes: deadlines by deadline, seen by last_seen, created, the
// user's and the address's by creation time, and the set of each tag.
//
// KEYS: session hash, deadlines zset, created zset, seen zset.
// ARGV: prefix, id, user, roles, created, last_seen, deadline, margin ms,
// name, user agent, address, tags (JSON array).
// Returns 0 if the ID is taken, 1 if stored.
var createScript = redis.NewScript(expireAt + indexKeys + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p, id, addr = ARGV[1], ARGV[2], ARGV[11]
local exp = expireAt(ARGV[7], ARGV[8])
redis.call('HSET', KEYS[1], 'user', ARGV[3], 'roles', ARGV[4],
	'created', ARGV[5], 'last_seen', ARGV[6], 'deadline', ARGV[7], 'name', ARGV[9],
	'ua', ARGV[10], 'addr', addr, 'tags', ARGV[12])
redis.call('PEXPIREAT', KEYS[1], exp)
redis.call('ZADD', KEYS[2], ARGV[7], id)
redis.call('ZADD', KEYS[3], ARGV[5], id)
redis.call('ZADD', KEYS[4], ARGV[6], id)
redis.call('ZADD', p .. 'u:' .. ARGV[3], ARGV[5], id)
if addr ~= '' then redis.call('ZADD', p .. 'a:' .. addr, ARGV[5], id) end
for _, t in ipairs(tagList(ARGV[12])) do
	if type(t) == 'string' then redis.call('SADD', p .. 't:' .. t, id) end
end
extend(indexKeys(p, ARGV[3], addr, ARGV[12]), exp)
return 1
`)

// touchScript moves a session's activity and deadline forward, in the
// hash and in the seen and deadlines indexes, and extends the expiry of
// the session's key and of its user's, address's and tags' keys. It never
// creates the session: a touch that loses a race with an end finds no hash.
//
// KEYS: session hash, deadlines zset, seen zset.
// ARGV: prefix, id, last_seen, deadline, margin ms.
// Returns 0 if the session is missing, 1 if touched or left alone (older
// activity).
var touchScript = redis.NewScript(expireAt + indexKeys + `
local h = redis.call('HMGET', KEYS[1], 'user', 'last_seen', 'addr', 'tags')
if not h[1] then return 0 end
if tonumber(ARGV[3]) < tonumber(h[2]) then return 1 end
local exp = expireAt(ARGV[4], ARGV[5])
redis.call('HSET', KEYS[1], 'last_seen', ARGV[3], 'deadline', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], exp)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
extend(indexKeys(ARGV[1], h[1], h[3], h[4]), exp)
return 1
`)

// setDeadlinesScript sets the deadline of each listed session that
// exists and whose last_seen equals the given one, and keeps the rest in
// step as touchScript does: the deadlines index, the key's expiry (Margin
// after the new deadline, or after now if that is later) and the expiry of
// the user's, address's and tags' keys (only ever extended). last_seen
// itself is left alone.
//
// KEYS: deadlines zset.
// ARGV: prefix, margin ms, then id, last_seen µs, deadline µs for each
// session.
// Returns how many sessions it updated.
var setDeadlinesScript = redis.NewScript(expireAt + indexKeys + `
local p, now, n = ARGV[1], nowMs(), 0
for i = 3, #ARGV - 2, 3 do
	local id, seen, deadline = ARGV[i], ARGV[i + 1], ARGV[i + 2]
	local key = p .. 's:' .. id
	local h = redis.call('HMGET', key, 'user', 'last_seen', 'addr', 'tags')
	if h[1] and tonumber(h[2]) == tonumber(seen) then
		local exp = expireAtFrom(deadline, ARGV[2], now)
		redis.call('HSET', key, 'deadline', deadline)
		redis.call('PEXPIREAT', key, exp)
		redis.call('ZADD', KEYS[1], deadline, id)
		extend(indexKeys(p, h[1], h[3], h[4]), exp)
		n = n + 1
	end
end
return n
`)

// endScript ends the listed sessions that still exist and match the
// filters: it deletes each one, drops it from the indexes (deadlines,
// created, seen, its user's, its address's and its tags'), logs its event
// (in the events zset and the user's, eu:<user>, both scored by at) and
// points the session's event key at it, all in one step, and then
// publishes the ended IDs. IDs whose hash is gone are dropped from the
// indexes (Redis expired them) and skipped; so are, from the tag's set,
// sessions that do not carry the tag.
//
// KEYS: deadlines zset, events zset, event sequence counter, created zset,
// seen zset.
// ARGV: prefix, channel, reason, at µs, seen-by µs or "", except ID or "",
// user ID or "", event key TTL ms, tag or "", then the IDs.
// Returns {id1, user1, id2, user2, ...} for the sessions it ended.
var endScript = redis.NewScript(indexKeys + `
local p, seenBy, except, user, tag = ARGV[1], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[9]
local out, ended = {}, {}
local function carries(tags)
	if tag == '' then return true end
	for _, t in ipairs(tags) do
		if t == tag then return true end
	end
	return false
end
for i = 10, #ARGV do
	local id = ARGV[i]
	local key = p .. 's:' .. id
	local h = redis.call('HMGET', key, 'user', 'last_seen', 'addr', 'tags')
	if not h[1] then
		redis.call('ZREM', KEYS[1], id)
		redis.call('ZREM', KEYS[4], id)
		redis.call('ZREM', KEYS[5], id)
		if user ~= '' then redis.call('ZREM', p .. 'u:' .. user, id) end
		if tag ~= '' then redis.call('SREM', p .. 't:' .. tag, id) end
	elseif not carries(tagList(h[4])) then
		redis.call('SREM', p .. 't:' .. tag, id)
	elseif id ~= except and (user == '' or h[1] == user) and
		(seenBy == nil or tonumber(h[2]) <= seenBy) then
		redis.call('DEL', key)
		for _, k in ipairs(indexKeys(p, h[1], h[3], h[4])) do
			if string.sub(k, #p + 1, #p + 2) == 't:' then
				redis.call('SREM', k, id)
			else
				redis.call('ZREM', k, id)
			end
		end
		redis.call('ZREM', KEYS[1], id)
		redis.call('ZREM', KEYS[4], id)
		redis.call('ZREM', KEYS[5], id)
		local seq = redis.call('INCR', KEYS[3])
		local ev = '{"seq":' .. seq .. ',"session":' .. cjson.encode(id) ..
			',"user":' .. cjson.encode(h[1]) .. ',"reason":"' .. ARGV[3] ..
			'","at":' .. ARGV[4] .. '}'
		redis.call('ZADD', KEYS[2], ARGV[4], ev)
		redis.call('ZADD', p .. 'eu:' .. h[1], ARGV[4], ev)
		redis.call('SET', p .. 'e:' .. id, ev, 'PX', ARGV[8])
		out[#out + 1] = id
		out[#out + 1] = h[1]
		ended[#ended + 1] = id
	end
end
if #ended > 0 then
	redis.call('PUBLISH', ARGV[2], cjson.encode({ended = ended}))
end
return out
`)

// expiredScript returns up to count sessions from the deadlines zset with
// a deadline at or before t, skipping offset live ones, and drops members
// whose hash Redis has expired (from created and seen too; their user,
// address and tags are unknown, so their entries there stay until those
// keys expire or a page or an end meets them).
//
// KEYS: deadlines zset, created zset, seen zset.
// ARGV: prefix, t µs, offset, count.
// Returns {scanned, row, ...}, each row as readSession returns it.
var expiredScript = redis.NewScript(readSession + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local out = {#ids}
for _, id in ipairs(ids) do
	local r = readSession(ARGV[1], id)
	if r then
		out[#out + 1] = r
	else
		for _, k in ipairs(KEYS) do redis.call('ZREM', k, id) end
	end
end
return out
`)

// pageScript returns the sessions of one page: up to count members of an
// index zset (created, seen, deadlines, a user's or an address's) that
// come after a cursor, in the zset's own order or in reverse, with their
// hashes. Members whose hash Redis has expired are dropped from the
// indexes (and not returned).
//
// rankOf finds the cursor: ascending, the page is the ranks from the
// members at or before it on; descending, the ranks below the members
// before it, read backwards. The cost is O(log N) for the cursor
// (O(log² N) when many sessions share its microsecond) plus O(log N +
// count) for the page.
//
// KEYS: index zset, deadlines zset, created zset, seen zset.
// ARGV: prefix, cursor's score µs or "" to start at the first member,
// cursor's ID, count, "1" to walk from the highest member down.
// Returns {scanned, row, ...}, each row as readSession returns it.
var pageScript = redis.NewScript(rankOf + readSession + `
local n = tonumber(ARGV[4])
local ids = {}
if ARGV[5] == '1' then
	local k
	if ARGV[2] == '' then
		k = redis.call('ZCARD', KEYS[1])
	else
		k = rankOf(KEYS[1], ARGV[2], ARGV[3], false)
	end
	if k > 0 then
		local asc = redis.call('ZRANGE', KEYS[1], math.max(0, k - n), k - 1)
		for i = #asc, 1, -1 do ids[#ids + 1] = asc[i] end
	end
else
	local start = 0
	if ARGV[2] ~= '' then start = rankOf(KEYS[1], ARGV[2], ARGV[3], true) end
	ids = redis.call('ZRANGE', KEYS[1], start, start + n - 1)
end
local out = {#ids}
for _, id in ipairs(ids) do
	local r = readSession(ARGV[1], id)
	if r then
		out[#out + 1] = r
	else
		for _, k in ipairs(KEYS) do redis.call('ZREM', k, id) end
	end
end
return out
`)

// deleteEventsScript removes up to count events logged before t, from
// the events zset and the user's, and the event key of each session whose
// newest event that was.
//
// KEYS: events zset.
// ARGV: prefix, t µs, count.
// Returns the number removed.
var deleteEventsScript = redis.NewScript(`
local evs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, ev in ipairs(evs) do
	redis.call('ZREM', KEYS[1], ev)
	local ok, e = pcall(cjson.decode, ev)
	if ok and type(e) == 'table' and type(e.session) == 'string' then
		local k = ARGV[1] .. 'e:' .. e.session
		if redis.call('GET', k) == ev then redis.call('DEL', k) end
	end
	if ok and type(e) == 'table' and type(e.user) == 'string' then
		redis.call('ZREM', ARGV[1] .. 'eu:' .. e.user, ev)
	end
end
return #evs
`)

// saveSettingsScript saves the settings if the stored version is the
// expected one, appends them to the history zset (scored by version; a
// history still empty is first seeded with the settings saved before
// it), then publishes the change.
//
// KEYS: settings hash, history zset.
// ARGV: channel, expected version, settings JSON.
// Returns {1, new version} or {0, stored version}.
var saveSettingsScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[2]) then return {0, v} end
if v > 0 and redis.call('ZCARD', KEYS[2]) == 0 then
	redis.call('ZADD', KEYS[2], v, redis.call('HGET', KEYS[1], 'json'))
end
redis.call('HSET', KEYS[1], 'version', v + 1, 'json', ARGV[3])
redis.call('ZADD', KEYS[2], v + 1, ARGV[3])
redis.call('PUBLISH', ARGV[1], '{"settings":true}')
return {1, v + 1}
`)

// deleteHistoryScript removes the history entries saved before t (an
// entry without changed_at, saved before the history, counts as saved
// before every t), but never the newest. It reads the whole history,
// which holds one entry per save.
//
// KEYS: history zset.
// ARGV: t µs.
// Returns the number removed.
var deleteHistoryScript = redis.NewScript(`
local all = redis.call('ZRANGE', KEYS[1], 0, -2)
local n = 0
for _, doc in ipairs(all) do
	local ok, s = pcall(cjson.decode, doc)
	if ok and type(s) == 'table' and (tonumber(s.changed_at) or 0) < tonumber(ARGV[1]) then
		redis.call('ZREM', KEYS[1], doc)
		n = n + 1
	end
end
return n
`)

// upgradeScript brings data written before the event queries (layout 1)
// to layout 2, one batch at a time: it adds up to count events, from rank start
// of the events zset counted from the newest, to their user's zset, and
// seeds an empty history with the saved settings. Walking from the newest
// end, a batch is never skipped: pruning removes the oldest, and a new
// event, already in its user's zset, at most shifts a batch onto events
// seen before. When a batch comes back short it records the version.
//
// KEYS: events zset, schema key, settings hash, history zset.
// ARGV: prefix, start, count, version.
// Returns the number of events read.
var upgradeScript = redis.NewScript(`
local evs = redis.call('ZREVRANGE', KEYS[1], ARGV[2], tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1, 'WITHSCORES')
for i = 1, #evs, 2 do
	local ok, e = pcall(cjson.decode, evs[i])
	if ok and type(e) == 'table' and type(e.user) == 'string' then
		redis.call('ZADD', ARGV[1] .. 'eu:' .. e.user, evs[i + 1], evs[i])
	end
end
if #evs / 2 < tonumber(ARGV[3]) then
	local v = redis.call('HGET', KEYS[3], 'version')
	if v and redis.call('ZCARD', KEYS[4]) == 0 then
		redis.call('ZADD', KEYS[4], v, redis.call('HGET', KEYS[3], 'json'))
	end
	redis.call('SET', KEYS[2], ARGV[4])
end
return #evs / 2
`)

// backfillSeenScript brings data of layout 2 to layout 3, one batch at a
// time: it adds up to count sessions of the created zset, from after the
// cursor on, to the seen zset, scored by their hash's last_seen (a touch
// meanwhile wrote the same score), and records the version when a batch
// comes back short. A keyset cursor, unlike a rank, skips no session when
// others end during the walk; sessions created meanwhile are in seen
// already. Sessions of layout 2 have no ua, addr or tags: they read as
// empty, and are in no address's or tag's index, which is right.
//
// KEYS: created zset, seen zset, schema key.
// ARGV: prefix, cursor's created µs or "", cursor's ID, count, version.
// Returns {read, last created µs, last ID}.
var backfillSeenScript = redis.NewScript(rankOf + `
local start = 0
if ARGV[2] ~= '' then start = rankOf(KEYS[1], ARGV[2], ARGV[3], true) end
local ids = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[4]) - 1, 'WITHSCORES')
for i = 1, #ids, 2 do
	local seen = redis.call('HGET', ARGV[1] .. 's:' .. ids[i], 'last_seen')
	if seen then redis.call('ZADD', KEYS[2], seen, ids[i]) end
end
if #ids / 2 < tonumber(ARGV[4]) then redis.call('SET', KEYS[3], ARGV[5]) end
if #ids == 0 then return {0, '', ''} end
return {#ids / 2, ids[#ids], ids[#ids - 1]}
`)
