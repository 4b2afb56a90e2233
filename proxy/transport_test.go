package proxy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// TestUpstreamConnReuse: with the default Transport, clients making many
// requests at once open about one connection each to the panel, not one
// for most requests (http.DefaultTransport keeps only 2 idle per host).
func TestUpstreamConnReuse(t *testing.T) {
	const clients, requests = 16, 40
	var opened atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		io.WriteString(w, "body { margin: 0 }")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	_, srv := newProxy(t, up.URL, proxy.Django(), fakeclock.New(), nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Go(func() {
			for range requests {
				resp, err := client.Get(srv.URL + "/static/app.css")
				if err != nil {
					failed.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("got %d clients failing, want none", n)
	}
	if n := opened.Load(); n > 2*clients {
		t.Errorf("got %d connections to the panel for %d requests from %d clients, want at most %d", n, clients*requests, clients, 2*clients)
	}
}
