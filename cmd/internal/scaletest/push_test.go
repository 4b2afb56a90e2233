package scaletest_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
)

// TestPushAcrossInstances: a forced sign-out made on instance A reaches a
// push stream that the session's browser holds open on instance B within
// changeBound, through the store's Watcher alone (the sync interval is a
// minute).
func TestPushAcrossInstances(t *testing.T) {
	backings(t, func(t *testing.T, b *backing) {
		opts := logout.Options{SyncInterval: time.Minute, SweepInterval: time.Minute}
		insts := startInstances(t, 2, func(t *testing.T) logout.Store { return b.newStore(t, b.addr) }, opts)
		A, B := insts[0], insts[1]
		waitListening(t, b, 2, 10*time.Second)

		ed := newBrowser(t)
		ed.signIn(A, "editor", editorPassword)
		events := openEvents(t, ed, B)
		if name, data := events.next(); name != "status" || !strings.Contains(data, `"signed_in":true`) {
			t.Fatalf("B's first event: %s %s, want status signed in", name, data)
		}
		admin := newBrowser(t)
		admin.signIn(A, "admin", adminPassword)
		done := admin.forceSignOut(A, ed.sessionID(A)).done
		name, data := events.next()
		lag := time.Since(done)
		var v struct{ Reason string }
		if err := json.Unmarshal([]byte(data), &v); err != nil || name != "ended" || v.Reason != logout.ReasonForced.String() {
			t.Fatalf("B's next event: %s %s, want ended with reason forced", name, data)
		}
		t.Logf("B's push stream heard A's forced sign-out %v after it answered", lag.Round(time.Millisecond))
		if lag > changeBound {
			t.Errorf("B's push stream heard the sign-out %v after it answered, want within %v", lag, changeBound)
		}
	})
}

// eventStream reads a push stream's events.
type eventStream struct {
	t  *testing.T
	sc *bufio.Scanner
}

// openEvents opens the push stream of the browser's session on in.
func openEvents(t *testing.T, b *browser, in *instance) *eventStream {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), "GET", in.srv.URL+"/backend/session/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Accept", "text/event-stream")
	c := *b.http
	c.Timeout = 0 // a stream outlives any request timeout
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events on %s: got %d, want 200", in.name, resp.StatusCode)
	}
	return &eventStream{t: t, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event's name and data, skipping comments.
func (s *eventStream) next() (name, data string) {
	s.t.Helper()
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		case line == "" && name != "":
			return name, data
		}
	}
	s.t.Fatalf("the stream ended: %v", s.sc.Err())
	return "", ""
}
