package scaletest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
)

// The lifetimes and intervals of TestThreeInstances. The editor's
// sessions live a few seconds, so that the test crosses their deadlines
// in real time; the administrator's live a minute, to drive the test.
const (
	editorLifetime = 3 * time.Second
	adminLifetime  = time.Minute
	touchInterval  = 300 * time.Millisecond
	// changeBound is how soon a forced sign-out or a settings change
	// made on one instance must be in force on the others.
	changeBound = time.Second
)

// TestThreeInstances runs three backends on one shared store, with a
// sync interval of a minute: within changeBound, only the store's
// Watcher can tell one instance what another did.
func TestThreeInstances(t *testing.T) {
	backings(t, func(t *testing.T, b *backing) {
		opts := logout.Options{
			TouchInterval: touchInterval,
			SyncInterval:  time.Minute,
			SweepInterval: 100 * time.Millisecond,
		}
		insts := startInstances(t, 3, func(t *testing.T) logout.Store { return b.newStore(t, b.addr) }, opts)
		A, B, C := insts[0], insts[1], insts[2]
		waitListening(t, b, 3, 10*time.Second)

		admin := newBrowser(t)
		admin.signIn(C, "admin", adminPassword)
		set := logout.DefaultSettings()
		set.Lifetime = adminLifetime
		set.WarningLead = 0
		set.RoleLifetimes = map[string]time.Duration{editorRole: editorLifetime}
		admin.saveSettings(C, set)
		for _, in := range insts {
			servicetest.Within(t, changeBound, "the first settings on "+in.name, func() bool {
				return admin.status(in).Lifetime == int64(adminLifetime/time.Second)
			})
		}

		t.Run("a busy session outlives its first deadline on every instance", func(t *testing.T) {
			ed := newBrowser(t)
			ed.signIn(A, "editor", editorPassword)
			first := ed.get(A, "/backend/api/stats", jsonAccept)
			wantCode(t, first, http.StatusOK)
			for _, in := range []*instance{B, C} { // now they hold it in memory
				if st := ed.status(in); !st.SignedIn {
					t.Fatalf("%s: not signed in after sign-in on A (%d)", in.name, st.code)
				}
			}
			// Busy on A only, until a second past the first deadline; B
			// and C, asked without extending it, always find it alive.
			until := time.UnixMilli(first.deadline()).Add(time.Second)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for time.Now().Before(until) {
				wantCode(t, ed.get(A, "/backend/api/stats", jsonAccept), http.StatusOK)
				for _, in := range []*instance{B, C} {
					st := ed.status(in)
					if !st.SignedIn || st.ServerTime > st.Deadline {
						t.Fatalf("%s: %d %s while the session is busy on A", in.name, st.code, st.body)
					}
				}
				<-tick.C
			}
			for _, in := range []*instance{B, C} {
				r := ed.get(in, "/backend/api/stats", jsonAccept)
				wantCode(t, r, http.StatusOK)
				if r.deadline() <= first.deadline()+int64(editorLifetime/time.Millisecond) {
					t.Errorf("%s: deadline %d, want later than the first deadline %d plus a lifetime", in.name, r.deadline(), first.deadline())
				}
			}
		})

		t.Run("a forced sign-out on B is refused on A and C within 1s", func(t *testing.T) {
			ed := newBrowser(t)
			ed.signIn(A, "editor", editorPassword)
			onA, onC := ed.clone(A), ed.clone(C)
			for _, p := range []struct {
				in *instance
				b  *browser
			}{{A, onA}, {C, onC}} {
				if st := p.b.status(p.in); !st.SignedIn {
					t.Fatalf("%s: not signed in (%d)", p.in.name, st.code)
				}
			}
			done := admin.forceSignOut(B, ed.sessionID(A)).done
			for _, p := range []struct {
				in *instance
				b  *browser
			}{{A, onA}, {C, onC}} {
				var st status
				servicetest.Within(t, 2*changeBound, "refusal on "+p.in.name, func() bool {
					st = p.b.status(p.in)
					return !st.SignedIn
				})
				lag := st.done.Sub(done)
				t.Logf("%s refused the session %v after B's sign-out answered", p.in.name, lag.Round(time.Millisecond))
				if st.code != http.StatusUnauthorized || st.Reason != logout.ReasonForced.String() {
					t.Errorf("%s: got %d %s, want 401 with reason forced", p.in.name, st.code, st.body)
				}
				if lag > changeBound {
					t.Errorf("%s: refused %v after the sign-out, want within %v", p.in.name, lag, changeBound)
				}
			}
		})

		t.Run("a settings change on C applies on A and B within 1s", func(t *testing.T) {
			set.Lifetime = adminLifetime + time.Second
			done := admin.saveSettings(C, set).done
			for _, in := range []*instance{A, B} {
				var st status
				servicetest.Within(t, 2*changeBound, "the new lifetime on "+in.name, func() bool {
					st = admin.status(in)
					return st.Lifetime == int64(set.Lifetime/time.Second)
				})
				lag := st.done.Sub(done)
				t.Logf("%s applied the new lifetime %v after C's save answered", in.name, lag.Round(time.Millisecond))
				if lag > changeBound {
					t.Errorf("%s: applied %v after the save, want within %v", in.name, lag, changeBound)
				}
				if want := st.ServerTime + int64(set.Lifetime/time.Millisecond); st.Deadline > want {
					t.Errorf("%s: deadline %d beyond now plus the new lifetime (%d)", in.name, st.Deadline, want)
				}
			}
		})

		t.Run("a session idle on all three ends within one touch interval of its deadline, never later", func(t *testing.T) {
			ed := newBrowser(t)
			ed.signIn(A, "editor", editorPassword)
			id := ed.sessionID(A)
			// Activity everywhere, the newest on C: its deadline is the
			// session's. Some of it is not yet written to the store.
			var last response
			tick := time.NewTicker(touchInterval / 4)
			defer tick.Stop()
			for range 3 {
				for _, in := range []*instance{A, B, C} {
					<-tick.C
					last = ed.get(in, "/backend/api/stats", jsonAccept)
					wantCode(t, last, http.StatusOK)
				}
			}
			deadline := last.deadline()
			earliest := deadline - int64(touchInterval/time.Millisecond)
			pollers := map[*instance]*browser{A: ed.clone(A), B: ed.clone(B), C: ed.clone(C)}
			ended := map[*instance]bool{}
			servicetest.Within(t, editorLifetime+2*time.Second, "the end on every instance", func() bool {
				for in, p := range pollers {
					if ended[in] {
						continue
					}
					st := p.status(in)
					switch {
					// Both are whole milliseconds, cut from microseconds: a
					// session alive in the deadline's own millisecond shows
					// the same number.
					case st.SignedIn && st.ServerTime > deadline:
						t.Fatalf("%s: signed in at %d, %d ms past the deadline", in.name, st.ServerTime, st.ServerTime-deadline)
					case st.SignedIn:
					case st.code == http.StatusUnauthorized && st.Reason == logout.ReasonIdle.String():
						t.Logf("%s: ended %d ms before the deadline (a touch interval is %v)", in.name, deadline-st.ServerTime, touchInterval)
						if st.ServerTime < earliest {
							t.Errorf("%s: ended at %d, %d ms before the deadline, more than a touch interval", in.name, st.ServerTime, deadline-st.ServerTime)
						}
						ended[in] = true
					default:
						t.Fatalf("%s: got %d %s, want signed in or ended as idle", in.name, st.code, st.body)
					}
				}
				return len(ended) == len(pollers)
			})
			evs, err := A.app.Manager().Events(t.Context(), 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range evs {
				if ev.SessionID != id {
					continue
				}
				n++
				if at := ev.At.UnixMilli(); ev.Reason != logout.ReasonIdle || at < earliest || at > deadline {
					t.Errorf("logged %v at %d, want idle between %d and %d", ev.Reason, at, earliest, deadline)
				}
			}
			if n != 1 {
				t.Errorf("the sign-out log holds %d events of the session, want 1", n)
			}
		})
	})
}

func wantCode(t *testing.T, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s on %s: got %d, want %d\n%.1000s", r.path, r.in.name, r.code, code, r.body)
	}
}
