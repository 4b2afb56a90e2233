package backend

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// attackAccount and the addresses are those of the attack tests.
const (
	attackAccount = "admin"
	attackerAddr  = "192.0.2.1"
	ownerAddr     = "198.51.100.7"
)

// allowedNow counts how many attempts that attempt(i) returns the throttle
// allows at now, one after another, up to limit.
func allowedNow(t *testing.T, th *throttle, now time.Time, limit int, attempt func(i int) signInAttempt) int {
	t.Helper()
	for i := range limit {
		wait, err := th.reserve(t.Context(), now, attempt(i))
		if err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			return i
		}
	}
	return limit
}

// TestThrottleConcurrentGuesses sends 40 guesses at one account from one
// address at once, on every store: the pair count lets 5 through, and
// only those 5 are counted by the account's and the address's counts,
// whose other free attempts stay for everyone else.
func TestThrottleConcurrentGuesses(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, kind := range throttleStoreKinds() {
		t.Run(kind.name, func(t *testing.T) {
			th := newThrottle(kind.open(t), 5*time.Second)
			guess := signInAttempt{Account: attackAccount, Addr: attackerAddr}
			var wg sync.WaitGroup
			var mu sync.Mutex
			checked := 0
			for range 40 {
				wg.Go(func() {
					wait, err := th.reserve(context.Background(), start, guess)
					if err != nil {
						t.Error(err)
						return
					}
					if wait == 0 {
						mu.Lock()
						checked++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if checked != th.pair.Free {
				t.Fatalf("40 concurrent guesses: %d checked, want %d", checked, th.pair.Free)
			}
			for _, tt := range []struct {
				name    string
				free    int
				attempt func(i int) signInAttempt
			}{
				{"the account from other addresses", th.account.Free, func(i int) signInAttempt {
					return signInAttempt{Account: attackAccount, Addr: "203.0.113." + strconv.Itoa(i)}
				}},
				{"the address at other accounts", th.addr.Free, func(i int) signInAttempt {
					return signInAttempt{Account: "user" + strconv.Itoa(i), Addr: attackerAddr}
				}},
			} {
				want := tt.free - checked
				if got := allowedNow(t, th, start, tt.free+1, tt.attempt); got != want {
					t.Errorf("%s: %d attempts left at once, want %d (%d free, %d checked)", tt.name, got, want, tt.free, checked)
				}
			}
		})
	}
}

// TestThrottleOwnerDuringAttack attacks an account from one address with
// a wrong password a second for 6 minutes, on every store, while its
// owner signs in every 30 seconds from another address, without a device
// cookie: the owner is let through every time, and the attacker's
// guesses are held to what the pair count allows.
func TestThrottleOwnerDuringAttack(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	attacker := signInAttempt{Account: attackAccount, Addr: attackerAddr}
	owner := signInAttempt{Account: attackAccount, Addr: ownerAddr}
	for _, kind := range throttleStoreKinds() {
		t.Run(kind.name, func(t *testing.T) {
			th := newThrottle(kind.open(t), 5*time.Second)
			checked := 0
			for sec := range 6 * 60 {
				now := start.Add(time.Duration(sec) * time.Second)
				wait, err := th.reserve(t.Context(), now, attacker)
				if err != nil {
					t.Fatal(err)
				}
				if wait == 0 {
					checked++ // and the password is wrong
				}
				if sec%30 != 15 {
					continue
				}
				now = now.Add(500 * time.Millisecond)
				if wait, err := th.reserve(t.Context(), now, owner); err != nil || wait != 0 {
					t.Fatalf("owner at +%v: got a wait of %v (%v), want 0", now.Sub(start), wait, err)
				}
				if err := th.succeeded(t.Context(), owner); err != nil {
					t.Fatal(err)
				}
			}
			// The 5 free ones, one a second, then one after each wait
			// of 1 s, 2 s, … 256 s (at +5 s, +7 s, … +259 s).
			if want := th.pair.Free + 8; checked != want {
				t.Errorf("attacker's guesses checked in 6 minutes: got %d, want %d", checked, want)
			}
		})
	}
}
