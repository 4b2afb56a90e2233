package widget_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/browsertest"
	"github.com/gologout/logout/internal/fakeclock"
)

// TestBrowserSignOutOnClose: with sign-out on close, a reload keeps the
// session and closing the last tab ends it once the grace is over. The
// Manager runs on a fake clock: the test moves time past the grace and
// sweeps, and waits in real time only for the browser to connect.
func TestBrowserSignOutOnClose(t *testing.T) {
	b := browsertest.NewBrowser(t)
	set := settings(600, 0, true)
	set.SignOutOnClose = true
	set.CloseGrace = 30 * time.Second
	clock := fakeclock.New()
	srv := newBackendWith(t, set, logout.Options{Clock: clock})
	srv.push.Store(true)
	ctx := context.Background()
	sessions := func() int {
		n, err := srv.m.CountSessions(ctx, logout.ListOptions{UserID: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// sweepAfter moves the clock by d and sweeps, as the Manager's own
	// sweeper would then.
	sweepAfter := func(d time.Duration) {
		clock.Advance(d)
		if err := srv.m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}

	owner := newTab(t, b, browsertest.TabOptions{Isolated: true})
	tb := newTab(t, owner.Ctx, browsertest.TabOptions{})
	tb.open(srv.URL + "/login")
	waitStreams(t, srv, 1)

	// A reload closes the stream and opens it again within the grace.
	tb.Do(chromedp.Reload())
	waitTotal(t, srv, 2)
	sweepAfter(set.CloseGrace + time.Second)
	if sessions() != 1 {
		t.Fatal("a reload ended the session")
	}

	// Closing the last tab starts the grace; the session ends after it.
	if err := chromedp.Cancel(tb.Ctx); err != nil {
		t.Fatal(err)
	}
	waitOpen(t, srv, 0)
	sweepAfter(set.CloseGrace - time.Second)
	if sessions() != 1 {
		t.Fatal("the session ended before the grace was over")
	}
	sweepAfter(2 * time.Second)
	if sessions() != 0 {
		t.Fatal("the session outlived the grace after its last tab closed")
	}
	evs, err := srv.m.Events(ctx, 1)
	if err != nil || len(evs) != 1 || evs[0].Reason != logout.ReasonClosed {
		t.Fatalf("sign-out log %+v, %v; want one closed", evs, err)
	}
}

// waitTotal waits until the push stream has been opened n times and one
// connection is open.
func waitTotal(t *testing.T, srv *backend, n int) {
	t.Helper()
	waitStreamsFor(t, srv, "1 open, at least "+strconv.Itoa(n)+" in all", func(open, total int) bool { return open == 1 && total >= n })
}

// waitOpen waits until exactly n push connections are open.
func waitOpen(t *testing.T, srv *backend, n int) {
	t.Helper()
	waitStreamsFor(t, srv, strconv.Itoa(n)+" open", func(open, _ int) bool { return open == n })
}
