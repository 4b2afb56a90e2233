package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestMetricsAddrHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	noEnv := func(string) string { return "" }
	if err := run(t.Context(), []string{"--help"}, noEnv, &out, &errOut, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-metrics-addr", "/metrics", "/readyz", "LOGOUT_METRICS_ADDR"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

// TestMetricsAddr starts the proxy with LOGOUT_METRICS_ADDR and reads
// /metrics and /readyz there.
func TestMetricsAddr(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	s := start(t, up.URL, map[string]string{"LOGOUT_METRICS_ADDR": "127.0.0.1:0"})
	m := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no metrics address printed:\n%s", s.out)
	}
	for _, tt := range []struct {
		path string
		body string
	}{
		{"/metrics", "logout_active_sessions 0"},
		{"/metrics", `logout_store_call_duration_seconds_count{op="count_sessions"} 1`},
		{"/readyz", "ok"},
		{"/livez", "ok"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(m[1] + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b), tt.body) {
				t.Fatalf("got %d, want 200 with %q:\n%s", res.StatusCode, tt.body, b)
			}
		})
	}
}
