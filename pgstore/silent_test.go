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
	"github.com/gologout/logout/internal/servicetest"
	"github.com/gologout/logout/pgstore"
)

// A silencer forwards TCP connections to a server until silence, after
// which every connection it carries goes quiet: the server's side is
// closed, and the client's stays open but hears nothing, as when the
// server vanishes in a network partition and its reset never arrives.
type silencer struct {
	ln     net.Listener
	mu     sync.Mutex
	quiet  bool
	server []net.Conn
	wg     sync.WaitGroup
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silencer{ln: ln}
	var clients []net.Conn
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.server = append(s.server, srv)
			clients = append(clients, c)
			s.mu.Unlock()
			s.wg.Go(func() { s.pump(srv, c) })
			s.wg.Go(func() { s.pump(c, srv) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range append(clients, s.server...) {
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
	for _, c := range s.server {
		c.Close()
	}
}

// TestWatchNoticesASilentConnection: a Watch whose connection goes quiet
// must fail, so that the Manager listens again, instead of waiting
// forever for notifications that can no longer come.
func TestWatchNoticesASilentConnection(t *testing.T) {
	pool := servicetest.Postgres(t)
	schema := servicetest.PostgresSchema(t, pool)
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
