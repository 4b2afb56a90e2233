// Package browsertest is the shared harness of Logout's browser tests: it
// starts Debian's headless Chromium with chromedp, opens tabs, polls pages,
// runs axe-core on them and takes screenshots.
//
// A test starts one browser and opens a tab per subtest:
//
//	b := browsertest.NewBrowser(t) // skips without Chromium, fails under CI=true
//	tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
//	tb.Do(chromedp.Navigate(srv.URL))
//	tb.Wait(5*time.Second, "the page", `document.querySelector('h1')`)
//	browsertest.Axe(t, tb.Ctx)
//
// Browser tests run in real time: they use short lifetimes and poll with
// deadlines ([Tab.Wait]) rather than sleep.
//
// # Environment
//
// Chromium is expected at [ChromiumPath] (apt-get install -y chromium).
// axe-core is read from $LOGOUT_AXE_JS, or else from
// .cache/npm/node_modules/axe-core/axe.min.js under the repository root,
// where scripts/test.sh installs it. Without Chromium a test is skipped,
// and without axe-core the accessibility check is skipped with a message;
// with CI=true in the environment both fail instead.
package browsertest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// ChromiumInstall tells how to install Chromium.
const ChromiumInstall = "apt-get install -y chromium"

// AxeEnv names the environment variable with the path of axe.min.js.
const AxeEnv = "LOGOUT_AXE_JS"

// AxeDefault is where axe.min.js is found without [AxeEnv], relative to
// the repository root ([ModuleRoot]).
const AxeDefault = ".cache/npm/node_modules/axe-core/axe.min.js"

// AxeInstall tells how to install axe-core where [AxeDefault] finds it,
// from the repository root.
const AxeInstall = "npm install --prefix .cache/npm axe-core@4.14.1 (or run scripts/test.sh)"

// CI reports whether the tests run in CI (CI=true in the environment),
// where nothing that the tests need may be missing.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips t with the message, or fails it when [CI] is true.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf(format+" (CI=true: not skipping)", args...)
	}
	t.Skipf(format, args...)
}

// NewBrowser starts a headless Chromium for t and its subtests, with a
// fresh user data directory, and returns its chromedp context. The browser
// is closed when t ends. Without Chromium at [ChromiumPath], t is skipped
// with a how-to message (failed when [CI] is true).
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		SkipOrFail(t, "browser tests need %s: %s", ChromiumPath, ChromiumInstall)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", ChromiumPath, err)
	}
	return bctx
}

// TabOptions configure [NewTab]. The zero value opens a plain tab in the
// parent's browser context.
type TabOptions struct {
	// Isolated opens the tab in a new browser context, with its own
	// cookies, storage and BroadcastChannels, like a private window.
	// Otherwise the tab shares the browser context of the parent: pass
	// another tab's context to open a second tab of the same user.
	Isolated bool
	// Init is a script that runs in every document of the tab before
	// the page's own scripts. Empty: none.
	Init string
	// Width and Height set the viewport in CSS pixels, at device scale
	// 1 (see [Tab.Viewport]). Zero: the browser's default.
	Width, Height int64
	// StepTimeout bounds each call of [Tab.Do] and [Eval] in the tab.
	// Zero: [StepTimeout].
	StepTimeout time.Duration
}

// A Tab is one browser tab of a test: the test that fails when a step
// fails, and the tab's chromedp context. Use a Tab from one goroutine.
type Tab struct {
	// T is the test that a failed step fails.
	T testing.TB
	// Ctx is the tab's chromedp context, for chromedp.Run and for
	// [Axe] and [Screenshot].
	Ctx context.Context

	step time.Duration // TabOptions.StepTimeout; zero: StepTimeout
}

