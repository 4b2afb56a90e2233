// Package bench compares Logout's per-request cost with a bare handler and
// with github.com/alexedwards/scs/v2 configured with an IdleTimeout, on
// comparable stores. It is in the cmd module so that scs and its stores
// stay out of the library's go.mod.
//
//   - BenchmarkRequest and BenchmarkRequestParallel: the middleware alone,
//     in process, on the memory and SQLite stores.
//   - BenchmarkHTTP: requests/s over loopback HTTP on every store (memory,
//     SQLite, Redis, PostgreSQL, MySQL): the reference backend's stats endpoint,
//     Logout's middleware and scs's in front of a minimal JSON handler,
//     and that handler bare, the baseline.
//   - BenchmarkStoreWrites: store writes and reads per 1000 requests of
//     one session, for Logout (on a fake clock) and scs.
//   - BenchmarkSettingsChange: bringing the stored deadlines of 100 000
//     sessions up to date after a settings change, one touch per session
//     (the old way, the baseline) against one batch per 500 sessions,
//     with store calls and round trips (-settings.sessions=N).
//   - BenchmarkSweepExpired: the sweeper ending 100 000 expired sessions,
//     one EndSessions each, with store calls and round trips
//     (-settings.sessions=N too).
//
// The Redis, PostgreSQL and MySQL benchmarks use the servers of the tests
// (LOGOUT_TEST_REDIS_URL, LOGOUT_TEST_POSTGRES_URL, LOGOUT_TEST_MYSQL_DSN,
// by default on 127.0.0.1) and skip with a message without them. Run from
// this folder:
//
//	go test -run '^$' -bench . -benchmem -count 6 | tee new.txt
//
// BENCHMARKS.md at the repository root holds the measured tables.
package bench
