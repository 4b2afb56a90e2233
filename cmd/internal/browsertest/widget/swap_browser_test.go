package widget_test

import (
	"os"
	"testing"
	"time"

	"github.com/gologout/logout/cmd/internal/browsertest"
)

// collectErrors records the page's uncaught errors in window.errs.
const collectErrors = `window.errs = [];
addEventListener('error', (e) => window.errs.push(String(e.message)));
addEventListener('unhandledrejection', (e) => window.errs.push(String(e.reason)));`

// TestBrowserBodySwap: on a page that replaces its body, the widget puts
// its counter and dialogs back and still locks in place, with no page
// error: by hand as phpMyAdmin's navigation does (it removes the body's
// children it does not know), and with the real @hotwired/turbo.
func TestBrowserBodySwap(t *testing.T) {
	b := browsertest.NewBrowser(t)
	check := func(t *testing.T, srv *backend, tb tab) {
		t.Helper()
		tb.Wait(3*time.Second, "the counter and dialogs back",
			`window.first === document.querySelector('.logout-counter') && document.querySelectorAll('.logout-counter').length === 1 &&
			 document.querySelector('.logout-dialog').isConnected && document.querySelectorAll('.logout-lock').length === 1`)
		lockByFetch(t, srv, tb)
		if errs := browsertest.Eval[[]string](tb.Tab, `window.errs`); len(errs) != 0 {
			t.Errorf("page errors: %q", errs)
		}
	}

	t.Run("children removed", func(t *testing.T) {
		t.Parallel()
		srv := newLockBackend(t, settings(600, 0, true), false)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true, Init: collectErrors})
		tb.open(srv.URL + "/login")
		browsertest.Eval[bool](tb.Tab, `!!(window.first = document.querySelector('.logout-counter'))`)
		browsertest.Eval[bool](tb.Tab, `(() => { for (const n of [...document.body.children]) if (!n.matches('header,main')) n.remove(); return true })()`)
		check(t, srv, tb)
	})

	t.Run("turbo", func(t *testing.T) {
		t.Parallel()
		if os.Getenv("LOGOUT_TURBO_JS") == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("LOGOUT_TURBO_JS is not set: run the tests with scripts/test.sh, which installs @hotwired/turbo")
			}
			t.Skip("LOGOUT_TURBO_JS is not set (scripts/test.sh installs @hotwired/turbo from npm)")
		}
		srv := newLockBackend(t, settings(600, 0, true), false)
		srv.turbo.Store(true)
		tb := newTab(t, b, browsertest.TabOptions{Isolated: true, Init: collectErrors})
		tb.open(srv.URL + "/login")
		tb.Wait(3*time.Second, "Turbo", `!!window.Turbo`)
		browsertest.Eval[bool](tb.Tab, `!!(window.first = document.querySelector('.logout-counter')) && !!(window.kept = 'same document')`)
		for _, n := range []string{"1", "2"} {
			browsertest.Eval[bool](tb.Tab, `(document.getElementById('next').click(), true)`)
			tb.Wait(3*time.Second, "page "+n+" by Turbo", `location.search === '?n=`+n+`' && document.getElementById('next').href.endsWith('?n=' + (`+n+` + 1))`)
		}
		if browsertest.Eval[string](tb.Tab, `window.kept || ''`) != "same document" {
			t.Fatal("Turbo loaded the page anew: no body was swapped")
		}
		check(t, srv, tb)
	})
}
