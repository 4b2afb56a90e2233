package logout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/servicetest"
)

// stream is one push connection as a browser's EventSource sees it.
type stream struct {
	t      testing.TB
	ep     endpoint
	cookie *http.Cookie
	resp   *http.Response
	r      *bufio.Reader
}

// sse is one server-sent event, or a comment (name ":").
type sse struct {
	name string
	data map[string]any
}

// connect opens the push stream of the session in cookie c on srv.
func connect(t testing.TB, ep endpoint, c *http.Cookie) *stream {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), "GET", ep.url+"/backend/session/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Accept", "text/event-stream")
	if c != nil {
		r.AddCookie(c)
	}
	resp, err := ep.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{t: t, ep: ep, cookie: c, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event or comment; io errors fail the test.
func (s *stream) next() sse {
	s.t.Helper()
	var ev sse
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v (so far %+v)", err, ev)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			return sse{name: ":"}
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[len("data: "):]), &ev.data); err != nil {
				s.t.Fatalf("data %q: %v", line, err)
			}
		case strings.HasPrefix(line, "retry: "):
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
}

// want reads the next event (skipping pings) and checks its name.
func (s *stream) want(name string) map[string]any {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.name == ":" && name != ":" {
			continue
		}
		if ev.name != name {
			s.t.Fatalf("got event %q %v, want %q", ev.name, ev.data, name)
		}
		return ev.data
	}
}

// closed reports whether the server closed the stream after what was read.
func (s *stream) closed() bool {
	_, err := s.r.ReadByte()
	return err != nil
}

// subscribed signs alice in on a new env with opts and opens her push
// stream, past its first status.
func subscribed(t *testing.T, opts logout.Options) (*env, *http.Cookie, *stream) {
	t.Helper()
	e := newEnv(t, opts)
	c := e.signIn("alice")
	s := connect(t, serve(t, e), c)
	s.want("status")
	return e, c, s
}

// close closes the stream as a browser closing its tab does.
func (s *stream) close() { s.resp.Body.Close() }

// endpoint is a server of an env's handler and its client.
type endpoint struct {
	url    string
	client *http.Client
}

// serve serves e over loopback TCP.
func serve(t *testing.T, e *env) endpoint {
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	return endpoint{srv.URL, srv.Client()}
}

// subscribedBubble is subscribed for a test in a synctest bubble: the
// Manager's clock is the bubble's (Options.Clock is SystemClock), and the
// stream runs over in-memory connections (servePipe).
func subscribedBubble(t *testing.T, opts logout.Options) (*env, *http.Cookie, *stream) {
	t.Helper()
	e := newBubbleEnv(t, logout.NewMemoryStore(), opts)
	c := e.signIn("alice")
	s := connect(t, servePipe(t, e), c)
	s.want("status")
	return e, c, s
}

// servePipe serves e over in-memory connections (net.Pipe), for a test in
// a synctest bubble: a goroutine blocked on one is durably blocked, so
// the bubble's clock moves on while a stream waits, as it cannot while
// one waits on a socket. Call it inside the bubble.
func servePipe(t *testing.T, e *env) endpoint {
	ln := servicetest.NewPipeListener()
	srv := &http.Server{Handler: e.h}
	go srv.Serve(ln)
	tr := &http.Transport{DialContext: ln.DialContext}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return endpoint{"http://pipe", &http.Client{Transport: tr}}
}

