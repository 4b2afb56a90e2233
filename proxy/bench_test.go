package proxy_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/proxy"
)

// benchServers are an upstream panel and the proxies in front of it that
// the benchmarks compare, all on loopback.
type benchServers struct {
	opened   *atomic.Int64 // connections the upstream accepted
	upstream string
	// bare is an httputil.ReverseProxy with a Transport tuned as
	// logout-proxy's default is.
	bare string
	// pooled is bare with a pool of copy buffers, as logout-proxy has;
	// without one, ReverseProxy allocates 32 KiB per response.
	pooled string
	// proxy is logout-proxy with the Django profile, signed in as
	// benchCookie; nonce is the same with a sign-out nonce to learn from
	// every page (as the wordpress profile does; the pages hold none, the
	// worst case: the whole page is searched).
	proxy, nonce string
}

// benchCookie is the session cookie the benchmarks' clients send.
var benchCookie = &http.Cookie{Name: "sessionid", Value: "bench-session"}

// startBench starts the upstream and the proxies. The upstream answers
// /admin/?kb=N with an N KiB HTML page and any other path with N KiB of
// CSS, for N of 1, 16 and 1024; with closing, it closes every connection
// after its answer, as PHP's built-in server does.
func startBench(b *testing.B, closing bool) benchServers {
	pages := map[string]string{}
	for _, kb := range []int{1, 16, 1024} {
		pages[strconv.Itoa(kb)] = "<!DOCTYPE html><html><head><title>t</title></head><body><div id=user-tools></div>" +
			strings.Repeat("<p>lorem ipsum dolor sit amet</p>\n", kb*1024/34) + "</body></html>"
	}
	var opened atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if closing {
			w.Header().Set("Connection", "close")
		}
		switch {
		case r.URL.Path == "/admin/login/" && r.Method == http.MethodPost:
			http.SetCookie(w, &http.Cookie{Name: benchCookie.Name, Value: benchCookie.Value, Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/admin/"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, pages[r.URL.Query().Get("kb")])
		default:
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, pages[r.URL.Query().Get("kb")])
		}
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	up.Start()
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = 256, 256, 90*time.Second
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: tr,
	})
	b.Cleanup(bare.Close)
	pool := &sync.Pool{New: func() any { return new([32 << 10]byte) }}
	pooled := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport:  tr,
		BufferPool: benchPool{pool},
	})
	b.Cleanup(pooled.Close)
	set := logout.DefaultSettings()
	quiet := slog.New(slog.DiscardHandler)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// start starts a proxy with profile and signs in through it, so that
	// its pages get the widget.
	start := func(profile proxy.Profile) string {
		p, err := proxy.New(logout.NewMemoryStore(), proxy.Options{Upstream: u, Profile: profile, Logger: quiet,
			Logout: logout.Options{Defaults: &set, Logger: quiet}})
		if err != nil {
			b.Fatal(err)
		}
		lp := httptest.NewServer(p)
		b.Cleanup(lp.Close)
		resp, err := client.PostForm(lp.URL+"/admin/login/", url.Values{"username": {"bench"}})
		if err != nil || resp.StatusCode != http.StatusFound {
			b.Fatalf("sign in: %v %v", resp, err)
		}
		resp.Body.Close()
		return lp.URL
	}
	nonce := proxy.Django()
	nonce.SignOut = &proxy.SignOut{Method: http.MethodGet, Path: "/logout?_wpnonce={nonce}",
		NoncePattern: proxy.WordPress().SignOut.NoncePattern}
	return benchServers{opened: &opened, upstream: up.URL, bare: bare.URL, pooled: pooled.URL, proxy: start(proxy.Django()), nonce: start(nonce)}
}

// benchPool lends ReverseProxy 32 KiB copy buffers, as logout-proxy's
// pool does.
type benchPool struct{ p *sync.Pool }

func (b benchPool) Get() []byte  { return b.p.Get().(*[32 << 10]byte)[:] }
func (b benchPool) Put(s []byte) { b.p.Put((*[32 << 10]byte)(s)) }

