package backend_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/browsertest"
)

// TestBrowserPolicies drives the settings page's policies with the
// keyboard and checks every state of the page with axe-core: a preset
// chosen fills the lengths, per-user rules are added and removed, a bad
// rule shows its error, and a locked page shows the values read-only.
func TestBrowserPolicies(t *testing.T) {
	b := browsertest.NewBrowser(t)
	const page = "/backend/system/settings/user-session"
	// admin starts a site (its config changed by edit, when not nil) and
	// returns it with a tab signed in as the administrator on the page.
	admin := func(t *testing.T, vp viewport, edit func(*backend.Config)) (*site, tab) {
		s := startSiteWith(t, edit)
		tb := s.newTab(t, b, vp, true)
		tb.signIn("admin", adminPassword)
		tb.open(page)
		return s, tb
	}

	t.Run("keyboard: preset, per-user rule, save, remove", func(t *testing.T) {
		t.Parallel()
		s, tb := admin(t, desktop, nil)
		browsertest.Axe(t, tb.Ctx)

		// Custom, PCI DSS, then NIST AAL2: the lengths follow.
		tb.tabTo("the policy chooser", `el.id === 'f-policy'`, 40)
		tb.Key(kb.ArrowDown)
		tb.Key(kb.ArrowDown)
		tb.Wait(time.Second, "the lengths of AAL2", `document.getElementById('f-lifetime').value === '3600' && document.getElementById('f-absolute_lifetime').value === '86400'`)
		if got := tb.Text("[data-policy-status]"); !strings.Contains(got, "NIST SP 800-63B-4, AAL2") {
			t.Errorf("status: got %q, want it to name AAL2", got)
		}

		tb.tabTo("Add a user", `el.matches('[data-override-add]')`, 40)
		tb.Key(kb.Enter)
		tb.Wait(time.Second, "the new row focused", `document.activeElement.id === 'f-override-user-4'`)
		tb.Key("editor")
		tb.tabTo("its lifetime", `el.id === 'f-override-lifetime-4'`, 1)
		tb.Key("7200")
		browsertest.Eval[chromedp.Void](tb.Tab, `window.oldPage = true`)
		tb.Key(kb.Enter)
		tb.Wait(5*time.Second, "the saved settings", `!window.oldPage && location.search === '?done=saved' && document.readyState === 'complete'`)
		cur, err := s.app.Manager().Settings(context.Background())
		if err != nil || cur.Policy != "nist-aal2" || cur.Lifetime != time.Hour || cur.UserLifetimes["2"] != 2*time.Hour {
			t.Fatalf("saved: got %+v (%v), want AAL2 and editor at 7200 s", cur, err)
		}
		if got := tb.Text(".exemptions"); !strings.Contains(got, "editor (user): 7200 s") {
			t.Errorf("exemptions: got %q", got)
		}
		browsertest.Axe(t, tb.Ctx)

		tb.tabTo("Remove rule 1", `el.matches('[data-override-remove]')`, 60)
		tb.Key(kb.Enter)
		tb.Wait(time.Second, "the row removed, focus on Add a user", `!document.getElementById('f-override-user-1') && document.activeElement.matches('[data-override-add]')`)
		tb.load(click("form.settings button[type=submit]"))
		if cur, _ := s.app.Manager().Settings(context.Background()); len(cur.UserLifetimes) != 0 {
			t.Errorf("user rules after the removal: got %v, want none", cur.UserLifetimes)
		}
	})

	t.Run("an invalid rule", func(t *testing.T) {
		t.Parallel()
		_, tb := admin(t, narrow, nil)
		tb.Do(fill("f-override-user-1", "a b"), fill("f-override-lifetime-1", "600"), fill("f-override-lifetime-2", "700"))
		tb.load(click("form.settings button[type=submit]"))
		tb.Wait(time.Second, "the error summary", `document.querySelectorAll('.error-summary li').length === 2`)
		if got := tb.Text("#f-override-user-1-error"); got != "Enter a user of 1 to 128 characters without spaces." {
			t.Errorf("row error: got %q", got)
		}
		browsertest.Axe(t, tb.Ctx)
	})

	t.Run("audit pages", func(t *testing.T) {
		t.Parallel()
		s := startSite(t)
		tb := s.newTab(t, b, narrow, true)
		tb.signIn("editor", editorPassword)
		tb.load(click(".signout button"))
		tb.signIn("admin", adminPassword)
		for _, path := range []string{"/backend/system/sessions/log", "/backend/system/settings/history", "/backend/system/sessions/log?since=soon"} {
			t.Run(path, func(t *testing.T) {
				tb := tab{tb.With(t), s}
				tb.open(path)
				browsertest.Axe(t, tb.Ctx)
			})
		}
		tb.open("/backend/system/sessions/log")
		tb.Do(chromedp.SetValue(chromedp.ID("f-reason"), "manual"))
		tb.load(click("form.filters button[type=submit]"))
		if got := tb.Text("#results-title ~ .table-wrap tbody"); !strings.Contains(got, "Signed out by the user") {
			t.Errorf("filtered log: got %q", got)
		}
	})

	t.Run("locked", func(t *testing.T) {
		t.Parallel()
		src, err := backend.LoadSettings("", envOf(map[string]string{"LOGOUT_SETTINGS_POLICY": "pci-dss", "LOGOUT_SETTINGS_ROLE_LIFETIMES": "editor=3600"}))
		if err != nil {
			t.Fatal(err)
		}
		_, tb := admin(t, desktop, func(cfg *backend.Config) { cfg.Settings, cfg.SettingsLocked = src, true })
		if n := browsertest.Eval[int](tb.Tab, `document.querySelectorAll('main input:not([type=hidden]), main select, main button').length`); n != 0 {
			t.Errorf("locked page: %d inputs, want none", n)
		}
		if got := tb.Text(".locked-settings"); !strings.Contains(got, "environment variable LOGOUT_SETTINGS_POLICY") {
			t.Errorf("locked table: got %q", got)
		}
		browsertest.Axe(t, tb.Ctx)
	})
}