func TestPushHeadersAndStatus(t *testing.T) {
	e := newEnv(t, logout.Options{})
	srv := serve(t, e)
	c := e.signIn("alice")
	s := connect(t, srv, c)
	if s.resp.StatusCode != 200 {
		t.Fatalf("got %d, want 200", s.resp.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := s.resp.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	line, _ := s.r.ReadString('\n')
	if line != "retry: 2000\n" {
		t.Fatalf("first line %q, want retry: 2000", line)
	}
	st := s.want("status")
	w := e.do(req{path: "/backend/session/status", cookie: c})
	want := decodeJSON(t, w)
	for _, k := range []string{"signed_in", "deadline", "lifetime", "warning_lead", "show_counter"} {
		if st[k] != want[k] {
			t.Errorf("%s: got %v, want %v as status answers", k, st[k], want[k])
		}
	}
}

func TestPushSignedOut(t *testing.T) {
	e := newEnv(t, logout.Options{})
	srv := serve(t, e)
	s := connect(t, srv, nil)
	if s.resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %d, want 401", s.resp.StatusCode)
	}
	var v map[string]any
	if err := json.NewDecoder(s.resp.Body).Decode(&v); err != nil || v["signed_in"] != false || v["sign_in_url"] == "" {
		t.Fatalf("got %v (%v), want the status JSON of a 401", v, err)
	}
}

// TestPushEnded: every way a session ends reaches its stream as "ended"
// with the reason, and the stream closes.
func TestPushEnded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reason string
		end    func(e *env, c *http.Cookie)
	}{
		{"forced", "forced", func(e *env, c *http.Cookie) {
			if _, err := e.m.ForceSignOut(e.t.Context(), logout.Selector{UserID: "alice"}); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"sign-out in another tab", "manual", func(e *env, c *http.Cookie) {
			w := e.do(req{method: "POST", path: "/backend/session/signout", cookie: c,
				header: map[string]string{logout.HeaderCSRF: e.csrf(c), "Sec-Fetch-Site": "same-origin"}})
			if w.Code != http.StatusSeeOther && w.Code != 200 {
				e.t.Fatalf("sign-out: %d %s", w.Code, w.Body)
			}
		}},
		{"sweeper", "idle", func(e *env, c *http.Cookie) {
			e.clock.Advance(logout.DefaultLifetime)
			if err := e.m.Sweep(e.t.Context()); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"found by a request", "idle", func(e *env, c *http.Cookie) {
			e.clock.Advance(logout.DefaultLifetime)
			e.do(req{path: "/backend", cookie: c})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, c, s := subscribed(t, logout.Options{})
			tt.end(e, c)
			got := s.want("ended")
			if got["signed_in"] != false || got["reason"] != tt.reason || got["sign_in_url"] == "" || got["message"] == "" {
				t.Fatalf("got %v, want ended with reason %s", got, tt.reason)
			}
			if !s.closed() {
				t.Fatal("the stream stays open after ended")
			}
		})
	}
}

// TestPushSettings: saved settings reach the stream as a new status.
func TestPushSettings(t *testing.T) {
	e, _, s := subscribed(t, logout.Options{})
	set, _ := e.m.Settings(t.Context())
	set.Lifetime = 20 * time.Minute
	if _, err := e.m.UpdateSettings(t.Context(), set, "test"); err != nil {
		t.Fatal(err)
	}
	if got := s.want("status"); got["lifetime"] != float64(1200) {
		t.Fatalf("got %v, want lifetime 1200", got)
	}
}

// TestPushPassive: an open stream never keeps its session alive: woken
// by every beat of Run, it ends at the session's idle deadline.
func TestPushPassive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _, s := subscribedBubble(t, logout.Options{PushPing: time.Second})
		deadline := time.Now().Add(logout.DefaultLifetime)
		go e.m.Run(t.Context())
		time.Sleep(logout.DefaultLifetime - time.Second)
		s.want(":") // the stream was woken and looked at its session
		got := s.want("ended")
		if got["reason"] != "idle" {
			t.Fatalf("got %v, want ended as idle", got)
		}
		if now := time.Now(); !now.Equal(deadline) {
			t.Fatalf("ended at %v, want the deadline %v", now, deadline)
		}
	})
}

func TestPushShutdown(t *testing.T) {
	e, _, s := subscribed(t, logout.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.m.Run(ctx) }()
	cancel()
	<-done
	if !s.closed() {
		t.Fatal("the stream stays open after Run returned")
	}
}

