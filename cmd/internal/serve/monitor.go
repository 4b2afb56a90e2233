package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MonitorFlag defines --metrics-addr on fs, into addr, with its default
// from the environment variable LOGOUT_METRICS_ADDR.
func MonitorFlag(fs *flag.FlagSet, addr *string, getenv func(string) string) {
	fs.StringVar(addr, "metrics-addr", getenv("LOGOUT_METRICS_ADDR"),
		"`host:port` on which to serve /metrics (Prometheus), /livez and /readyz, apart from the pages; "+
			"keep it away from the public. Off when empty (the default) (LOGOUT_METRICS_ADDR)")
}

// A Monitor serves the monitoring address: /metrics, /livez and /readyz.
// A nil *Monitor is a monitor turned off: its methods do nothing.
type Monitor struct {
	ln  net.Listener
	col *metrics.Collector
	reg *prometheus.Registry
	log *slog.Logger
}

// ListenMonitor listens on addr for the monitoring endpoints and prints
// their address to stdout. An empty addr turns monitoring off: it returns
// a nil *Monitor.
func ListenMonitor(addr string, stdout io.Writer, logger *slog.Logger) (*Monitor, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: listen: %w", err)
	}
	col := metrics.New(metrics.Options{Logger: logger})
	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ln.Addr())
	return &Monitor{ln: ln, col: col, reg: reg, log: logger}, nil
}

// Observer returns what to set as [logout.Options.Observer] of every
// Manager the command makes: nil when monitoring is off.
func (mo *Monitor) Observer() logout.Observer {
	if mo == nil {
		return nil
	}
	return mo.col
}

// Addr returns the address the monitor listens on, such as
// "127.0.0.1:9090"; "" when monitoring is off.
func (mo *Monitor) Addr() string {
	if mo == nil {
		return ""
	}
	return mo.ln.Addr().String()
}

// Close closes the listener, for a start that fails before [Monitor.Run]
// serves it.
func (mo *Monitor) Close() error {
	if mo == nil {
		return nil
	}
	return mo.ln.Close()
}

// ErrShuttingDown is what /readyz reports while the command's server
// shuts down.
var ErrShuttingDown = errors.New("shutting down")

// Run returns background work for [Run] that serves the monitoring
// endpoints, with m's sessions in logout_active_sessions and m's
// [logout.Manager.Ready] behind /readyz, until its context is done.
// Once [Run] begins to shut the command's server down, /readyz answers
// 503 while the requests in flight finish.
func (mo *Monitor) Run(m *logout.Manager) func(context.Context) error {
	if mo == nil {
		return func(context.Context) error { return nil }
	}
	mo.col.Track(m)
	return func(ctx context.Context) error {
		draining := Draining(ctx)
		ready := func(ctx context.Context) error {
			select {
			case <-draining:
				return ErrShuttingDown
			default:
			}
			return m.Ready(ctx)
		}
		srv := &http.Server{
			Handler:           MonitorHandler(mo.reg, ready, mo.log),
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			ErrorLog:          slog.NewLogLogger(mo.log.Handler(), slog.LevelWarn),
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(mo.ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("metrics: serve: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("metrics: shutdown: %w", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics: serve: %w", err)
		}
		return nil
	}
}

// MonitorHandler serves the monitoring endpoints: GET /metrics, what g
// gathers; GET /livez, 200 while the process serves; GET /readyz, 200
// when ready returns nil and 503 while it fails (the error is logged, not
// shown).
func MonitorHandler(g prometheus.Gatherer, ready func(context.Context) error, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	ok := func(w http.ResponseWriter) {
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
	}
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { ok(w) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			w.Header().Set("Cache-Control", "no-store")
			if errors.Is(err, ErrShuttingDown) {
				http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
				return
			}
			logger.LogAttrs(r.Context(), slog.LevelWarn, "metrics: not ready", slog.String("error", err.Error()))
			http.Error(w, "not ready: the session store does not answer", http.StatusServiceUnavailable)
			return
		}
		ok(w)
	})
	return mux
}
