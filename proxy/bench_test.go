package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gologout/logout"
	"github.com/gologout/logout/proxy"
)

// BenchmarkProxy compares logout-proxy with a bare httputil.ReverseProxy
// to the same upstream, over loopback HTTP, in one run:
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem -count 5 ./proxy
//
// "page" is a signed-in backend HTML page (the proxy injects the widget),
// "asset" a front-end file passed through; the size is the page's.
func BenchmarkProxy(b *testing.B) {
	pages := map[string]string{}
	for _, kb := range []int{16, 1024} {
		pages[strings.Repeat("x", 0)+itoa(kb)] = "<!DOCTYPE html><html><head><title>t</title></head><body><div id=user-tools></div>" +
			strings.Repeat("<p>lorem ipsum dolor sit amet</p>\n", kb*1024/34) + "</body></html>"
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/admin/login/" && r.Method == http.MethodPost:
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "bench-session", Path: "/"})
			http.Redirect(w, r, "/admin/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/admin/"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, pages[r.URL.Query().Get("kb")])
		default:
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, pages[r.URL.Query().Get("kb")])
		}
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	bare := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }})
	defer bare.Close()
	set := logout.DefaultSettings()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// start starts a proxy with profile and signs in through it, so that
	// its pages get the widget.
	start := func(profile proxy.Profile) string {
		p, err := proxy.New(logout.NewMemoryStore(), proxy.Options{Upstream: u, Profile: profile, Logout: logout.Options{Defaults: &set}})
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
	lp := start(proxy.Django())
	// The same with a sign-out nonce to learn from every page (as the
	// wordpress profile does; the pages hold none, the worst case: the
	// whole page is searched).
	nonce := proxy.Django()
	nonce.SignOut = &proxy.SignOut{Method: http.MethodGet, Path: "/logout?_wpnonce={nonce}",
		NoncePattern: proxy.WordPress().SignOut.NoncePattern}
	lpNonce := start(nonce)

	for _, kind := range []string{"page", "asset"} {
		for _, kb := range []string{"16", "1024"} {
			for _, target := range []struct{ name, url string }{{"bare", bare.URL}, {"logout-proxy", lp}, {"logout-proxy-nonce", lpNonce}} {
				path := "/admin/?kb=" + kb
				if kind == "asset" {
					path = "/static/app.css?kb=" + kb
				}
				b.Run(kind+"/"+kb+"KiB/"+target.name, func(b *testing.B) {
					req, _ := http.NewRequest("GET", target.url+path, nil)
					req.Header.Set("Sec-Fetch-Mode", "navigate")
					req.AddCookie(&http.Cookie{Name: "sessionid", Value: "bench-session"})
					buf := make([]byte, 32<<10)
					for b.Loop() {
						resp, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						io.CopyBuffer(io.Discard, resp.Body, buf)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Fatalf("status %d", resp.StatusCode)
						}
					}
				})
			}
		}
	}
}

func itoa(n int) string {
	if n == 16 {
		return "16"
	}
	return "1024"
}