// TestPushOtherProcessNoWatcher: without a Watcher store, a sign-out made
// by another process reaches the stream within the sync interval.
func TestPushOtherProcessNoWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := logout.NewMemoryStore()
		opts := logout.Options{SyncInterval: time.Second}
		a := newBubbleEnv(t, store, opts)
		b := newBubbleEnv(t, store, opts)
		c := a.signIn("alice")
		s := connect(t, servePipe(t, b), c)
		s.want("status")
		go b.m.Run(t.Context())
		start := time.Now()
		if _, err := a.m.ForceSignOut(t.Context(), logout.Selector{UserID: "alice"}); err != nil {
			t.Fatal(err)
		}
		// B's copy is stale one sync interval after the stream read it:
		// its next beat rereads it.
		if got := s.want("ended"); got["reason"] != "forced" {
			t.Fatalf("got %v, want ended as forced", got)
		}
		if took := time.Since(start); took > opts.SyncInterval {
			t.Fatalf("the sign-out reached the stream after %v, want within the sync interval %v", took, opts.SyncInterval)
		}
	})
}

func TestPushSubscribersObserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		_, c, s := subscribedBubble(t, logout.Options{Observer: rec})
		second := connect(t, s.ep, c)
		second.want("status")
		if got := rec.counts()["push"]; got != 2 {
			t.Fatalf("two streams open: observer counts %d subscribers", got)
		}
		s.close()
		second.close()
		synctest.Wait() // the server has seen both close
		if got := rec.counts()["push"]; got != 0 {
			t.Fatalf("both streams closed: observer counts %d subscribers", got)
		}
	})
}

// TestMessageOption: Options.Message words the notice of the push
// stream's ended event and of a script's 401, by the request.
func TestMessageOption(t *testing.T) {
	msg := func(r *http.Request, reason logout.Reason) string {
		return r.Header.Get("Accept-Language") + ":" + reason.String()
	}
	e, c, s := subscribed(t, logout.Options{Message: msg})
	if _, err := e.m.ForceSignOut(t.Context(), logout.Selector{UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got := s.want("ended")["message"]; got != ":forced" {
		t.Errorf("ended event message %q, want %q", got, ":forced")
	}
	w := e.do(req{path: "/backend/session/status", cookie: c, header: map[string]string{"Accept-Language": "cs"}})
	if got := decodeJSON(t, w)["message"]; w.Code != 401 || got != "cs:forced" {
		t.Errorf("status after the sign-out: %d %q, want 401 %q", w.Code, got, "cs:forced")
	}
}

// TestPushStreamsBounded: one session opens at most 8 push streams; the
// next is refused with 429 and changes nothing, and one closing makes
// room again. Another session is not affected.
func TestPushStreamsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, logout.NewMemoryStore(), logout.Options{})
		ep := servePipe(t, e)
		c := e.signIn("alice")
		var open []*stream
		for range 8 {
			s := connect(t, ep, c)
			if s.resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d: status %d, want 200", len(open)+1, s.resp.StatusCode)
			}
			s.want("status")
			open = append(open, s)
		}
		extra := connect(t, ep, c)
		if extra.resp.StatusCode != http.StatusTooManyRequests || extra.resp.Header.Get("Retry-After") == "" {
			t.Fatalf("the 9th stream: status %d, Retry-After %q; want 429 with Retry-After", extra.resp.StatusCode, extra.resp.Header.Get("Retry-After"))
		}
		if other := connect(t, ep, e.signIn("bob")); other.resp.StatusCode != http.StatusOK {
			t.Fatalf("another session's stream: status %d, want 200", other.resp.StatusCode)
		}
		open[0].close()
		synctest.Wait() // the server has seen the stream close
		if s := connect(t, ep, c); s.resp.StatusCode != http.StatusOK {
			t.Fatalf("after one stream closed: status %d, want 200", s.resp.StatusCode)
		}
	})
}