// NewTab opens a tab below parent: the browser's context from
// [NewBrowser], or another tab's context to share its browser context.
// The tab is closed when t ends.
func NewTab(t testing.TB, parent context.Context, opts TabOptions) Tab {
	t.Helper()
	var copts []chromedp.ContextOption
	if opts.Isolated {
		copts = append(copts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, copts...)
	t.Cleanup(cancel)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if opts.Init == "" {
			return nil
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: opts.Init})
		return err
	}))
	if err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tb := Tab{T: t, Ctx: ctx, step: opts.StepTimeout}
	if opts.Width > 0 && opts.Height > 0 {
		tb.Viewport(opts.Width, opts.Height)
	}
	return tb
}

// With returns the same tab reporting to t, for a subtest that reuses a
// tab of its parent.
func (tb Tab) With(t testing.TB) Tab { tb.T = t; return tb }

// StepTimeout is the default bound of each call of [Tab.Do] and [Eval]
// ([TabOptions.StepTimeout]): a step that waits for an element that
// never comes (chromedp queries retry until their context ends) fails the
// test instead of hanging it until go test's timeout.
const StepTimeout = 30 * time.Second

// stepTimeout is the tab's bound of a step.
func (tb Tab) stepTimeout() time.Duration { return cmp.Or(tb.step, StepTimeout) }

// Do runs the steps in the tab and fails the test on an error, or when
// they take longer than the tab's step timeout.
func (tb Tab) Do(steps ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, tb.stepTimeout())
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.T.Fatalf("%v (steps bounded by %v)", err, tb.stepTimeout())
	}
}

// Eval evaluates the JavaScript expression in the tab, awaiting a promise,
// and returns its value; it fails the test on an error, or when it takes
// longer than the tab's step timeout.
func Eval[T any](tb Tab, expr string) T {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, tb.stepTimeout())
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("%s: %v (bounded by %v)", expr, err, tb.stepTimeout())
	}
	return v
}

// Wait polls the JavaScript expression until it is truthy, across
// navigations, and fails the test when timeout passes first; what names
// the awaited state in the failure.
func (tb Tab) Wait(timeout time.Duration, what, expr string) {
	tb.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(tb.Ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.T.Fatalf("waited %v for %s (%s): last error %v; page at %s", timeout, what, expr, err, tb.Location())
		}
		time.Sleep(50 * time.Millisecond) // polling a real browser in real time
	}
}

// Location returns the tab's URL, or "" when the page does not answer
// within a second.
func (tb Tab) Location() string {
	ctx, cancel := context.WithTimeout(tb.Ctx, time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.href"))
	return u
}

// Text returns the textContent of the first element that the CSS
// selector matches; it fails the test when none does.
func (tb Tab) Text(sel string) string {
	tb.T.Helper()
	return Eval[string](tb, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
}

// Focused returns the id of the focused element, or its class name when
// it has no id.
func (tb Tab) Focused() string {
	tb.T.Helper()
	return Eval[string](tb, `document.activeElement.id || document.activeElement.className`)
}

// Key sends keys to the focused element: text to type, or a key of
// package kb such as kb.Tab, with optional modifiers.
func (tb Tab) Key(keys string, mods ...chromedp.Modifier) {
	tb.T.Helper()
	tb.Do(chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...)))
}

// Viewport sets the tab's viewport to width × height CSS pixels at device
// scale 1, for the pages loaded from now on and the one shown.
func (tb Tab) Viewport(width, height int64) {
	tb.T.Helper()
	tb.Do(chromedp.EmulateViewport(width, height, chromedp.EmulateScale(1)))
}

// Screenshot captures the visible part of the page in ctx as a PNG and
// returns it. When path is not empty it also writes the image there,
// creating the directory. It fails t on an error.
func Screenshot(t testing.TB, ctx context.Context, path string) []byte {
	t.Helper()
	shot := func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		return res.Data, err
	}
	b, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if path == "" {
		return b
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("wrote %s (%d KB)", path, (len(b)+1023)/1024)
	return b
}

// ModuleRoot returns the root directory of the logout module, which is
// the repository's root: the nearest directory upwards from the working
// directory whose go.mod declares module github.com/gologout/logout. The
// browser tests live in modules of their own below it (go.mod files that
// declare other modules are passed over).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isLogoutModule(b) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("browsertest: no go.mod of module github.com/gologout/logout above the working directory")
		}
		dir = up
	}
}

