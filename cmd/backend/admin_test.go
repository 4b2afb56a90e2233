package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/pgstore/pgtest"
)

// runCmd runs the command line args (with --data dir and, when not "",
// --store store) and returns its output and exit code.
func runCmd(t *testing.T, dir, store string, args ...string) (string, int) {
	t.Helper()
	args = append(args, "--data", dir)
	if store != "" {
		args = append(args, "--store", store)
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, getenv(nil), &out, &errOut)
	return out.String() + errOut.String(), serve.ExitCode(err)
}

func TestTokensCommand(t *testing.T) {
	dir := t.TempDir()
	out, code := runCmd(t, dir, "", "tokens", "create", "--name", "deploy", "--scope", "write", "--expires", "720h")
	if code != 0 || !regexp.MustCompile(`^lgo_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("create: %d %q", code, out)
	}
	if _, code := runCmd(t, dir, "", "tokens", "create", "--name", "reports", "--scope", "read"); code != 0 {
		t.Fatalf("create: %d", code)
	}
	out, code = runCmd(t, dir, "", "tokens", "list", "--json")
	var list []struct{ ID, Name, Scope string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 2 || list[0].Name != "deploy" || list[1].Scope != "read" {
		t.Fatalf("list: %d %v %s", code, err, out)
	}
	if out, code = runCmd(t, dir, "", "tokens", "list"); code != 0 || !strings.Contains(out, "deploy") || !strings.Contains(out, "never") {
		t.Errorf("list: %d %s", code, out)
	}
	if out, code = runCmd(t, dir, "", "tokens", "revoke", "deploy"); code != 0 || !strings.Contains(out, "revoked token deploy") {
		t.Errorf("revoke by name: %d %s", code, out)
	}
	if out, code = runCmd(t, dir, "", "tokens", "revoke", list[1].ID); code != 0 || !strings.Contains(out, "revoked token reports") {
		t.Errorf("revoke by ID: %d %s", code, out)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tokens", "revoke", "deploy"}, 1, `no such token: "deploy"`},
		{[]string{"tokens"}, 2, "want create, list or revoke"},
		{[]string{"tokens", "create", "--scope", "read"}, 2, "needs --name"},
		{[]string{"tokens", "create", "--name", "x", "--scope", "admin"}, 2, `--scope "admin"`},
		{[]string{"tokens", "create", "--name", "x", "--scope", "read", "--expires", "-1h"}, 2, "positive duration"},
		{[]string{"tokens", "list", "--name", "x"}, 2, "--name is for tokens create"},
		{[]string{"tokens", "revoke"}, 2, "needs the token's name or ID"},
	} {
		out, code := runCmd(t, dir, "", tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%q: %d %q, want %d and %q", tt.args, code, out, tt.code, tt.want)
		}
	}
	if _, code := runCmd(t, dir, "", "tokens", "create", "--name", "twice", "--scope", "read"); code != 0 {
		t.Fatal(code)
	}
	if out, code := runCmd(t, dir, "", "tokens", "create", "--name", "TWICE", "--scope", "read"); code != 1 || !strings.Contains(out, "exists") {
		t.Errorf("a name taken: %d %q", code, out)
	}
}

func TestSessionsCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sessions"}, 2, "want list or end"},
		{[]string{"sessions", "end"}, 2, "exactly one of session, user and all"},
		{[]string{"sessions", "end", "--user", "a", "--all"}, 2, "exactly one"},
		{[]string{"sessions", "end", "--all"}, 2, "add --yes"},
		{[]string{"sessions", "end", "--user", "a", "--reason", "idle"}, 2, `reason "idle"`},
		{[]string{"sessions", "end", "--user", "a", "--order", "newest"}, 2, "--order is for sessions list"},
		{[]string{"sessions", "list", "--order", "random"}, 2, `order "random"`},
		{[]string{"sessions", "list", "--all"}, 2, "--all is for sessions end"},
		{[]string{"sessions", "list", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"sessions", "list", "--store", "mongodb://x"}, 2, "--store"},
		{[]string{"sessions", "end", "--user", "nobody"}, 0, "0 sessions ended"},
		{[]string{"sessions", "list"}, 0, "0 sessions"},
		{[]string{"sessions", "--help"}, 0, "Usage: backend sessions list"},
	} {
		out, code := runCmd(t, dir, "", tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%q: %d %q, want %d and %q", tt.args, code, out, tt.code, tt.want)
		}
	}
}

// TestSessionsCommandSQLite and TestSessionsCommandPostgres run the
// backend, sign in, list the session and end it with the command, and
// watch the server's push stream tell the open page within a second.
func TestSessionsCommandSQLite(t *testing.T) {
	testSessionsCommand(t, "sqlite")
}

func TestSessionsCommandPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL")
	}
	testSessionsCommand(t, postgresDatabase(t))
}

// postgresDatabase creates a database of its own on the test server,
// dropped when the test ends, and returns its URL: the server and the
// command use the store's default schema, which no other test may share.
func postgresDatabase(t *testing.T) string {
	pool := pgtest.Postgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "logout_cmd_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	cfg := pool.Config().ConnConfig
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + name, RawQuery: "sslmode=disable"}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	return u.String()
}

func testSessionsCommand(t *testing.T, store string) {
	dir := t.TempDir()
	base := startServer(t, dir, store)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	signIn(t, c, base, "root", "root-password-1")
	editor := &http.Client{Timeout: 10 * time.Second}
	editor.Jar, _ = cookiejar.New(nil)
	signIn(t, editor, base, "editor", "editor-password-1")

	out, code := runCmd(t, dir, store, "sessions", "list", "--json", "--order", "newest")
	var list struct {
		Sessions []struct {
			ID        string `json:"id"`
			User      string `json:"user"`
			UserAgent string `json:"user_agent"`
		} `json:"sessions"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || list.Total != 2 || len(list.Sessions) != 2 || list.Sessions[0].User != "editor" ||
		!strings.HasPrefix(list.Sessions[1].UserAgent, "Go-http-client") {
		t.Fatalf("list: %d %v\n%s", code, err, out)
	}
	if out, code := runCmd(t, dir, store, "sessions", "list", "--user", "root"); code != 0 || !strings.Contains(out, "root") || strings.Contains(out, "editor") || !strings.Contains(out, "1 sessions") {
		t.Errorf("list --user: %d\n%s", code, out)
	}

	// The root's page listens to the push stream.
	req, _ := http.NewRequest("GET", base+"/backend/session/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream := &http.Client{Jar: jar}
	res, err := stream.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("events: %d", res.StatusCode)
	}
	events := make(chan string, 10)
	go func() {
		s := bufio.NewScanner(res.Body)
		for s.Scan() {
			if e, ok := strings.CutPrefix(s.Text(), "event: "); ok {
				events <- e
			}
		}
		close(events)
	}()
	if e := <-events; e != "status" {
		t.Fatalf("first event %q", e)
	}

	out, code = runCmd(t, dir, store, "sessions", "end", "--user", "root")
	if code != 0 || out != "1 session ended\n" {
		t.Fatalf("end: %d %q", code, out)
	}
	ended := time.Now()
	timeout := time.After(time.Second)
	for done := false; !done; {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream closed without an ended event")
			}
			done = e == "ended"
		case <-timeout:
			t.Fatal("the push stream did not tell of the end within a second")
		}
	}
	t.Logf("the push stream told of the end after %v", time.Since(ended))
	res2, err := c.Get(base + "/backend/session/status")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusUnauthorized {
		t.Errorf("status after the end: %d", res2.StatusCode)
	}
	// The editor's session goes on; the sign-out log has the end.
	if out, _ := runCmd(t, dir, store, "sessions", "list"); !strings.Contains(out, "editor") || !strings.Contains(out, "1 sessions") {
		t.Errorf("after the end:\n%s", out)
	}
	if out, _ := runCmd(t, dir, store, "export", "events", "--format", "json"); !strings.Contains(out, `"reason":"forced"`) {
		t.Errorf("sign-out log:\n%s", out)
	}
}

// startServer runs the backend on dir and store until the test ends and
// returns its URL.
func startServer(t *testing.T, dir, store string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := map[string]string{
		"LOGOUT_ADDR": "127.0.0.1:0", "LOGOUT_DATA": dir, "LOGOUT_STORE": store,
		"LOGOUT_ADMIN_USER": "root", "LOGOUT_ADMIN_PASSWORD": "root-password-1", "LOGOUT_EDITOR_PASSWORD": "editor-password-1",
	}
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--log-level", "warn"}, getenv(env), pw, &stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop")
		}
	})
	s := bufio.NewScanner(pr)
	for s.Scan() {
		if u, ok := strings.CutPrefix(s.Text(), "listening on "); ok {
			go io.Copy(io.Discard, pr)
			return u
		}
	}
	t.Fatalf("the server did not start: %v\n%s", <-done, stderr.String())
	return ""
}

func signIn(t *testing.T, c *http.Client, base, user, password string) {
	t.Helper()
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
	res, err = c.PostForm(base+"/backend/auth/signin", url.Values{"csrf_token": {string(tok[1])}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/backend" {
		t.Fatalf("sign in %s: %d at %s", user, res.StatusCode, res.Request.URL)
	}
}