// benchGet makes one request as the benchmarks' browser does and reads
// the answer.
func benchGet(client *http.Client, req *http.Request, buf []byte) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.CopyBuffer(io.Discard, resp.Body, buf)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// benchRequest is a page load of target+path with the session cookie.
func benchRequest(target, path string) *http.Request {
	req, _ := http.NewRequest("GET", target+path, nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.AddCookie(benchCookie)
	return req
}

// BenchmarkProxy compares logout-proxy with a bare httputil.ReverseProxy
// to the same upstream, over loopback HTTP, one request at a time, in one
// run:
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem -count 5 ./proxy
//
// "page" is a signed-in backend HTML page (the proxy injects the widget),
// "asset" a front-end file passed through; the size is the page's.
func BenchmarkProxy(b *testing.B) {
	s := startBench(b, false)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	for _, kind := range []string{"page", "asset"} {
		for _, kb := range []string{"16", "1024"} {
			for _, target := range []struct{ name, url string }{{"bare", s.bare}, {"logout-proxy", s.proxy}, {"logout-proxy-nonce", s.nonce}} {
				path := "/admin/?kb=" + kb
				if kind == "asset" {
					path = "/static/app.css?kb=" + kb
				}
				b.Run(kind+"/"+kb+"KiB/"+target.name, func(b *testing.B) {
					req := benchRequest(target.url, path)
					buf := make([]byte, 32<<10)
					for b.Loop() {
						if err := benchGet(client, req, buf); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// loadClients is how many clients BenchmarkProxyLoad runs at once, as
// wrk with 64 connections.
const loadClients = 64

// BenchmarkProxyLoad serves loadClients clients at once, each on its own
// keep-alive connection, straight from the upstream ("direct"), through a
// bare httputil.ReverseProxy with a Transport tuned as logout-proxy's
// default is ("bare"), the same with a pool of copy buffers
// ("bare-pooled") and through logout-proxy, in one run:
//
//	go test -run '^$' -bench ProxyLoad -benchmem -count 6 ./proxy
//
// "frontend" is a 1 KiB file outside the panel's prefix (passed through,
// nothing injected), "backend" a signed-in 16 KiB page of the panel (the
// widget is injected). ns/op is wall time per request, so req/s is
// 10⁹ / ns/op; cpu-ns/op is the CPU time of the whole process (client,
// proxy and upstream) per request, which other work on the machine
// disturbs less; upstream-conns/op counts the connections the upstream
// accepted per request (TIME_WAIT sockets to come).
func BenchmarkProxyLoad(b *testing.B) {
	benchLoad(b, false, "direct", "bare", "bare-pooled", "logout-proxy")
}

// BenchmarkProxyClosingUpstream is BenchmarkProxyLoad in front of an
// upstream that closes every connection after its answer, as PHP's
// built-in server (php -S) does, so that every request opens a connection
// to it, through the bare proxy and through logout-proxy:
//
//	go test -run '^$' -bench ProxyClosingUpstream -benchmem -count 6 ./proxy
func BenchmarkProxyClosingUpstream(b *testing.B) { benchLoad(b, true, "bare", "logout-proxy") }

func benchLoad(b *testing.B, closing bool, targets ...string) {
	s := startBench(b, closing)
	urls := map[string]string{"direct": s.upstream, "bare": s.bare, "bare-pooled": s.pooled, "logout-proxy": s.proxy}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: loadClients}}
	defer client.CloseIdleConnections()
	for _, kind := range []struct{ name, path string }{{"frontend", "/static/app.css?kb=1"}, {"backend", "/admin/?kb=16"}} {
		for _, name := range targets {
			target := struct{ name, url string }{name, urls[name]}
			b.Run(kind.name+"/"+target.name, func(b *testing.B) {
				b.SetParallelism((loadClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				opened := s.opened.Load()
				cpu, _ := processCPU()
				b.RunParallel(func(pb *testing.PB) {
					req := benchRequest(target.url, kind.path)
					buf := make([]byte, 32<<10)
					for pb.Next() {
						if err := benchGet(client, req, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				b.ReportMetric(float64(s.opened.Load()-opened)/float64(b.N), "upstream-conns/op")
				if end, ok := processCPU(); ok {
					b.ReportMetric(float64(end-cpu)/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}
