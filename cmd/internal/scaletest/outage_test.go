package scaletest_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
)

// The intervals of TestStoreOutage.
const (
	// storeTimeout bounds each store call; short, so that requests fail
	// fast when the network drops everything.
	storeTimeout = 250 * time.Millisecond
	// syncInterval is the default: how long an instance may serve a
	// session from memory without reading the store.
	syncInterval = 500 * time.Millisecond
	// failClosedFor is how long the test checks, after the sync
	// interval, that every backend request fails closed.
	failClosedFor = 1500 * time.Millisecond
)

// TestStoreOutage cuts the network between three instances and their
// store, in two ways, and restores it.
func TestStoreOutage(t *testing.T) {
	for _, mode := range []proxyState{refusing, blackholed} {
		t.Run(mode.String(), func(t *testing.T) {
			backings(t, func(t *testing.T, b *backing) { testOutage(t, b, mode) })
		})
	}
}

// A probe is one kind of request that the test keeps making during the
// outage.
type probe struct {
	path    string
	header  http.Header
	backend bool
	json    bool
}

var probes = []probe{
	{"/backend/api/stats", jsonAccept, true, true},
	{"/backend/session/status", jsonAccept, true, true},
	{"/backend", nil, true, false},
	{"/", nil, false, false},
}

func testOutage(t *testing.T, b *backing, mode proxyState) {
	p := newProxy(t, b.addr)
	opts := logout.Options{
		StoreTimeout:  storeTimeout,
		SyncInterval:  syncInterval,
		TouchInterval: 100 * time.Millisecond, // requests want to write often
		SweepInterval: 100 * time.Millisecond, // and so does the sweeper
	}
	insts := startInstances(t, 3, func(t *testing.T) logout.Store { return b.newStore(t, p.Addr()) }, opts)
	A, B, C := insts[0], insts[1], insts[2]
	waitListening(t, b, 3, 10*time.Second)
	admin, ed := newBrowser(t), newBrowser(t)
	admin.signIn(A, "admin", adminPassword)
	ed.signIn(B, "editor", editorPassword)
	users := []*browser{admin, ed}
	ids := []string{admin.sessionID(A), ed.sessionID(B)}
	before := map[*browser]int64{}
	for _, u := range users {
		for _, in := range insts {
			r := u.get(in, "/backend/api/stats", jsonAccept)
			wantCode(t, r, http.StatusOK)
			before[u] = max(before[u], r.deadline())
		}
	}

	// The outage. Requests sent within the sync interval of the cut may
	// still be served from memory, as they may be while the store is up;
	// later ones must fail closed.
	cut := time.Now()
	p.Cut(mode)
	closedFrom := cut.Add(syncInterval)
	end := closedFrom.Add(failClosedFor)
	var mu sync.Mutex
	seen := map[string]int{} // "probe path: code" -> count
	slowest := map[string]time.Duration{}
	var wg sync.WaitGroup
	for _, u := range users {
		for _, in := range insts {
			for _, pr := range probes {
				wg.Go(func() {
					for time.Now().Before(end) {
						r, err := u.try(in, http.MethodGet, pr.path, nil, pr.header)
						if err != nil {
							t.Error(err)
							return
						}
						if msg := judgeOutage(r, pr, r.sent.Before(closedFrom)); msg != "" {
							t.Errorf("%s %s on %s, sent %v after the cut: %s", pr.path, mode, in.name, r.sent.Sub(cut).Round(time.Millisecond), msg)
						}
						mu.Lock()
						seen[pr.path+": "+http.StatusText(r.code)]++
						slowest[pr.path] = max(slowest[pr.path], r.done.Sub(r.sent))
						mu.Unlock()
					}
				})
			}
		}
	}
	wg.Wait()
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("during the outage: %s ×%d", k, seen[k])
	}
	// Not asserted, but shown: answers queue while the store is away.
	// The Manager rereads the settings under one lock, and every request
	// waiting for it makes a read of its own, each up to storeTimeout, so
	// the slowest answer grows with the requests in flight (front-end
	// pages included), not with storeTimeout alone.
	for _, pr := range probes {
		t.Logf("slowest answer to %s: %v", pr.path, slowest[pr.path].Round(time.Millisecond))
	}
	if t.Failed() {
		return
	}

	// Back: every instance resumes by itself, every session intact.
	p.Restore()
	restored := time.Now()
	for _, u := range users {
		for _, in := range insts {
			var r response
			servicetest.Within(t, 10*time.Second, "recovery on "+in.name, func() bool {
				r = u.get(in, "/backend/api/stats", jsonAccept)
				if r.code == http.StatusUnauthorized || r.code == http.StatusSeeOther {
					t.Fatalf("%s: signed out after the outage: %d %s", in.name, r.code, r.body)
				}
				return r.code == http.StatusOK // a failure on a stale connection may come first
			})
			if r.deadline() <= before[u] {
				t.Errorf("%s: deadline %d after the outage, want later than %d", in.name, r.deadline(), before[u])
			}
		}
	}
	t.Logf("every instance served every session %v after the restore", time.Since(restored).Round(time.Millisecond))
	for _, in := range insts {
		evs, err := in.app.Manager().Events(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 0 {
			t.Fatalf("%s: the sign-out log holds %+v, want nothing: no session ends in an outage", in.name, evs)
		}
		list, err := in.app.Manager().Sessions(t.Context(), logout.ListOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.ID)
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))) {
			t.Fatalf("%s: sessions %v after the outage, want %v", in.name, got, ids)
		}
	}
	waitListening(t, b, 3, 15*time.Second)
	t.Logf("every instance listens to the store's changes again %v after the restore", time.Since(restored).Round(time.Millisecond))

	// Changes travel again.
	onC := ed.clone(C)
	done := admin.forceSignOut(A, ids[1]).done
	var st status
	servicetest.Within(t, 2*changeBound, "the forced sign-out on C", func() bool { st = onC.status(C); return !st.SignedIn })
	if lag := st.done.Sub(done); st.Reason != logout.ReasonForced.String() || lag > changeBound {
		t.Errorf("C: got %d %s %v after the sign-out, want reason forced within %v", st.code, st.body, lag, changeBound)
	}
}

// judgeOutage returns what is wrong with a response during the outage,
// or "". early tells a request sent within the sync interval of the
// cut, which an instance may still answer from memory.
func judgeOutage(r response, pr probe, early bool) string {
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "logout_session=") {
			return "the session cookie was changed: " + c
		}
	}
	if !pr.backend {
		if r.code != http.StatusOK {
			return "front end: got " + http.StatusText(r.code) + ", want 200"
		}
		return ""
	}
	switch {
	case r.code == http.StatusServiceUnavailable:
		if pr.json && !strings.Contains(r.body, `"unavailable":true`) {
			return "503 without unavailable in its JSON: " + r.body
		}
		if !pr.json && r.header.Get("Retry-After") == "" {
			return "503 page without Retry-After"
		}
		return ""
	case early && r.code == http.StatusOK:
		return "" // from memory, within the sync interval
	case early && r.code == http.StatusInternalServerError && pr.path != "/backend/session/status":
		// Served from memory, then the page's own store call failed.
		return ""
	}
	return "got " + http.StatusText(r.code) + ", want 503 (fail closed)\n" + r.body
}