// isLogoutModule reports whether gomod, a go.mod file, declares the
// module github.com/gologout/logout.
func isLogoutModule(gomod []byte) bool {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == "github.com/gologout/logout"
		}
	}
	return false
}

// axePath returns the path of axe.min.js: $LOGOUT_AXE_JS, or AxeDefault
// under [ModuleRoot].
func axePath(t testing.TB) string {
	if p := os.Getenv(AxeEnv); p != "" {
		return p
	}
	return filepath.Join(ModuleRoot(t), filepath.FromSlash(AxeDefault))
}

// An axeViolation is one rule that axe-core found broken, as axe.run
// reports it.
type axeViolation struct {
	ID, Impact, Help, HelpURL string
	Nodes                     []struct {
		HTML           string
		Target         []any
		FailureSummary string
	}
}

// Axe runs axe-core on the page shown in ctx and fails t (with Errorf,
// so the test goes on) when it finds serious or critical violations,
// listing each rule with the elements that break it; lesser violations
// are logged. Without axe-core (see [AxeEnv] and [AxeDefault]) the check
// is skipped with a message, or fails when [CI] is true.
func Axe(t testing.TB, ctx context.Context) {
	t.Helper()
	axe(t, ctx, "document")
}

// AxeWithin runs axe-core as [Axe] does, on the elements that the CSS
// selectors match and their descendants only: the parts of a page that
// the project puts into a page it did not write (the proxy's counter and
// dialog in an admin panel), whose own markup is not the project's to fix.
func AxeWithin(t testing.TB, ctx context.Context, selectors ...string) {
	t.Helper()
	include := make([][]string, len(selectors))
	for i, s := range selectors {
		include[i] = []string{s}
	}
	b, err := json.Marshal(map[string]any{"include": include})
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	axe(t, ctx, string(b))
}

// axe runs axe-core on the context, a JavaScript expression for axe.run's
// first argument.
func axe(t testing.TB, ctx context.Context, context string) {
	t.Helper()
	path := axePath(t)
	src, err := os.ReadFile(path)
	if err != nil {
		if CI() {
			t.Errorf("axe-core: %v (CI=true: not skipping; set %s or install it with %s)", err, AxeEnv, AxeInstall)
		} else {
			t.Logf("skipping the axe-core check: %v; set %s or install it with %s", err, AxeEnv, AxeInstall)
		}
		return
	}
	start := time.Now()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		t.Fatalf("axe-core: load %s: %v", path, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(`+context+`, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: run: %v", err)
	}
	var all []axeViolation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
	t.Logf("axe-core on %s: %d violations (%v)", where, len(all), time.Since(start).Round(time.Millisecond))
	var bad []axeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v)
		} else {
			t.Logf("axe-core on %s: %s (%s): %s, %d elements", where, v.ID, v.Impact, v.Help, len(v.Nodes))
		}
	}
	if len(bad) > 0 {
		t.Errorf("axe-core on %s: %d serious or critical violations:\n%s", where, len(bad), formatViolations(bad))
	}
}

// formatViolations lists violations for people: the rule, its impact,
// its help and help page, then each element with its selector, HTML and
// what to fix.
func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s (%s): %s\n    %s\n", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			target, _ := json.Marshal(n.Target)
			fmt.Fprintf(&b, "    - %s %s\n", target, shorten(n.HTML, 200))
			for line := range strings.SplitSeq(strings.TrimSpace(n.FailureSummary), "\n") {
				// "Fix any of the following:" heads a list of checks.
				indent := "          "
				if line = strings.TrimSpace(line); strings.HasSuffix(line, ":") {
					indent = "        "
				}
				fmt.Fprintf(&b, "%s%s\n", indent, line)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// shorten collapses white space in s and cuts it after n runes.
func shorten(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
