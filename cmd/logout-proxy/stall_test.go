package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowClientsCut: clients that send a few bytes of a body and stall
// are cut after --client-timeout (LOGOUT_CLIENT_TIMEOUT), over loopback,
// and the proxy's connections to the panel are released with them.
func TestSlowClientsCut(t *testing.T) {
	const clients = 20
	var open atomic.Int64 // the panel's open connections
	changed := make(chan struct{}, 1)
	started := make(chan struct{}, clients)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/comment" {
			started <- struct{}{}
		}
		io.Copy(io.Discard, r.Body) // as a PHP-FPM or gunicorn worker: busy until the body ends
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	up.Start()
	defer up.Close()
	s := start(t, up.URL, map[string]string{"LOGOUT_CLIENT_TIMEOUT": "200ms"})
	host := strings.TrimPrefix(s.base, "http://")

	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /comment HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc")
		conns[i] = c
	}
	// Every slow request holds a connection to the panel.
	deadline := time.Now().Add(10 * time.Second)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for range clients {
		select {
		case <-started:
		case <-timer.C:
			t.Fatal("the panel did not get the slow requests")
		}
	}
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, c); !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	if closed != clients {
		t.Fatalf("got %d of %d slow connections closed within 10 s, want all", closed, clients)
	}
	for open.Load() > 0 {
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("got %d connections to the panel still open, want 0", open.Load())
		}
	}
	// A request that does not stall goes through.
	resp, err := http.PostForm(s.base+"/comment", url.Values{"text": {"hello"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a request after them: %v, %v; want 200", resp, err)
	}
	resp.Body.Close()
}

// TestStreamsOutlastClientTimeout: the push stream, a panel's event
// stream and a WebSocket tunnel stay open through silences longer than
// --client-timeout, over loopback.
func TestStreamsOutlastClientTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/admin/login/":
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: 1\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-release:
				io.WriteString(w, "data: 2\n\n")
			case <-r.Context().Done():
			}
		case "/ws":
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			line, _ := brw.ReadString('\n')
			io.WriteString(conn, line)
		}
	}))
	defer up.Close()
	s := start(t, up.URL, map[string]string{"LOGOUT_CLIENT_TIMEOUT": timeout.String()})
	host := strings.TrimPrefix(s.base, "http://")
	resp, err := http.PostForm(s.base+"/admin/login/", url.Values{"username": {"ann"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// open sends a request on a new connection and reads the answer's
	// head and first line of body.
	open := func(req, wantFirst string) (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, req)
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: got %v before %q", req, err, wantFirst)
			}
			if strings.HasPrefix(line, wantFirst) {
				return c, br
			}
		}
	}
	push, pushR := open("GET /admin/_logout/session/events HTTP/1.1\r\nHost: "+host+"\r\nAccept: text/event-stream\r\nCookie: sessionid=s1\r\n\r\n", "event: status")
	events, eventsR := open("GET /events HTTP/1.1\r\nHost: "+host+"\r\n\r\n", "data: 1")
	ws, wsR := open("GET /ws HTTP/1.1\r\nHost: "+host+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "HTTP/1.1 101")

	// Four timeouts of silence: the push stream must still be open.
	push.SetReadDeadline(time.Now().Add(4 * timeout))
	if _, err := io.Copy(io.Discard, pushR); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("push stream: got %v, want it open", err)
	}
	close(release)
	if _, err := eventsR.ReadString('2'); err != nil {
		t.Errorf("event stream: got %v, want the second event", err)
	}
	events.Close()
	for {
		line, err := wsR.ReadString('\n')
		if err != nil {
			t.Fatalf("tunnel: got %v before the 101's end", err)
		}
		if line == "\r\n" {
			break
		}
	}
	io.WriteString(ws, "ping\n")
	if line, err := wsR.ReadString('\n'); line != "ping\n" {
		t.Errorf("tunnel: got %q, %v; want the echo", line, err)
	}
}

// TestClientTimeoutFlag: --client-timeout and LOGOUT_CLIENT_TIMEOUT take
// a positive duration; the flag wins.
func TestClientTimeoutFlag(t *testing.T) {
	for _, tt := range []struct {
		name, env string
		args      []string
		want      time.Duration
		err       string
	}{
		{"default", "", nil, 30 * time.Second, ""},
		{"environment", "5s", nil, 5 * time.Second, ""},
		{"flag wins", "5s", []string{"--client-timeout", "1m"}, time.Minute, ""},
		{"not a duration", "soon", nil, 0, `LOGOUT_CLIENT_TIMEOUT "soon"`},
		{"zero", "", []string{"--client-timeout", "0s"}, 0, "want a positive duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "LOGOUT_CLIENT_TIMEOUT" {
					return tt.env
				}
				return ""
			}
			args := append([]string{"--upstream", "http://h", "--profile", "django"}, tt.args...)
			o, _, err := parse(args, getenv, io.Discard, io.Discard)
			if tt.err != "" {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want a usage error with %q", err, tt.err)
				}
				return
			}
			if err != nil || o.clientTimeout != tt.want {
				t.Fatalf("got %v, %v; want %v", o.clientTimeout, err, tt.want)
			}
		})
	}
}
