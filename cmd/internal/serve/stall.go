package serve

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ClientTimeout is the default of --client-timeout: how long a client may
// stall in sending a request or reading a response.
const ClientTimeout = 30 * time.Second

// MinBodyRate is the slowest average rate, in bytes a second, at which a
// client may send a request body under [LimitStalls], counting only the
// time spent waiting for the client, after a first timeout of grace.
// Apache's mod_reqtimeout asks for 500 by default.
const MinBodyRate = 512

// LimitStalls makes srv end the connections of clients that stall, for a
// server whose handlers stream (a reverse proxy), where
// [http.Server.ReadTimeout] and WriteTimeout, which bound a whole request
// and a whole response, would cut long uploads, downloads and streams.
// Instead it bounds each wait, so that a transfer goes on as long as data
// flows:
//
//   - request headers must arrive within timeout (srv.ReadHeaderTimeout is
//     lowered to it when longer or unset);
//   - each read of a request body must receive data within timeout, and
//     the body as a whole must come at [MinBodyRate] on average once a
//     first timeout has passed, counting only the time spent waiting for
//     the client, so that a client that sends a byte now and then is cut
//     too; a body the handler leaves unread gets one more timeout to end;
//   - each write to the connection, of at most a buffer (32 KiB for a
//     proxied response), must be taken by the client within timeout.
//
// A stalled read ends the request with an error the handler sees (a
// reverse proxy then closes its upstream connection) and the connection
// closes; a stalled write fails and closes the connection. A request
// without a body and a connection taken over by Hijack (a WebSocket
// tunnel) have no read deadline; writes to a hijacked connection keep
// theirs. A handler's own SetWriteDeadline lasts until the next write.
//
// It wraps srv.Handler and returns ln wrapped: serve srv on the listener
// it returns. timeout must be positive.
func LimitStalls(srv *http.Server, ln net.Listener, timeout time.Duration) net.Listener {
	if srv.ReadHeaderTimeout <= 0 || srv.ReadHeaderTimeout > timeout {
		srv.ReadHeaderTimeout = timeout
	}
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			// The server reads the connection itself, to see the client
			// go: a read deadline would end that read and the request.
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		b := &stallBody{ReadCloser: r.Body, rc: rc, timeout: timeout, allowed: timeout}
		r.Body = b
		next.ServeHTTP(w, r)
		if !b.done.Load() {
			// The server reads what is left of the body to reuse the
			// connection.
			_ = rc.SetReadDeadline(time.Now().Add(timeout))
		}
	})
	return stallListener{ln, timeout}
}

// stallBody sets the connection's read deadline before each read of a
// request body.
type stallBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	allowed time.Duration // the wait the body has earned: timeout + its bytes at MinBodyRate
	waited  time.Duration // the time spent in reads
	// done is set once the body has ended: the server then reads the
	// connection itself, to see the client go, and needs it without a
	// deadline.
	done atomic.Bool
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.done.Load() {
		return b.ReadCloser.Read(p)
	}
	start := time.Now()
	_ = b.rc.SetReadDeadline(start.Add(min(b.timeout, b.allowed-b.waited)))
	n, err := b.ReadCloser.Read(p)
	b.waited += time.Since(start)
	b.allowed += time.Duration(n) * time.Second / MinBodyRate
	if err != nil {
		b.done.Store(true)
	}
	return n, err
}

// stallListener accepts stallConns.
type stallListener struct {
	net.Listener
	timeout time.Duration
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{c, l.timeout}, nil
}

// stallConn sets its write deadline before each write.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes a TCP connection, as the server does before
// closing one whose request it did not read to the end.
func (c *stallConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
