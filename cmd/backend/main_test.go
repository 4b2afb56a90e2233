package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, getenv(nil), &out, &errOut); err != nil {
		t.Fatalf("run --help: %v", err)
	}
	for _, s := range []string{"Usage: backend", "-addr", "LOGOUT_ADDR", "127.0.0.1:8080", "-data", "LOGOUT_DATA", "./data",
		"-prefix", "/backend", "-store", "redis://", "postgres://", "mysql://", "-tls-cert", "-tls-key", "LOGOUT_ADMIN_USER", "LOGOUT_ADMIN_PASSWORD",
		"-trusted-proxy", "LOGOUT_TRUSTED_PROXY"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("help wrote to stderr: %s", errOut.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, getenv(nil), &out, &errOut); err != nil {
		t.Fatalf("run --version: %v", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "backend ") || !strings.Contains(got, " built with go1.") || errOut.Len() != 0 {
		t.Errorf("got %q and %q on stderr, want the version line alone", got, errOut.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"unknown flag", []string{"--nope"}, true, "flag provided but not defined"},
		{"missing value", []string{"--addr"}, true, "flag needs an argument"},
		{"argument", []string{"serve"}, true, `unexpected argument "serve"`},
		{"cert without key", []string{"--tls-cert", "cert.pem"}, true, "go together"},
		{"log format", []string{"--log-format", "xml"}, true, "want text or json"},
		{"log level", []string{"--log-level", "loud"}, true, "--log-level"},
		{"session address", []string{"--session-address", "masked"}, true, "--session-address \"masked\": want full, truncated or none"},
		{"unknown store", []string{"--store", "mongodb://db", "--data", "DIR"}, false, `unknown store "mongodb://db"`},
		{"MySQL store without a database", []string{"--store", "mysql://db", "--data", "DIR"}, false, "want mysql://user:password@host:port/database"},
		{"bad prefix", []string{"--prefix", "/a b", "--data", "DIR"}, false, "prefix"},
		{"bad address", []string{"--addr", "127.0.0.1:99999", "--data", "DIR"}, false, "listen"},
		{"trusted proxy by name", []string{"--trusted-proxy", "proxy.local"}, true, `--trusted-proxy "proxy.local"`},
		{"trusted proxy with host bits", []string{"--trusted-proxy", "10.0.0.1/8"}, true, "did you mean 10.0.0.0/8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, a := range tt.args {
				if a == "DIR" {
					tt.args[i] = dir
				}
			}
			var out, errOut bytes.Buffer
			err := run(t.Context(), tt.args, getenv(nil), &out, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errUsage) != tt.usage {
				t.Errorf("usage error: got %v, want %v", errors.Is(err, errUsage), tt.usage)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error: got %q, want it to mention %q", err, tt.want)
			}
			// A failed start creates no users whose passwords nobody saw.
			if _, err := os.Stat(filepath.Join(dir, "users.db")); err == nil {
				t.Error("users.db was created")
			}
		})
	}
}

func TestTrustedProxyFlag(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  string // LOGOUT_TRUSTED_PROXY
		want string
	}{
		{"none", nil, "", "[]"},
		{"address", []string{"--trusted-proxy", "192.0.2.7"}, "", "[192.0.2.7/32]"},
		{"IPv6 network", []string{"--trusted-proxy", "2001:db8::/32"}, "", "[2001:db8::/32]"},
		{"repeated and comma-separated", []string{"--trusted-proxy", "10.0.0.0/8, 192.0.2.7", "--trusted-proxy=::1"}, "",
			"[10.0.0.0/8 192.0.2.7/32 ::1/128]"},
		{"environment", nil, "10.0.0.0/8,172.16.0.0/12", "[10.0.0.0/8 172.16.0.0/12]"},
		{"command line wins", []string{"--trusted-proxy", "192.0.2.7"}, "10.0.0.0/8", "[192.0.2.7/32]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			o, _, err := parse(tt.args, getenv(map[string]string{"LOGOUT_TRUSTED_PROXY": tt.env}), &out, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(o.trustedProxies); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	var out, errOut bytes.Buffer
	if _, _, err := parse(nil, getenv(map[string]string{"LOGOUT_TRUSTED_PROXY": "nope"}), &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("LOGOUT_TRUSTED_PROXY=nope: got %v, want a usage error", err)
	}
}

// TestRedisRefused starts on a Redis that refuses connections: the start
// fails at once, without go-redis's default retries and dial attempts
// (about two seconds).
func TestRedisRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now: connections are refused
	var out, errOut bytes.Buffer
	start := time.Now()
	err = run(t.Context(), []string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--store", "redis://" + addr + "/0"}, getenv(nil), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "redis store") {
		t.Fatalf("got %v, want a redis store error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("failing on a refused Redis took %v, want under 1s", d)
	}
}

// TestRun starts the backend on a free port, signs in over real HTTP and
// shuts it down by cancelling ctx.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	env := map[string]string{
		"LOGOUT_ADDR": "127.0.0.1:0", "LOGOUT_DATA": dir,
		"LOGOUT_ADMIN_USER": "root", "LOGOUT_ADMIN_PASSWORD": "root-password-1",
	}
	go func() {
		done <- run(ctx, []string{"--log-format", "json"}, getenv(env), pw, &stderr)
		pw.Close()
	}()

	var base string
	var printed []string
	deadline := time.After(30 * time.Second)
	for base == "" || len(printed) < 6 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("run ended early: %v\n%s", <-done, stderr.String())
			}
			printed = append(printed, l)
			if u, ok := strings.CutPrefix(l, "listening on "); ok {
				base = u
			}
		case <-deadline:
			t.Fatalf("no address printed; got %q", printed)
		}
	}
	out := strings.Join(printed, "\n")
	for _, s := range []string{"Sign in at " + base + "/backend/auth/signin", "user root", "root-password-1", "user editor"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(base) {
		t.Fatalf("address: %q", base)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.Get(base + "/backend/auth/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if tok == nil {
		t.Fatalf("no token in sign-in page:\n%s", page)
	}
	res, err = c.PostForm(base+"/backend/auth/signin", url.Values{
		"csrf_token": {string(tok[1])}, "username": {"root"}, "password": {"root-password-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/backend" || !strings.Contains(string(body), "<h1>Dashboard</h1>") {
		t.Fatalf("after sign-in: %d at %s\n%s", res.StatusCode, res.Request.URL, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(stderr.String(), `"msg":"backend: stopped"`) {
		t.Errorf("no structured shutdown log:\n%s", stderr.String())
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
