package browsertest_test

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gologout/logout/cmd/internal/browsertest"
)

// recorder is a testing.TB that keeps the errors reported to it, so a
// test can check what a helper reports; everything else goes to the
// embedded test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// fatalRecorder is a testing.TB that keeps the message of a fatal
// failure and ends its goroutine, as FailNow does, without failing the
// embedded test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestBrowser(t *testing.T) {
	b := browsertest.NewBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clean", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Clean</title><main><h1>Clean</h1><button>Save</button></main>`)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Broken</title><main><h1>Broken</h1><button id="nameless"></button></main>`)
	})
	mux.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("set") {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: "ada", Path: "/"})
		}
		c, _ := r.Cookie("who")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Cookie</title><p id="who">%s</p>`, c.String())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	t.Run("axe passes a clean page and lists the violations of a broken one", func(t *testing.T) {
		t.Parallel()
		if os.Getenv(browsertest.AxeEnv) == "" {
			if _, err := os.Stat(filepath.Join(browsertest.ModuleRoot(t), browsertest.AxeDefault)); err != nil {
				browsertest.SkipOrFail(t, "axe-core is missing: %v; install it with %s", err, browsertest.AxeInstall)
			}
		}
		tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
		for _, tc := range []struct {
			path string
			want []string // in the one error; none: no error
		}{
			{"/clean", nil},
			{"/broken", []string{"on /broken: 1 serious or critical violations", "button-name (critical)", `["#nameless"]`, `<button id="nameless"></button>`}},
		} {
			tb.Do(chromedp.Navigate(srv.URL + tc.path))
			r := &recorder{TB: t}
			browsertest.Axe(r, tb.Ctx)
			if tc.want == nil {
				if len(r.errs) != 0 {
					t.Errorf("%s: got errors %q, want none", tc.path, r.errs)
				}
				continue
			}
			if len(r.errs) != 1 {
				t.Fatalf("%s: got %d errors %q, want 1", tc.path, len(r.errs), r.errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.errs[0], w) {
					t.Errorf("%s: error lacks %q:\n%s", tc.path, w, r.errs[0])
				}
			}
		}
	})

	t.Run("isolated tabs have their own cookies, others share them", func(t *testing.T) {
		t.Parallel()
		a := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
		a.Do(chromedp.Navigate(srv.URL + "/cookie?set"))
		same := browsertest.NewTab(t, a.Ctx, browsertest.TabOptions{})
		other := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true})
		for _, tc := range []struct {
			name string
			tab  browsertest.Tab
			want string
		}{
			{"same browser context", same, "who=ada"},
			{"new browser context", other, ""},
		} {
			tc.tab.Do(chromedp.Navigate(srv.URL + "/cookie"))
			tc.tab.Wait(2*time.Second, "the page", `document.getElementById('who')`)
			if got := tc.tab.Text("#who"); got != tc.want {
				t.Errorf("%s: got cookie %q, want %q", tc.name, got, tc.want)
			}
		}
	})

	t.Run("a step that never ends fails at the tab's step timeout", func(t *testing.T) {
		t.Parallel()
		const bound = 500 * time.Millisecond
		tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true, StepTimeout: bound})
		tb.Do(chromedp.Navigate(srv.URL + "/clean"))
		for _, tc := range []struct {
			name string
			step func(browsertest.Tab)
			want string
		}{
			{"Do waiting for a missing element", func(tb browsertest.Tab) {
				tb.Do(chromedp.WaitVisible(chromedp.CSS("#missing")))
			}, "(steps bounded by 500ms)"},
			{"Eval of a promise that never settles", func(tb browsertest.Tab) {
				browsertest.Eval[any](tb, "new Promise(() => {})")
			}, "(bounded by 500ms)"},
		} {
			r := &fatalRecorder{TB: t}
			done := make(chan struct{})
			start := time.Now()
			go func() {
				defer close(done)
				tc.step(tb.With(r))
			}()
			select {
			case <-done:
			case <-time.After(20 * bound):
				t.Fatalf("%s: still waiting after %v", tc.name, 20*bound)
			}
			if took := time.Since(start); r.msg == "" || took < bound {
				t.Errorf("%s: returned after %v with failure %q, want a failure after %v", tc.name, took, r.msg, bound)
			}
			if !strings.Contains(r.msg, tc.want) {
				t.Errorf("%s: failure %q does not say %q", tc.name, r.msg, tc.want)
			}
		}
	})

	t.Run("screenshot is a PNG of the viewport", func(t *testing.T) {
		t.Parallel()
		tb := browsertest.NewTab(t, b, browsertest.TabOptions{Isolated: true, Width: 640, Height: 360})
		tb.Do(chromedp.Navigate(srv.URL + "/clean"))
		path := filepath.Join(t.TempDir(), "shots", "clean.png")
		shot := browsertest.Screenshot(t, tb.Ctx, path)
		cfg, err := png.DecodeConfig(bytes.NewReader(shot))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != 640 || cfg.Height != 360 {
			t.Errorf("screenshot: got %dx%d, want 640x360", cfg.Width, cfg.Height)
		}
		if written, err := os.ReadFile(path); err != nil || !bytes.Equal(written, shot) {
			t.Errorf("written screenshot: err %v, equal %v", err, bytes.Equal(written, shot))
		}
	})
}

func TestModuleRoot(t *testing.T) {
	root := browsertest.ModuleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "module github.com/gologout/logout\n") {
		t.Errorf("ModuleRoot: got %s, whose go.mod is not the logout module's", root)
	}
}
