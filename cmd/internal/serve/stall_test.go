package serve_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/internal/servicetest"
)

// stall is the timeout of the LimitStalls tests, on synctest's clock.
const stall = time.Second

// pipe returns the client's end of a new in-memory connection to ln.
func pipe(ln *servicetest.PipeListener) net.Conn {
	c, err := ln.DialContext(context.Background(), "pipe", "")
	if err != nil {
		panic(err) // the listener is open for the whole test
	}
	return c
}

// withStalls runs test in a synctest bubble: it serves the handler that
// test returns under LimitStalls(stall) and hands its client function a
// connection to it.
func withStalls(t *testing.T, test func() (http.HandlerFunc, client)) {
	synctest.Test(t, func(t *testing.T) {
		h, client := test()
		ln := servicetest.NewPipeListener()
		srv := &http.Server{Handler: h}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(serve.LimitStalls(srv, ln, stall)) }()
		c := pipe(ln)
		client(t, c)
		c.Close()
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
}

// bodyResult is what a handler saw of a request body.
type bodyResult struct {
	n    int
	err  error
	took time.Duration
}

// readBody is a handler that reads the whole body and reports it.
func readBody(got chan<- bodyResult) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		b, err := io.ReadAll(r.Body)
		got <- bodyResult{len(b), err, time.Since(start)}
		if err != nil {
			http.Error(w, "slow", http.StatusRequestTimeout)
		}
	}
}

// closedWithin reports whether the server closes c within d, reading
// (and dropping) what it sends until then.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// client is the client's side of a LimitStalls test.
type client = func(t *testing.T, c net.Conn)

func TestLimitStalls(t *testing.T) {
	t.Run("stalled body cut after the timeout", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			got := make(chan bodyResult, 1)
			return readBody(got), func(t *testing.T, c net.Conn) {
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
				if !closedWithin(c, 3*stall) {
					t.Error("the connection is still open")
				}
				if r := <-got; !errors.Is(r.err, os.ErrDeadlineExceeded) || r.took != stall {
					t.Errorf("got %d bytes, %v after %v; want a deadline error after %v", r.n, r.err, r.took, stall)
				}
			}
		})
	})
	t.Run("trickled body cut by the minimum rate", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			got := make(chan bodyResult, 1)
			return readBody(got), func(t *testing.T, c net.Conn) {
				go io.Copy(io.Discard, c)
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
				// A byte every half timeout: each read gets data in time.
				for range 99 {
					time.Sleep(stall / 2)
					if _, err := io.WriteString(c, "a"); err != nil {
						break
					}
				}
				if r := <-got; r.err == nil || r.took > 2*stall {
					t.Errorf("got %d bytes, %v after %v; want an error within %v", r.n, r.err, r.took, 2*stall)
				}
			}
		})
	})
	t.Run("steady upload longer than the timeout", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			got := make(chan bodyResult, 1)
			return readBody(got), func(t *testing.T, c net.Conn) {
				const chunks, size = 40, 1 << 10 // 2 KiB/s for 20 timeouts
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40960\r\n\r\n")
				for range chunks {
					time.Sleep(stall / 2)
					if _, err := io.WriteString(c, strings.Repeat("a", size)); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("got %v, %v; want 200", resp, err)
				}
				if r := <-got; r.err != nil || r.n != chunks*size {
					t.Errorf("got %d bytes, %v; want %d", r.n, r.err, chunks*size)
				}
			}
		})
	})
	t.Run("unread body cut after the handler", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			return func(http.ResponseWriter, *http.Request) {}, func(t *testing.T, c net.Conn) {
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
				br := bufio.NewReader(c)
				if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("got %v, %v; want 200", resp, err)
				}
				c.SetReadDeadline(time.Now().Add(3 * stall))
				if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Error("the connection is still open")
				}
			}
		})
	})
	t.Run("stalled headers cut after the timeout", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			return func(http.ResponseWriter, *http.Request) {}, func(t *testing.T, c net.Conn) {
				io.WriteString(c, "GET / HTTP/1.1\r\nHo")
				if !closedWithin(c, 3*stall) {
					t.Error("the connection is still open")
				}
			}
		})
	})
	t.Run("client that does not read cut after the timeout", func(t *testing.T) {
		type result struct {
			err  error
			took time.Duration
		}
		withStalls(t, func() (http.HandlerFunc, client) {
			got := make(chan result, 1)
			return func(w http.ResponseWriter, r *http.Request) {
					start := time.Now()
					var err error
					for i := 0; i < 32 && err == nil; i++ {
						_, err = w.Write(make([]byte, 32<<10))
					}
					got <- result{err, time.Since(start)}
				}, func(t *testing.T, c net.Conn) {
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					if r := <-got; r.err == nil || r.took != stall {
						t.Errorf("got %v after %v; want a write error after %v", r.err, r.took, stall)
					}
				}
		})
	})
	// A stream whose writes come further apart than the timeout goes on,
	// with or without a request body before it: the request's context
	// stays live.
	for _, body := range []string{"", "a=1"} {
		name := "stream longer than the timeout"
		if body != "" {
			name += " after a body"
		}
		t.Run(name, func(t *testing.T) {
			const events = 5
			withStalls(t, func() (http.HandlerFunc, client) {
				return func(w http.ResponseWriter, r *http.Request) {
						io.ReadAll(r.Body)
						r.Body.Read(make([]byte, 1)) // past the end, as a decoder looking for trailing data
						for i := range events {
							if i > 0 {
								time.Sleep(2 * stall)
							}
							if r.Context().Err() != nil {
								return
							}
							io.WriteString(w, "data: x\n\n")
							http.NewResponseController(w).Flush()
						}
					}, func(t *testing.T, c net.Conn) {
						io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
						resp, err := http.ReadResponse(bufio.NewReader(c), nil)
						if err != nil {
							t.Fatal(err)
						}
						b, err := io.ReadAll(resp.Body)
						if n := strings.Count(string(b), "data: x"); err != nil || n != events {
							t.Errorf("got %d events, %v; want %d", n, err, events)
						}
					}
			})
		})
	}
	t.Run("hijacked tunnel idle longer than the timeout", func(t *testing.T) {
		withStalls(t, func() (http.HandlerFunc, client) {
			return func(w http.ResponseWriter, r *http.Request) {
					conn, brw, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
					line, _ := brw.ReadString('\n')
					io.WriteString(conn, line)
				}, func(t *testing.T, c net.Conn) {
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
					br := bufio.NewReader(c)
					resp, err := http.ReadResponse(br, nil)
					if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
						t.Fatalf("got %v, %v; want 101", resp, err)
					}
					time.Sleep(10 * stall)
					io.WriteString(c, "ping\n")
					if line, err := br.ReadString('\n'); line != "ping\n" {
						t.Errorf("got %q, %v; want the echo", line, err)
					}
				}
		})
	})
}

func TestLimitStallsHeaderTimeout(t *testing.T) {
	for _, tt := range []struct {
		name      string
		set, want time.Duration
	}{
		{"unset", 0, stall},
		{"longer", 10 * stall, stall},
		{"shorter", stall / 2, stall / 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := &http.Server{ReadHeaderTimeout: tt.set}
			ln := serve.LimitStalls(srv, servicetest.NewPipeListener(), stall)
			defer ln.Close()
			if srv.ReadHeaderTimeout != tt.want {
				t.Errorf("got %v, want %v", srv.ReadHeaderTimeout, tt.want)
			}
		})
	}
}
