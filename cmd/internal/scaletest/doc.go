// Package scaletest checks Logout scaled out: three instances of the
// reference backend (package backend), each with its own
// [logout.Manager], share one data directory for users and one Redis,
// PostgreSQL or MySQL (MariaDB) store for sessions, as three processes
// behind a load balancer would. It holds only tests:
//
//   - TestThreeInstances: a session kept busy on one instance stays
//     signed in on the others past its first deadline; a forced sign-out
//     and a settings change made on one instance are in force on the
//     others within 1 s; a session idle on all three ends within one
//     touch interval of its deadline, never later.
//   - TestPushAcrossInstances: a forced sign-out made on one instance
//     reaches the session's push stream (GET …/events) held open on
//     another within 1 s.
//   - TestStoreOutage: a TCP proxy on loopback between the instances and
//     the store is cut (the server refuses, or the network drops every
//     packet) and restored. Meanwhile backend requests fail closed with
//     503, front-end pages are served, and nobody is signed out; once
//     the proxy is back every instance resumes by itself, every session
//     intact.
//
// The tests read LOGOUT_TEST_REDIS_URL, LOGOUT_TEST_POSTGRES_URL and
// LOGOUT_TEST_MYSQL_DSN as the store packages' tests do (by default the
// servers on 127.0.0.1), work under a random key prefix, schema or table
// prefix of their own, and skip with a how-to when a server does not
// answer, or fail when CI=true:
//
//	go test -race ./scaletest/
//
// docs/scale-out.md shows how to run several instances by hand.
package scaletest
