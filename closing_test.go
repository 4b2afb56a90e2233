package logout_test

import (
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
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
			connect(e.t, s.srv, s.cookie).want("status")
		}, 0},
		{"a backend request within the grace keeps it", true, func(e *env, s *stream) {
			e.do(req{path: "/backend", cookie: s.cookie, header: map[string]string{logout.HeaderPassive: "1"}})
		}, 0},
		{"setting off keeps it", false, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set := logout.DefaultSettings()
			set.SignOutOnClose = tt.on
			e, _, s := subscribed(t, logout.Options{Defaults: &set})
			s.close()
			servicetest.Within(t, 5*time.Second, "the server sees the stream closed", func() bool { return logout.Subscribers(e.m) == 0 })
			e.clock.Advance(10 * time.Second)
			if tt.meanwhile != nil {
				tt.meanwhile(e, s)
			}
			e.clock.Advance(logout.DefaultCloseGrace - 10*time.Second - time.Millisecond)
			e.sweep()
			if evs := e.events(); len(evs) != 0 {
				t.Fatalf("ended %v within the grace", evs)
			}
			e.clock.Advance(time.Millisecond)
			e.sweep()
			evs := e.events()
			switch {
			case tt.wantReason == 0 && len(evs) != 0:
				t.Fatalf("ended %v, want kept", evs)
			case tt.wantReason != 0 && (len(evs) != 1 || evs[0].Reason != tt.wantReason):
				t.Fatalf("ended %v, want %v", evs, tt.wantReason)
			}
		})
	}
}
