package backend_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/gologout/logout/cmd/internal/backend"
)

// TestSignInOwnerDuringAttack guesses admin's password from one address,
// a wrong password a second for 6 minutes, while the administrator signs
// in every 30 seconds from another address in a new browser (no device
// cookie): every sign-in of the administrator is let through at once.
func TestSignInOwnerDuringAttack(t *testing.T) {
	e := startWith(t, false, func(c *backend.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	attacker := e.client()
	attacker.header.Set("X-Forwarded-For", "192.0.2.1")
	guess := url.Values{
		"csrf_token": {csrf(t, attacker.get("/backend/auth/signin").body)},
		"username":   {"admin"}, "password": {"wrong-password"},
	}
	statuses := map[int]int{}
	for sec := range 6 * 60 {
		code, _, err := attacker.postStatus(guess)
		if err != nil {
			t.Fatal(err)
		}
		statuses[code]++
		if sec%30 == 15 {
			owner := e.client()
			owner.header.Set("X-Forwarded-For", "198.51.100.7")
			if r := owner.signIn("admin", adminPassword, nil); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("the administrator's sign-in at +%ds: got %d with Retry-After %q, want 303",
					sec, r.StatusCode, r.Header.Get("Retry-After"))
			}
		}
		e.clock.Advance(time.Second)
	}
	// The attacker's address may check 5 guesses at once and then one
	// after each wait of 1 s, 2 s, … 256 s.
	if statuses[http.StatusUnauthorized] != 13 || statuses[http.StatusTooManyRequests] != 347 {
		t.Errorf("the attacker's 360 guesses: got %v, want 13×401 (checked) and 347×429", statuses)
	}
}
