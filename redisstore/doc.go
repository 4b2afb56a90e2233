// Package redisstore is a [logout.Store] and [logout.Watcher] on Redis,
// through go-redis v9, for many application instances sharing one state:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb, redisstore.Options{}) // keys start with "logout:"
//	if err != nil { ... }
//	m, err := logout.New(store, logout.Options{})
//
// The caller owns the client: the Store never closes it. It needs Redis
// 7.0 or later.
//
// Set ContextTimeoutEnabled on the client: the Manager bounds each store
// call with a context deadline ([logout.Options.StoreTimeout]), and
// go-redis applies context deadlines to socket reads and writes only with
// that option. Without it, a call to a server that the network no longer
// reaches waits for the client's ReadTimeout instead.
//
// # Keys
//
// Every key starts with [Options.Prefix]:
//
//	s:<id>      hash: user, roles (JSON), created, last_seen, deadline (Unix µs), name,
//	            ua, addr, tags (JSON)
//	u:<user>    sorted set of the user's session IDs, scored by created µs
//	a:<addr>    sorted set of the session IDs at the address, scored by created µs
//	t:<tag>     set of the IDs of the sessions carrying the tag
//	created     sorted set of every session ID, scored by created µs
//	seen        sorted set of every session ID, scored by last_seen µs
//	deadlines   sorted set of every session ID, scored by deadline µs
//	events      sorted set of the sign-out log (JSON), scored by time µs
//	e:<id>      string: the session's newest event (JSON), kept 30 days
//	seq         counter that numbers the events
//	settings    hash: version, json
//	schema      string: the layout's version (3)
//
// README.md shows the layout in full. Data of an older layout is upgraded
// by the first [Store.DeleteEvents] (the Manager's first sweep): for
// layout 2 it fills seen from the sessions' last_seen; their user agent,
// address and tags read as empty.
//
// # Atomicity
//
// Creating, touching and ending a session, setting deadlines, and saving
// the settings, each run as one Lua script. A touch changes only a session
// that exists, so a touch racing an end never brings the session back, and
// of two calls that end one session exactly one logs it. No script handles
// more than 256 sessions or events (500 for [Store.SetDeadlines], one page
// of the Manager's refresh after a settings change): ending a user's or
// everyone's sessions scans the user's zset or the deadlines index and
// ends each page with one script.
//
// # Pages and counts
//
// [Store.CountSessions] is ZCARD of created, of the user's or of the
// address's zset (ZINTERCARD of both for a user at an address).
// [Store.ListSessions] walks the zset of its order: created from either
// end (OldestFirst, NewestFirst), seen from the top (ActiveFirst),
// deadlines (EndingFirst), or the user's or the address's (their sessions
// by creation). Redis orders members of equal score byte by byte, so a
// zset scored by a time is in the contract's order, the time then the ID,
// and a script finds the cursor by rank in O(log N). The sessions of a user
// or an address in the other orders are read whole and sorted, being few.
// [Store.EndSessions] by tag scans the tag's set. README.md explains how.
//
// # Expiry
//
// So that a process that never sweeps cannot fill the server, Redis
// expires a session's key [Options.Margin] after its stored deadline, or
// after the session's last write if that is later. The Manager's sweep
// normally ends sessions long before, logging why; a session that Redis
// forgets first leaves no event. Index entries of forgotten sessions are
// dropped by the next call that meets them. Redis's clock decides only
// when a dead session is forgotten; whether a session has ended is judged
// by the times the Manager passes in, as [logout.Store] requires.
//
// # Changes
//
// [Store.SaveSettings] and [Store.EndSessions] publish what they changed
// on [Options.Channel], from the script that makes the change:
// {"settings":true} or {"ended":["<id>",...]}. [Store.Watch] subscribes.
//
// # Redis Cluster
//
// The scripts touch several keys at once, so on Redis Cluster (or a Ring)
// every key must live in one slot: put a hash tag in the prefix, such as
// "{logout}:". [New] refuses a cluster or ring client whose prefix has
// none.
package redisstore
