package logout_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/gologout/logout"
)

// TestSignOutOnClose: the last push stream's close starts the grace; a
// reconnect or a backend request within it keeps the session.
func TestSignOutOnClose(t *testing.T) {
	for _, tt := range []struct {
		name       string
		on         bool
		meanwhile  func(e *env, s *stream)
		wantReason logout.Reason // 0: kept
	}{
		{"close then the grace ends it", true, nil, logout.ReasonClosed},
		{"reload within the grace keeps it", true, func(e *env, s *stream) {
			connect(e.t, s.ep, s.cookie).want("status")
		}, 0},
		{"a backend request within the grace keeps it", true, func(e *env, s *stream) {
			e.do(req{path: "/backend", cookie: s.cookie, header: map[string]string{logout.HeaderPassive: "1"}})
		}, 0},
		{"setting off keeps it", false, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				set := logout.DefaultSettings()
				set.SignOutOnClose = tt.on
				e, _, s := subscribedBubble(t, logout.Options{Defaults: &set})
				s.close()
				synctest.Wait()
				if n := logout.Subscribers(e.m); n != 0 {
					t.Fatalf("%d streams open after the browser closed its only one", n)
				}
				time.Sleep(10 * time.Second)
				if tt.meanwhile != nil {
					tt.meanwhile(e, s)
				}
				time.Sleep(logout.DefaultCloseGrace - 10*time.Second - time.Millisecond)
				e.sweep()
				if evs := e.events(); len(evs) != 0 {
					t.Fatalf("ended %v within the grace", evs)
				}
				time.Sleep(time.Millisecond)
				e.sweep()
				evs := e.events()
				switch {
				case tt.wantReason == 0 && len(evs) != 0:
					t.Fatalf("ended %v, want kept", evs)
				case tt.wantReason != 0 && (len(evs) != 1 || evs[0].Reason != tt.wantReason):
					t.Fatalf("ended %v, want %v", evs, tt.wantReason)
				}
			})
		})
	}
}
