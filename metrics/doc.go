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
//	logout_active_sessions                         gauge      sessions in the store (cached, see Options.CountEvery)
//	logout_sign_ins_total                          counter    sessions started by a sign-in
//	logout_sign_outs_total{reason}                 counter    sessions ended: idle, absolute, forced, manual, replaced, limit, closed
//	logout_store_call_duration_seconds{op}         histogram  store calls by operation (see logout.StoreOps)
//	logout_store_errors_total{op}                  counter    store calls that failed
//	logout_store_writes_coalesced_total            counter    activity writes saved by the touch interval
//	logout_sweeps_total                            counter    sweeps run
//	logout_sweep_errors_total                      counter    sweeps that failed
//	logout_sweep_duration_seconds                  histogram  duration of sweeps
//	logout_push_subscribers                        gauge      clients subscribed to pushed session changes
//	logout_build_info{version,revision,goversion}  gauge      always 1: Logout's version, the commit, the Go release
//
// Every series of a known label value (each reason, each op of
// [logout.StoreOps]) is exported from the first scrape, at 0, so that a
// rate or an alert on it reads 0 rather than "no data" until the first
// event. logout_build_info is read from the program's build information
// (runtime/debug.ReadBuildInfo): version is Logout's module version in
// the program ("(devel)" for a local build or replacement), revision the
// commit that the go command recorded when it built the program from a
// repository; either is "unknown" when not recorded.
//
// Counters count what this process did: sum them over the processes that
// share a store. logout_active_sessions is the store's count, the same in
// every process.
//
// # Labels
//
// The only labels are reason and op, each of a fixed, small set, and
// those of logout_build_info, one series. Session IDs, tokens and user
// names never appear in a metric: they would leak who is signed in to
// anyone who can scrape, and every new session would make a new series.
package metrics
