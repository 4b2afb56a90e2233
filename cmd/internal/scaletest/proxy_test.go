package scaletest_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// A proxy forwards TCP connections from a loopback port to a store's
// server, and can be cut and restored to play an outage.
type proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	state  proxyState
	resume chan struct{} // closed when a blackhole ends
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

type proxyState int

const (
	// passing forwards everything.
	passing proxyState = iota
	// refusing plays a server that is down: open connections are reset
	// and new ones are closed at once.
	refusing
	// blackholed plays a network that drops every packet: connections
	// stay open but nothing goes through, so calls run into their
	// timeouts. When it ends, what was held goes through late, as TCP
	// would deliver it, to the connections still open.
	blackholed
	closed
)

func (s proxyState) String() string {
	return [...]string{"passing", "refusing", "blackholed", "closed"}[s]
}

// newProxy starts a proxy to target (host:port) on a free loopback port;
// it stops when the test ends.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, ln: ln, resume: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr returns the address to connect to instead of the target.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Cut starts an outage: refusing or blackholed.
func (p *proxy) Cut(s proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(s)
	if s == refusing {
		for c := range p.conns {
			reset(c)
		}
	}
}

// Restore ends the outage.
func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(passing)
}

// set changes the state; p.mu is held. Leaving a blackhole wakes what
// it held.
func (p *proxy) set(s proxyState) {
	if p.state == blackholed && s != blackholed {
		close(p.resume)
		p.resume = make(chan struct{})
	}
	p.state = s
}

func (p *proxy) close() {
	p.mu.Lock()
	p.set(closed)
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// reset closes c with a TCP RST, as a crashed server's host answers.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// pass waits while the network is blackholed and reports whether data
// may go through.
func (p *proxy) pass() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == blackholed {
		ch := p.resume
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	return p.state == passing
}

// track records c as open, unless the proxy refuses or is closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == refusing || p.state == closed {
		reset(c)
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				time.Sleep(10 * time.Millisecond) // a transient accept error
				continue
			}
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve connects c to the target, once the network lets it through.
func (p *proxy) serve(c net.Conn) {
	defer p.untrack(c)
	if !p.pass() {
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(s) {
		return
	}
	defer p.untrack(s)
	done := make(chan struct{}, 2)
	pump := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.pass() {
					return
				}
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pump(s, c)
	go pump(c, s)
	<-done // one side ended: end both
	c.Close()
	s.Close()
	<-done
}
