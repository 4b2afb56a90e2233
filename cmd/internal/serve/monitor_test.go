package serve_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/internal/servicetest"
	"github.com/gologout/logout/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMonitorHandler(t *testing.T) {
	col := metrics.New(metrics.Options{})
	col.SessionStarted()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	var down atomic.Bool
	ready := func(context.Context) error {
		if down.Load() {
			return errors.New("logout: ready: store unavailable: dial tcp 192.0.2.7:6379: connection refused")
		}
		return nil
	}
	srv := httptest.NewServer(serve.MonitorHandler(reg, ready, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, tt := range []struct {
		name, method, path string
		down               bool
		code               int
		body               string // contained in the body
	}{
		{"metrics", "GET", "/metrics", false, 200, "logout_sign_ins_total 1"},
		{"live", "GET", "/livez", false, 200, "ok"},
		{"ready", "GET", "/readyz", false, 200, "ok"},
		{"not ready in an outage", "GET", "/readyz", true, 503, "not ready"},
		{"still live in an outage", "GET", "/livez", true, 200, "ok"},
		{"metrics in an outage", "GET", "/metrics", true, 200, "logout_sign_ins_total 1"},
		{"ready again", "GET", "/readyz", false, 200, "ok"},
		{"no POST", "POST", "/readyz", false, 405, ""},
		{"nothing else", "GET", "/", false, 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			down.Store(tt.down)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.code || !strings.Contains(string(b), tt.body) {
				t.Fatalf("got %d %q, want %d with %q", res.StatusCode, b, tt.code, tt.body)
			}
			if strings.Contains(string(b), "192.0.2.7") {
				t.Errorf("the answer shows the store's address: %q", b)
			}
		})
	}
}

func TestMonitorOff(t *testing.T) {
	mon, err := serve.ListenMonitor("", io.Discard, slog.New(slog.DiscardHandler))
	if err != nil || mon != nil {
		t.Fatalf("got %v, %v; want nil, nil", mon, err)
	}
	if obs := mon.Observer(); obs != nil {
		t.Errorf("Observer of a monitor turned off: got %v, want nil", obs)
	}
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Observer: mon.Observer()})
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Run(m)(t.Context()); err != nil {
		t.Errorf("Run of a monitor turned off: got %v, want nil", err)
	}
	if err := mon.Close(); err != nil {
		t.Errorf("Close of a monitor turned off: got %v, want nil", err)
	}
}

// TestMonitorDraining: while Run drains the server's requests in
// flight, /readyz says 503, so that a load balancer stops sending more.
func TestMonitorDraining(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	mon, err := serve.ListenMonitor("127.0.0.1:0", io.Discard, logger)
	if err != nil {
		t.Fatal(err)
	}
	m, err := logout.New(logout.NewMemoryStore(), logout.Options{Observer: mon.Observer()})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, "test", logger, srv, ln, nil, mon.Run(m)) }()

	readyz := func() (int, string) {
		t.Helper()
		res, err := http.Get("http://" + mon.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	servicetest.Within(t, 5*time.Second, "the monitor serving", func() bool {
		res, err := http.Get("http://" + mon.Addr() + "/livez")
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	})
	if code, body := readyz(); code != 200 {
		t.Fatalf("before shutdown: %d %q, want 200", code, body)
	}
	go http.Get("http://" + ln.Addr().String() + "/slow")
	<-entered
	cancel()
	servicetest.Within(t, 5*time.Second, "/readyz to say shutting down", func() bool {
		code, body := readyz()
		return code == 503 && strings.Contains(body, "shutting down")
	})
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
