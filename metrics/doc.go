// Package metrics exports what Logout does to Prometheus, through the
// application's own registry (never the global one):
//
//	col := metrics.New(metrics.Options{})
//	m, err := logout.New(store, logout.Options{Observer: col})
//	col.Track(m); registry.MustRegister(col)
//
// Serve the registry with promhttp.HandlerFor(registry,
// promhttp.HandlerOpts{}), on an address of its own. [logout.Manager.Ready]
// answers a readiness endpoint.
//
// # Metrics
//
//	logout_active_sessions                      gauge      sessions in the store (cached, see Options.CountEvery)
//	logout_sign_ins_total                       counter    sessions started by a sign-in
//	logout_sign_outs_total{reason}              counter    sessions ended: idle, absolute, forced, manual, replaced, limit, closed
//	logout_store_call_duration_seconds{op}      histogram  store calls by operation (see logout.Observer)
//	logout_store_errors_total{op}               counter    store calls that failed
//	logout_store_writes_coalesced_total         counter    activity writes saved by the touch interval
//	logout_sweeps_total                         counter    sweeps run
//	logout_sweep_errors_total                   counter    sweeps that failed
//	logout_sweep_duration_seconds               histogram  duration of sweeps
//	logout_push_subscribers                     gauge      clients subscribed to pushed session changes
//
// Counters count what this process did: sum them over the processes that
// share a store. logout_active_sessions is the store's count, the same in
// every process.
//
// # Labels
//
// The only labels are reason and op, each of a fixed, small set. Session
// IDs, tokens and user names never appear in a metric: they would leak
// who is signed in to anyone who can scrape, and every new session would
// make a new series.
package metrics
