// Package paneltest starts real admin panels from Debian's packages for
// logout-proxy's end-to-end tests: WordPress and phpMyAdmin, each served by
// PHP's built-in server on a free loopback port, with a MariaDB database
// and user of its own that are dropped when the test ends.
//
//	wp := paneltest.StartWordPress(t) // skips without the packages, fails under CI=true
//	// start the proxy in front of wp.URL, then:
//	wp.Install(t, proxyURL) // WordPress's site address is the proxy's
//	// sign in as wp.User / wp.Password
//
//	pma := paneltest.StartPhpMyAdmin(t)
//	// sign in as pma.User / pma.Password; pma.Database holds a table
//
// Nothing outside the test's temporary directory is changed: each panel
// is served from a directory of links to Debian's files
// (/usr/share/wordpress, /usr/share/phpmyadmin) with a configuration of
// its own in place of Debian's, which reads /etc; a small router script
// tells the panel where that directory is (WordPress's ABSPATH,
// phpMyAdmin's ROOT_PATH).
//
// # Environment
//
// The packages are Debian's wordpress, wordpress-theme-twentytwentythree,
// phpmyadmin, php-cli and php-mysql (see [Install]; scripts/test.sh
// installs them when it runs as root). MariaDB or MySQL is reached as
// root without a password on 127.0.0.1:3306 with the mariadb (or mysql)
// client. Without a package, or when the server does not answer, the
// test is skipped with a how-to; with CI=true in the environment it fails
// instead.
package paneltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout/internal/servicetest"
)

// Install tells how to get the panels and PHP.
const Install = "apt-get install -y --no-install-recommends wordpress wordpress-theme-twentytwentythree phpmyadmin php-cli php-mysql"

// DBHost and DBPort are where the MariaDB (or MySQL) server is reached,
// as root without a password.
const (
	DBHost = "127.0.0.1"
	DBPort = "3306"
)

// workers is how many PHP processes serve a panel at once
// (PHP_CLI_SERVER_WORKERS): a browser loads a page's files in parallel.
const workers = 4

// startTimeout bounds the start of PHP's server.
const startTimeout = 30 * time.Second

// need skips (or under CI=true fails) t unless every path exists.
func need(t testing.TB, what string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			servicetest.Unavailable(t, fmt.Sprintf("%s needs %s (%v): %s", what, p, err, Install))
		}
	}
	if _, err := exec.LookPath("php"); err != nil {
		servicetest.Unavailable(t, fmt.Sprintf("%s needs PHP's command line: %s", what, Install))
	}
}

// A database is a MariaDB database and the user who owns it, both named
// for one test.
type database struct {
	Name, User, Password string
}

// client returns the path of the mariadb (or mysql) command, or "".
func client() string {
	for _, name := range []string{"mariadb", "mysql"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// sql runs statements as root on the server; database may be "".
func sql(ctx context.Context, db, statements string) ([]byte, error) {
	c := client()
	if c == "" {
		return nil, fmt.Errorf("no mariadb or mysql client on PATH")
	}
	args := []string{"--protocol=tcp", "-h", DBHost, "-P", DBPort, "-u", "root", "--batch", "--skip-column-names"}
	if db != "" {
		args = append(args, "-D", db)
	}
	cmd := exec.CommandContext(ctx, c, append(args, "-e", statements)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", filepath.Base(c), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// newDatabase creates a database of the test's own, with a user who may
// sign in with a password from loopback and owns it, and drops both when
// the test ends. kind names them ("wp", "pma").
func newDatabase(t testing.TB, kind string) database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sql(ctx, "", "SELECT 1"); err != nil {
		servicetest.Unavailable(t, fmt.Sprintf("the panels need MariaDB as root without a password on %s:%s: %v\n"+
			"install it with apt-get install -y mariadb-server mariadb-client, and start it with "+
			"start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd", DBHost, DBPort, err))
	}
	id := strings.ToLower(rand.Text()[:10])
	d := database{Name: "logout_" + kind + "_" + id, User: "logout_" + kind + "_" + id, Password: rand.Text()}
	var create, drop strings.Builder
	fmt.Fprintf(&create, "CREATE DATABASE `%s` CHARACTER SET utf8mb4;", d.Name)
	fmt.Fprintf(&drop, "DROP DATABASE IF EXISTS `%s`;", d.Name)
	// Over TCP from 127.0.0.1 the server sees the client as 127.0.0.1,
	// or as localhost when it resolves names.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		fmt.Fprintf(&create, "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; GRANT ALL ON `%s`.* TO '%s'@'%s';",
			d.User, host, d.Password, d.Name, d.User, host)
		fmt.Fprintf(&drop, "DROP USER IF EXISTS '%s'@'%s';", d.User, host)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := sql(ctx, "", drop.String()); err != nil {
			t.Errorf("paneltest: drop %s: %v", d.Name, err)
		}
	})
	if _, err := sql(ctx, "", create.String()); err != nil {
		t.Fatalf("paneltest: create %s: %v", d.Name, err)
	}
	return d
}

