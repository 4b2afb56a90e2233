package metrics_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gologout/logout"
	"github.com/gologout/logout/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics and readiness on a mux of their own, which the application
// serves on an address that only its monitoring reaches.
func Example() {
	registry := prometheus.NewRegistry()
	col := metrics.New(metrics.Options{})
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Observer: col, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	col.Track(m)
	registry.MustRegister(col)

	ops := http.NewServeMux()
	ops.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	ops.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Ready(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})

	// A sign-in, then a scrape.
	signIn := httptest.NewRequest("POST", "/backend/auth/signin", nil)
	if _, err := m.SignIn(httptest.NewRecorder(), signIn, logout.User{ID: "alice"}); err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	ops.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(line, "logout_active_sessions ") || strings.HasPrefix(line, "logout_sign_ins_total ") {
			fmt.Print(line)
		}
	}
	// Output:
	// logout_active_sessions 1
	// logout_sign_ins_total 1
}
