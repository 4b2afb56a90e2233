package logout_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"

	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
)

// TestPushThousandSubscribers opens 1,000 push streams of 1,000 sessions
// over real HTTP, reports the memory each costs (server and client in
// this one process: the client's share is a bare TCP connection), and
// checks that a forced sign-out of everyone reaches every stream:
//
//	go test -run TestPushThousandSubscribers -v .
func TestPushThousandSubscribers(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections: not with -short")
	}
	const n = 1000
	e := newEnv(t, logout.Options{})
	srv := httptest.NewServer(e.h) // real connections: the test measures their cost
	t.Cleanup(srv.Close)
	cookies := make([]*http.Cookie, n)
	for i := range cookies {
		cookies[i] = e.signIn(fmt.Sprintf("user%d", i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, n)
	for i, c := range cookies {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /backend/session/events HTTP/1.1\r\nHost: app.example\r\nAccept: text/event-stream\r\nCookie: %s=%s\r\n\r\n", c.Name, c.Value)
		conns[i] = conn
	}
	servicetest.Within(t, 60*time.Second, "1,000 streams open", func() bool { return logout.Subscribers(e.m) == n })
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := (int64(after.HeapInuse) - int64(before.HeapInuse)) / n
	stack := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("memory per push subscriber: %d B heap + %d B stack = %.1f KiB", heap, stack, float64(heap+stack)/1024)

	start := time.Now()
	if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{All: true}); err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		latest time.Duration
		missed []string
	)
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readEnded(conn); err != nil {
				mu.Lock()
				missed = append(missed, fmt.Sprintf("stream %d: %v", i, err))
				mu.Unlock()
				return
			}
			mu.Lock()
			latest = max(latest, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(missed) > 0 {
		t.Fatalf("%d of %d streams missed the sign-out, such as %s", len(missed), n, missed[0])
	}
	t.Logf("a forced sign-out of everyone reached all %d streams within %v", n, latest.Round(time.Millisecond))
	if latest > 10*time.Second {
		t.Errorf("the last stream heard %v after the sign-out, want well within 10 s", latest)
	}
}

// readEnded reads a push stream's response until its "ended" event,
// which must carry the reason "forced".
func readEnded(conn net.Conn) error {
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() != "event: ended" {
			continue
		}
		if !sc.Scan() || !bytes.Contains(sc.Bytes(), []byte(`"reason":"forced"`)) {
			return fmt.Errorf("ended without reason forced: %q", sc.Text())
		}
		return nil
	}
	return fmt.Errorf("no ended event: %v", sc.Err())
}