// linkTree fills dir with symbolic links to the entries of src, but for
// those named in skip.
func linkTree(t testing.TB, src, dir string, skip ...string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	for _, e := range entries {
		if slices.Contains(skip, e.Name()) {
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatalf("paneltest: %v", err)
		}
	}
}

// routerPHP is the built-in server's router: it defines the constant
// that tells the panel its directory (%[1]s = %[2]s, PHP strings), then
// lets the server serve files as they are and sends every other path to
// index.php (WordPress's /wp-json/).
const routerPHP = `<?php
define(%[1]s, %[2]s);
$path = urldecode((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$file = %[2]s . ltrim($path, '/');
if (is_file($file) || is_file(rtrim($file, '/') . '/index.php')) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = '/index.php';
require %[2]s . 'index.php';
`

// phpIni are the settings of every PHP process: errors go to the log,
// never into pages, and sessions stay in the test's directory.
func phpIni(dir string) []string {
	return []string{"-d", "display_errors=0", "-d", "log_errors=1", "-d", "error_log=",
		"-d", "session.save_path=" + dir, "-d", "memory_limit=256M"}
}

// serve starts PHP's built-in server on a free loopback port for the
// directory root, with the router that defines constant as root + "/",
// and stops it (with its
// workers) when the test ends. It returns the server's address. PHP's
// log is shown when the test fails.
func serve(t testing.TB, root, constant, state string) *url.URL {
	t.Helper()
	router := filepath.Join(state, "router.php")
	if err := os.WriteFile(router, fmt.Appendf(nil, routerPHP, phpString(constant), phpString(root+"/")), 0o644); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	args := append(phpIni(state), "-q", "-S", "127.0.0.1:0", "-t", root, router)
	cmd := exec.CommandContext(ctx, "php", args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PHP_CLI_SERVER_WORKERS=%d", workers))
	cmd.Dir = state
	log := &phpLog{port: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 5 * time.Second
	ownGroup(cmd) // the workers are stopped with the server
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("paneltest: start php: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("PHP's log of %s:\n%s", root, log.tail())
		}
	})
	select {
	case port := <-log.port:
		return &url.URL{Scheme: "http", Host: "127.0.0.1:" + port}
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("paneltest: PHP's server ended before it listened (%v):\n%s", err, log.tail())
	case <-time.After(startTimeout):
		t.Fatalf("paneltest: PHP's server did not start within %v:\n%s", startTimeout, log.tail())
	}
	return nil
}

// started is the line PHP's server prints when it listens.
var started = regexp.MustCompile(`Development Server \(http://127\.0\.0\.1:(\d+)\) started`)

// phpLog keeps the last logLimit bytes of PHP's output and sends the
// port of the first "started" line.
type phpLog struct {
	mu   sync.Mutex
	buf  []byte
	port chan string
	sent bool
}

const logLimit = 64 << 10

func (l *phpLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	if !l.sent {
		if m := started.FindSubmatch(l.buf); m != nil {
			l.sent = true
			l.port <- string(m[1])
		}
	}
	if len(l.buf) > logLimit {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-logLimit:]...)
	}
	return len(b), nil
}

func (l *phpLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// runPHP writes a PHP script to state/name and runs it with the test's
// settings; it fails the test when the script fails.
func runPHP(t testing.TB, state, name, script string) []byte {
	t.Helper()
	path := filepath.Join(state, name)
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "php", append(phpIni(state), path)...)
	cmd.Dir = state
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paneltest: php %s: %v\n%s%s", filepath.Base(path), err, out, stderr.Bytes())
	}
	return out
}

// phpString quotes s as a PHP single-quoted string.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
