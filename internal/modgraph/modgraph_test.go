// Package modgraph_test checks what a user's module graph gets from
// Logout: a program that imports the logout module and one store gets
// that store's database client and nothing else of ours or anyone's
// (no chromedp, pgx or go-redis that it does not use), and no module it
// imports asks for a Go release newer than the oldest supported one.
//
// Each case writes a throwaway user module that requires the local
// modules through replace directives, runs `go mod tidy` and `go list -m
// all` there as a user's go command would (GOWORK=off), and reads the
// result. It needs the go command and the module proxy (or a module cache
// that already holds the dependencies); it is skipped without the go
// command and under -short.
package modgraph_test

import (
	"bytes"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// oldestGo is the oldest supported Go release: no module that users import
// may declare a newer go directive, nor need dependencies that do.
const oldestGo = "go1.25"

const logoutPath = "github.com/gologout/logout"

// foreign lists the third-party modules that some part of the repository
// uses, by path prefix, with what brings them in.
var foreign = map[string]string{
	"github.com/chromedp/":          "browser tests",
	"github.com/jackc/":             "pgstore",
	"github.com/go-sql-driver/":     "mysqlstore",
	"github.com/redis/":             "redisstore",
	"modernc.org/":                  "sqlitestore",
	"golang.org/x/crypto":           "the reference backend (bcrypt)",
	"github.com/alexedwards/scs/":   "examples and bench",
	"github.com/go-chi/chi/":        "examples",
	"github.com/mattn/go-sqlite3":   "bench",
	"github.com/go-json-experiment": "chromedp",
	"github.com/prometheus/":        "metrics",
	"github.com/coreos/go-oidc/":    "oidc",
	"github.com/go-jose/":           "oidc",
}

// repoRoot returns the repository's root, where the logout module is.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(b, []byte("module "+logoutPath+"\n")) {
		t.Fatalf("%s is not the logout module's root (go.mod: %v)", root, err)
	}
	return root
}

// goDirective returns the go directive of the go.mod file at path, as a
// Go version ("go1.25.0"), or "" if there is none.
func goDirective(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			return "go" + f[1]
		}
	}
	return ""
}

// goCmd runs the go command in dir as a user's would: outside any
// workspace, free to update go.mod, with the local toolchain.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestUserModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: runs go mod tidy in throwaway modules")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot build a user's module graph")
	}
	root := repoRoot(t)
	for _, tc := range []struct {
		name    string
		modules []string // ours, besides logout, that the user requires
		imports []string // packages the user's program imports
		allowed []string // foreign prefixes the graph may hold
	}{
		{
			name:    "logout, widget and storetest need no other module",
			imports: []string{logoutPath, logoutPath + "/widget", logoutPath + "/storetest"},
		},
		{
			name:    "sqlitestore brings SQLite only",
			modules: []string{"sqlitestore"},
			imports: []string{logoutPath, logoutPath + "/sqlitestore"},
			allowed: []string{"modernc.org/"},
		},
		{
			name:    "redisstore brings go-redis only",
			modules: []string{"redisstore"},
			imports: []string{logoutPath, logoutPath + "/redisstore", logoutPath + "/redisstore/redistest"},
			allowed: []string{"github.com/redis/"},
		},
		{
			name:    "pgstore brings pgx only",
			modules: []string{"pgstore"},
			imports: []string{logoutPath, logoutPath + "/pgstore", logoutPath + "/pgstore/pgtest"},
			allowed: []string{"github.com/jackc/"},
		},
		{
			name:    "mysqlstore brings the MySQL driver only",
			modules: []string{"mysqlstore"},
			imports: []string{logoutPath, logoutPath + "/mysqlstore", logoutPath + "/mysqlstore/mysqltest"},
			allowed: []string{"github.com/go-sql-driver/"},
		},
		{
			name:    "oidc brings go-oidc, go-jose and oauth2 only",
			modules: []string{"oidc"},
			imports: []string{logoutPath, logoutPath + "/oidc"},
			allowed: []string{"github.com/coreos/go-oidc/", "github.com/go-jose/", "golang.org/x/oauth2"},
		},
		{
			name:    "metrics brings the Prometheus client only",
			modules: []string{"metrics"},
			imports: []string{logoutPath, logoutPath + "/metrics"},
			allowed: []string{"github.com/prometheus/"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range append([]string{""}, tc.modules...) {
				gomod := filepath.Join(root, m, "go.mod")
				if v := goDirective(t, gomod); v == "" || version.Compare(version.Lang(v), oldestGo) > 0 {
					t.Errorf("%s: go directive %q, want at most %s", gomod, v, oldestGo)
				}
			}

			dir := t.TempDir()
			var gomod, main strings.Builder
			fmt.Fprintf(&gomod, "module example.com/user\n\ngo %s\n\n", strings.TrimPrefix(oldestGo, "go")+".0")
			fmt.Fprintf(&gomod, "require %s v0.0.0-00010101000000-000000000000\n", logoutPath)
			fmt.Fprintf(&gomod, "replace %s => %s\n", logoutPath, root)
			for _, m := range tc.modules {
				fmt.Fprintf(&gomod, "require %s/%s v0.0.0-00010101000000-000000000000\n", logoutPath, m)
				fmt.Fprintf(&gomod, "replace %s/%s => %s\n", logoutPath, m, filepath.Join(root, m))
			}
			main.WriteString("package main\n\nimport (\n")
			for _, p := range tc.imports {
				fmt.Fprintf(&main, "\t_ %q\n", p)
			}
			main.WriteString(")\n\nfunc main() {}\n")
			for name, body := range map[string]string{"go.mod": gomod.String(), "main.go": main.String()} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o666); err != nil {
					t.Fatal(err)
				}
			}

			goCmd(t, dir, "mod", "tidy")
			if v := goDirective(t, filepath.Join(dir, "go.mod")); version.Compare(version.Lang(v), oldestGo) > 0 {
				t.Errorf("go mod tidy raised the user's go directive to %s: a dependency needs a Go newer than %s", v, oldestGo)
			}
			list := goCmd(t, dir, "list", "-m", "all")
			ours := []string{logoutPath}
			for _, m := range tc.modules {
				ours = append(ours, logoutPath+"/"+m)
			}
			for line := range strings.Lines(list) {
				f := strings.Fields(line)
				if len(f) == 0 || f[0] == "example.com/user" {
					continue
				}
				path := f[0]
				if strings.HasPrefix(path, logoutPath) {
					if !slices.Contains(ours, path) {
						t.Errorf("module graph holds %s, which the program does not import", path)
					}
					continue
				}
				if len(tc.modules) == 0 {
					t.Errorf("module graph holds %s: the logout module must need no other module", path)
					continue
				}
				for prefix, why := range foreign {
					if strings.HasPrefix(path, prefix) && !slices.ContainsFunc(tc.allowed, func(a string) bool { return strings.HasPrefix(path, a) }) {
						t.Errorf("module graph holds %s (used by %s), which the program does not import", path, why)
					}
				}
			}
			if t.Failed() {
				t.Logf("go list -m all:\n%s", list)
			}
		})
	}
}
