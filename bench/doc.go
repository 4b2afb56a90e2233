// Package bench compares Logout's per-request cost with a bare handler and
// with github.com/alexedwards/scs/v2 configured with an IdleTimeout, on
// comparable stores. It is its own module so that scs and its stores stay
// out of Logout's go.mod. Run from this folder:
//
//	go test -run '^$' -bench . -benchmem -count 6 | tee new.txt
//
// BENCHMARKS.md at the repository root holds the measured table.
package bench
