package pgstore_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/pgstore/pgtest"
)

// A silencer forwards TCP connections to a server until silence, after
// which every connection it carries goes quiet: the server's side is
// closed, and the client's stays open but hears nothing, as when the
// server vanishes in a network partition and its reset never arrives.
// Connections made once it is quiet reach nobody either: they are held
// open, unanswered, until the test ends.
//
// Every connection it opens to the server is closed when the test ends,
// before its clean-up returns. That matters: pgconn, when a query on the
// silenced connection times out, opens a new connection from a goroutine
// of its own to send a CancelRequest, and that one may arrive while the
// test is cleaning up. A silencer that dialed the server for it after its
// clean-up had closed the connections it knew left a server connection
// that nobody closed, and PostgreSQL, which never got the startup packet,
// dropped it only after authentication_timeout: the clean-up's wait for
// the pumps took a minute.
type silencer struct {
	ln      net.Listener
	mu      sync.Mutex
	quiet   bool
	closed  bool       // the clean-up has begun: no new connections
	conns   []net.Conn // both sides of every connection, to close at the end
	servers []net.Conn // the server sides, to close at silence
	wg      sync.WaitGroup
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silencer{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			quiet := s.quiet
			s.mu.Unlock()
			var srv net.Conn
			if !quiet {
				if srv, err = net.Dial("tcp", target); err != nil {
					c.Close()
					continue
				}
			}
			s.mu.Lock()
			if s.closed {
				// The clean-up has closed what it knew; it waits
				// for no one else.
				s.mu.Unlock()
				c.Close()
				if srv != nil {
					srv.Close()
				}
				continue
			}
			s.conns = append(s.conns, c)
			if srv != nil {
				s.conns = append(s.conns, srv)
				s.servers = append(s.servers, srv)
				if s.quiet { // silenced while dialing
					srv.Close()
				}
				s.wg.Go(func() { s.pump(srv, c) })
				s.wg.Go(func() { s.pump(c, srv) })
			}
			s.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		ln.Close()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// pump copies src to dst until either fails, or drops what it reads
// once quiet.
func (s *silencer) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		s.mu.Lock()
		quiet := s.quiet
		s.mu.Unlock()
		if n > 0 && !quiet {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *silencer) silence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quiet = true
	for _, c := range s.servers {
		c.Close()
	}
}

// TestWatchNoticesASilentConnection: a Watch whose connection goes quiet
// must fail, so that the Manager listens again, instead of waiting
// forever for notifications that can no longer come.
func TestWatchNoticesASilentConnection(t *testing.T) {
	pool := pgtest.Postgres(t)
	schema := pgtest.PostgresSchema(t, pool)
	cc := pool.Config().ConnConfig
	p := newSilencer(t, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))))
	cfg := pool.Config().Copy()
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	n, _ := strconv.ParseUint(port, 10, 16)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(n), nil
	proxied, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxied.Close)
	s, err := pgstore.New(t.Context(), proxied, pgstore.Options{Schema: schema, PingInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan logout.Change, 16)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(c logout.Change) { changes <- c }) }()
	next := func(what string) logout.Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case err := <-done:
			t.Fatalf("Watch returned %v, want %s", err, what)
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5 s", what)
		}
		return logout.Change{}
	}
	if c := next("the first change"); !c.All {
		t.Fatalf("first change %+v, want All", c)
	}
	// Quiet, yet alive: pings pass, and so do notifications after them.
	select {
	case err := <-done:
		t.Fatalf("Watch on a live connection returned %v", err)
	case <-time.After(350 * time.Millisecond):
	}
	if _, err := newStore(t, pool, schema).SaveSettings(t.Context(), logout.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	if c := next("the settings change"); !c.Settings {
		t.Fatalf("got %+v, want the settings change", c)
	}

	p.silence()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("Watch on a silent connection returned %v, want a failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not notice within 5 s that its connection went silent")
	}
}
