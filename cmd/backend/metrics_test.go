package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// lineWriter sends each line written to it, without its newline; the
// command writes whole lines.
type lineWriter chan string

func (c lineWriter) Write(b []byte) (int, error) {
	for l := range strings.Lines(string(b)) {
		c <- strings.TrimSuffix(l, "\n")
	}
	return len(b), nil
}

// TestMetricsAddr starts the backend with --metrics-addr and reads
// /metrics, /livez and /readyz there, apart from the pages.
func TestMetricsAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lines := make(lineWriter, 100)
	var stderr bytes.Buffer
	done := make(chan error, 1)
	env := map[string]string{"LOGOUT_DATA": t.TempDir(), "LOGOUT_METRICS_ADDR": "127.0.0.1:0"}
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "error"}, getenv(env), lines, &stderr)
		close(lines)
	}()
	var base, metricsURL string
	deadline := time.After(30 * time.Second)
	for base == "" || metricsURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("run ended early: %v\n%s", <-done, stderr.String())
			}
			if u, ok := strings.CutPrefix(l, "listening on "); ok {
				base = u
			}
			if u, ok := strings.CutPrefix(l, "metrics on "); ok {
				metricsURL = u
			}
		case <-deadline:
			t.Fatal("no addresses printed")
		}
	}
	go func() { // keep the pipe drained
		for range lines {
		}
	}()
	monitor := strings.TrimSuffix(metricsURL, "/metrics")
	if monitor == base {
		t.Fatalf("metrics on the pages' address %s", base)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range []struct {
		name, url string
		code      int
		body      []string
	}{
		{"metrics", metricsURL, 200, []string{"logout_active_sessions 0", "logout_sign_ins_total 0",
			`logout_sign_outs_total{reason="idle"} 0`, `logout_store_call_duration_seconds_count{op="count_sessions"} 1`, "go_goroutines"}},
		{"live", monitor + "/livez", 200, []string{"ok"}},
		{"ready", monitor + "/readyz", 200, []string{"ok"}},
		{"not on the pages' address", base + "/metrics", 404, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.code {
				t.Fatalf("got %d, want %d", res.StatusCode, tt.code)
			}
			for _, s := range tt.body {
				if !strings.Contains(string(b), s) {
					t.Errorf("body lacks %q:\n%s", s, b)
				}
			}
		})
	}
	cancel()
	if err := <-done; err != nil { // the test's timeout catches a hang
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get(monitor + "/livez"); err == nil {
		t.Error("the monitoring address still answers after shutdown")
	}
}

func TestMetricsAddrHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, getenv(nil), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-metrics-addr", "/metrics", "/readyz", "LOGOUT_METRICS_ADDR"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}
