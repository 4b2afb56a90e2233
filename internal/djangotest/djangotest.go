// Package djangotest starts a real Django admin for the proxy's end-to-end
// tests: a throwaway project in a temporary directory, migrated, with a
// superuser, served by a small threaded WSGI server on a loopback port.
//
//	dj := djangotest.Start(t) // skips without Python/Django, fails under CI=true
//	// dj.URL is http://127.0.0.1:port; sign in as dj.User / dj.Password
//
// It uses Debian's python3-django (apt-get install -y python3-django),
// found as the first of python3 and /usr/bin/python3 that imports django.
package djangotest

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Install tells how to get Django.
const Install = "apt-get install -y python3-django"

// A Django is a running Django admin.
type Django struct {
	// URL is the server's address, such as http://127.0.0.1:43121.
	URL *url.URL
	// User and Password are the superuser's.
	User, Password string
	// Dir is the project's directory.
	Dir    string
	python string
}

// settingsTail is appended to the generated settings.py.
const settingsTail = `
ALLOWED_HOSTS = ["*"]
DEBUG = True
USE_X_FORWARDED_HOST = True
`

// urlsPy adds a front page that says who Django thinks the visitor is.
const urlsPy = `from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

def front(request):
    who = request.user.get_username() if request.user.is_authenticated else "anonymous"
    request.session["visits"] = request.session.get("visits", 0) + 1 if request.user.is_authenticated else 0
    return HttpResponse("<!doctype html><html><head><title>Front</title></head><body><h1>Front page</h1><p id=who>" + who + "</p></body></html>")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", front),
]
`

// servePy serves the project with a threaded wsgiref server, static files
// included, and prints its port.
const servePy = `import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_proj.settings")
from django.core.wsgi import get_wsgi_application
from django.contrib.staticfiles.handlers import StaticFilesHandler
from wsgiref.simple_server import make_server, WSGIServer, WSGIRequestHandler
from socketserver import ThreadingMixIn
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass
app = StaticFilesHandler(get_wsgi_application())
srv = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=Quiet)
print(srv.server_port, flush=True)
srv.serve_forever()
`

// Python returns a Python that imports django, or "".
func Python() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import django").Run() == nil {
			return py
		}
	}
	return ""
}

// Start creates, migrates and serves a Django project for t; it is
// stopped when t ends. Without Django it skips t, or fails it when CI=true.
func Start(t testing.TB) *Django {
	t.Helper()
	py := Python()
	if py == "" {
		msg := "end-to-end tests need Python 3 with Django: " + Install
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: not skipping)")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	d := &Django{Dir: dir, User: "admin", Password: "correct-horse-battery", python: py}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(py, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DJANGO_SUPERUSER_PASSWORD="+d.Password, "DJANGO_SETTINGS_MODULE=site_proj.settings", "PYTHONPATH="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("django: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("-m", "django", "startproject", "site_proj", dir)
	settings := filepath.Join(dir, "site_proj", "settings.py")
	f, err := os.OpenFile(settings, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(settingsTail)
	f.Close()
	must(t, os.WriteFile(filepath.Join(dir, "site_proj", "urls.py"), []byte(urlsPy), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "serve.py"), []byte(servePy), 0o644))
	run("manage.py", "migrate", "--noinput", "-v", "0")
	run("manage.py", "createsuperuser", "--noinput", "--username", d.User, "--email", "admin@example.com")

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, "serve.py")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { cancel(); cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			port <- strings.TrimSpace(s.Text())
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok || p == "" {
			t.Fatal("django: the server printed no port")
		}
		d.URL = &url.URL{Scheme: "http", Host: "127.0.0.1:" + p}
	case <-time.After(60 * time.Second):
		t.Fatal("django: the server did not start within 60 s")
	}
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("django: %w", err))
	}
}
