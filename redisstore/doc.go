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
//	s:<id>      hash: user, roles (JSON), created, last_seen, deadline (Unix µs)
//	u:<user>    set of the user's session IDs
//	deadlines   sorted set of every session ID, scored by deadline µs
//	events      sorted set of the sign-out log (JSON), scored by time µs
//	e:<id>      string: the session's newest event (JSON), kept 30 days
//	seq         counter that numbers the events
//	settings    hash: version, json
//
// README.md shows the layout in full.
//
// # Atomicity
//
// Creating, touching and ending a session, and saving the settings, each
// run as one Lua script. A touch changes only a session that exists, so a
// touch racing an end never brings the session back, and of two calls
// that end one session exactly one logs it. No script handles more than
// 256 sessions or events: ending a user's or everyone's sessions scans the
// user's set or the deadlines index and ends each page with one script.
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
