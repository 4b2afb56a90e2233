package backend

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gologout/logout"
)

// Sign-in throttling follows the OWASP Authentication Cheat Sheet
// ("Account lockout") and its design "Slow down online guessing attacks
// with device cookies", and what OWASP ASVS asks of anti-automation (4.0
// V2.2.1: at most 100 failed attempts an hour at one account; 5.0 V6.1.1
// and V6.3.1: without letting anyone lock an account out on purpose): no
// hard lock that an attacker could set off for someone else, but a wait
// that grows with failures, counted per account and per client address,
// while a browser that has signed in as an account before (it holds a
// device cookie, see throttle_device.go) is limited per device only.
//
// Only attempts whose password is checked count. An attempt is reserved
// on all its counters at once, before the password is checked, in one
// atomic step of the store: if every counter allows it, each counts it
// and the password is checked; if any refuses it, none counts it and the
// password is not checked. So concurrent guesses cannot slip past a
// counter, and a guess that one counter refuses spends nothing of the
// others: 40 concurrent guesses from one address check 5 passwords and
// spend 5 of the account's attempts. A success takes its attempt back.
//
// Without a device cookie, an attempt counts on three counters (see
// [newThrottle] for the numbers):
//
//   - pair, the account from this address, is what holds back one
//     attacking address: 5 attempts at once, then waits of 1 s, 2 s,
//     4 s, … up to 15 min, one attempt forgiven every 15 min. One
//     address gets at most about 19 guesses at an account in its first
//     hour and 4 an hour after that, about 110 a day.
//   - addr, this address at any account, holds back one address that
//     tries many accounts (password spraying).
//   - account, the account from every address, caps the guesses that
//     many addresses make together. It is sized so that the pair counter
//     keeps any one address from exhausting it: 40 at once and 40
//     forgiven an hour, against at most 19 and then 4 an hour from one
//     address. An attack from one address, or from three at full speed,
//     never holds back the account's owner at another address, even in
//     a new browser; it takes four addresses at full speed to hold the
//     owner back at all (for about 20 minutes of the attack's first
//     hour) and ten to hold the owner back for as long as the attack
//     lasts. All addresses together get at most about 90 guesses at an
//     account in the first hour and 40 an hour after.
//
// The trade-off is the account counter's: whoever controls enough
// addresses (a botnet, or an IPv6 network: a /48 holds 65,536 of the
// /64 networks that count as one address each) can exhaust it, and then
// every browser without the account's device cookie waits, the owner's
// new browser included, until the attack slows down. Not counting across
// addresses would let such an attacker guess without bound; counting
// tighter would let a few addresses lock the owner out. The owner's
// browsers that signed in before are counted by their device cookie
// alone and sign in at once. Clients that share the attacker's address
// (one NAT, or a proxy not named in Config.TrustedProxies) share his
// pair and addr counts, and are held back with him.
//
// Why not golang.org/x/time/rate: its token bucket refills at a constant
// rate, so the wait never grows with failures, and it lives in one
// process while the counts must be shared through SQLite, Redis,
// PostgreSQL or MySQL. The arithmetic below is small and exact, in
// integer milliseconds: the memory, SQLite, PostgreSQL and MySQL stores
// run it in Go on the rows they hold locked, and the Redis script repeats
// it to the millisecond; one table of tests runs on all five stores.

// A throttleRule says how one counter slows attempts down. The first Free
// attempts pass at once; after them each attempt waits throttleBase after
// the previous one, doubled for every further attempt, at most
// throttleMax. Time forgives the counted attempts, one per Decay, as a
// leaky bucket drains.
type throttleRule struct {
	Free  int           // attempts allowed without a wait; at least 1
	Decay time.Duration // time that forgives one attempt; whole milliseconds
}

const (
	// throttleBase is the wait after the free attempts.
	throttleBase = time.Second
	// throttleMax is the longest wait.
	throttleMax = 15 * time.Minute
	// throttleSteps bounds a counter to Free+throttleSteps attempts not
	// yet forgiven: the wait reached throttleMax long before, and the
	// bound keeps every entry's lifetime finite.
	throttleSteps = 20
)

// attempt is the throttle's arithmetic: given a counter's state (tat,
// when every counted attempt is forgiven; last, the last counted attempt;
// both Unix ms, zero for a new counter) and the time now, it returns the
// new state and 0 when the attempt is counted, or the state unchanged and
// how many ms until the counter allows one. redisReserve repeats it;
// keep them in step.
func (r throttleRule) attempt(tat, last, now int64) (newTat, newLast, wait int64) {
	decay, free := r.Decay.Milliseconds(), int64(r.Free)
	debt := max(tat-now, 0)
	n := (debt + decay - 1) / decay // attempts not yet forgiven
	if n >= free {
		wait = min(throttleBase.Milliseconds()<<min(n-free, throttleSteps), throttleMax.Milliseconds())
	}
	if now < last+wait {
		return tat, last, last + wait - now
	}
	return now + min(debt+decay, (free+throttleSteps)*decay), now, 0
}

// A throttleCounter is one counter an attempt is checked against.
type throttleCounter struct {
	Key  string // the store's key, without the store's prefix
	Rule throttleRule
}

// A throttleState is a counter's state in Unix ms, as
// [throttleRule.attempt] takes it; the zero value is a new counter.
type throttleState struct{ tat, last int64 }

// reserveAll is reserve's decision for stores that read the counters'
// states under one lock: given cs and their states, it returns the states
// to write and 0 when every counter allows the attempt, or nil and the
// longest wait in ms when any refuses it.
func reserveAll(cs []throttleCounter, states []throttleState, now int64) ([]throttleState, int64) {
	next := make([]throttleState, len(cs))
	var longest int64
	for i, c := range cs {
		tat, last, wait := c.Rule.attempt(states[i].tat, states[i].last, now)
		next[i], longest = throttleState{tat, last}, max(longest, wait)
	}
	if longest > 0 {
		return nil, longest
	}
	return next, 0
}

// A throttleStore keeps the throttle's counters. Implementations must be
// safe for concurrent use, and shared by every instance that serves the
// same users when there are several.
type throttleStore interface {
	// reserve counts an attempt at now on every counter of cs or on
	// none. If each counter allows it by its rule, as
	// [throttleRule.attempt] decides, it counts it on each and returns
	// 0; if any refuses it, it changes no counter and returns the longest
	// wait until they all would allow one. The decision is atomic across
	// the counters: no attempt is counted on some and not others, and of
	// concurrent calls no more are counted than every counter allows.
	// Keys are distinct. The err result is for system failures only.
	reserve(ctx context.Context, now time.Time, cs []throttleCounter) (time.Duration, error)
	// forgive takes one counted attempt back from each counter of refund,
	// and forgets the counters of clear. Missing counters stay missing.
	forgive(ctx context.Context, refund, clear []throttleCounter) error
}

// A signInAttempt is what the throttle knows of a sign-in attempt.
type signInAttempt struct {
	Account string // accountKey of the user name typed
	Addr    string // addrKey of the client's address
	// Device is the device cookie's ID when the browser holds one for
	// Account, else "".
	Device string
}

// A throttle decides whether a sign-in attempt may check a password. It
// never sees the request; auth.go builds the attempt.
type throttle struct {
	store   throttleStore
	timeout time.Duration // bounds each store call
	// pair counts one account from one address; account counts one
	// account from every client without its device cookie; addr counts
	// one address, whatever the account; device counts one account from
	// one device cookie.
	pair, account, addr, device throttleRule
}

// newThrottle returns the backend's throttle on store: an account gets 5
// attempts at once from one address and 40 from all addresses together,
// an address 20 whatever the account, a device cookie 5 for its account;
// then the waits grow from 1 s to 15 min. Time forgives one attempt per
// 15 minutes on the counts of one address or device, per 5 minutes on
// the address count and per 90 seconds on the account count, 40 an hour,
// so that the pair count holds one address well below it (see the
// trade-off above).
func newThrottle(store throttleStore, timeout time.Duration) *throttle {
	return &throttle{
		store:   store,
		timeout: timeout,
		pair:    throttleRule{Free: 5, Decay: 15 * time.Minute},
		account: throttleRule{Free: 40, Decay: 90 * time.Second},
		addr:    throttleRule{Free: 20, Decay: 5 * time.Minute},
		device:  throttleRule{Free: 5, Decay: 15 * time.Minute},
	}
}

// counters returns the counters of an attempt; a success clears the
// first and refunds the others. A device cookie's attempts count only
// against that device, so that the account-wide and address-wide counts
// an attacker drives up never hold back the account's own browser.
func (t *throttle) counters(at signInAttempt) []throttleCounter {
	if at.Device != "" {
		return []throttleCounter{{"d:" + at.Device + ":" + at.Account, t.device}}
	}
	return []throttleCounter{
		{"p:" + at.Account + ":" + at.Addr, t.pair},
		{"a:" + at.Account, t.account},
		{"ip:" + at.Addr, t.addr},
	}
}

// reserve counts the attempt on all its counters and returns 0 if it may
// check the password, or counts it on none and returns how long until it
// may.
func (t *throttle) reserve(ctx context.Context, now time.Time, at signInAttempt) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	wait, err := t.store.reserve(ctx, now, t.counters(at))
	if err != nil {
		return 0, fmt.Errorf("backend: sign-in throttle: %w: %w", logout.ErrUnavailable, err)
	}
	return wait, nil
}

// succeeded clears the account's count from this address (or device) and
// takes the attempt back from the account's and the address's counts; the
// other accounts' counts stay.
func (t *throttle) succeeded(ctx context.Context, at signInAttempt) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cs := t.counters(at)
	if err := t.store.forgive(ctx, cs[1:], cs[:1]); err != nil {
		return fmt.Errorf("backend: sign-in throttle: %w", err)
	}
	return nil
}

// accountKey returns the key of the account that a user name names: a
// hash of the name with ASCII letters folded, as users.db compares names
// (COLLATE NOCASE). Hashing bounds the key's size and keeps arbitrary
// bytes typed into the form out of the stores.
func accountKey(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	sum := sha256.Sum256(append([]byte("account\x00"), b...))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
