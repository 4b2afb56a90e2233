package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoDir is the repository's root, two levels up.
func repoDir(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestRepository checks the repository as the release tool reads it: one
// module per go.work line, each with the MIT licence, requiring the
// others at one release version without replace directives, and go.work
// finding that version of each in its directory.
func TestRepository(t *testing.T) {
	root := repoDir(t)
	mods, err := findModules(root)
	if err != nil {
		t.Fatal(err)
	}
	// The modules users import, and one for the commands: a new module
	// is a decision, made here as well as in go.work.
	want := []string{"", "metrics", "mysqlstore", "oidc", "pgstore", "redisstore", "sqlitestore", "cmd"}
	var got []string
	for _, m := range mods {
		got = append(got, strings.TrimPrefix(strings.TrimPrefix(m.Path, rootPath), "/"))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got modules %q, want %q (the library first)", got, want)
	}
	if err := checkLicences(root, mods); err != nil {
		t.Error(err)
	}
	current, err := currentVersion(root, mods)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkReleaseVersion(current); err != nil {
		t.Errorf("the modules require each other at %s: %v", current, err)
	}
	if err := syncWork(root, mods, current, false); err != nil {
		t.Error(err)
	}
}

func TestSetVersions(t *testing.T) {
	in := `module github.com/gologout/logout/cmd

go 1.26.0

require github.com/gologout/logout v0.1.0

require (
	github.com/gologout/logout/sqlitestore v0.1.0
	github.com/gologout/logoutx v1.0.0
	github.com/other/mod v0.1.0
	github.com/gologout/logout/pgstore/pgtest v0.1.0 // indirect
)
`
	want := strings.NewReplacer(
		"require github.com/gologout/logout v0.1.0", "require github.com/gologout/logout v0.2.0",
		"sqlitestore v0.1.0", "sqlitestore v0.2.0",
		"pgtest v0.1.0", "pgtest v0.2.0").Replace(in)
	if got := string(setVersions([]byte(in), "v0.2.0")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSortModules(t *testing.T) {
	mods, err := sortModules([]mod{
		{Path: rootPath + "/cmd", Deps: []string{rootPath + "/backend", rootPath}},
		{Path: rootPath + "/backend", Deps: []string{rootPath}},
		{Path: rootPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mods {
		got = append(got, m.Path)
	}
	if want := rootPath + " " + rootPath + "/backend " + rootPath + "/cmd"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := sortModules([]mod{{Path: "a", Deps: []string{"b"}}, {Path: "b", Deps: []string{"a"}}}); err == nil {
		t.Error("got no error for a cycle")
	}
	if _, err := sortModules([]mod{{Path: "a", Deps: []string{"c"}}}); err == nil {
		t.Error("got no error for a module outside go.work")
	}
}

func TestCurrentVersion(t *testing.T) {
	for _, tc := range []struct {
		name, sub, want, err string
	}{
		{"one version", "require github.com/gologout/logout v0.3.0\n", "v0.3.0", ""},
		{"no requirement", "", "", ""},
		{"replace", "require github.com/gologout/logout v0.3.0\nreplace github.com/gologout/logout => ../\n", "", "replace"},
		{"placeholder", "require github.com/gologout/logout v0.0.0-00010101000000-000000000000\n", "", "release"},
		{"two versions", "require github.com/gologout/logout v0.2.0\n", "", "one version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "go.mod", "module "+rootPath+"\n\ngo 1.25.0\n")
			write(t, root, "a/go.mod", "module "+rootPath+"/a\n\ngo 1.25.0\n\nrequire github.com/gologout/logout v0.3.0\n")
			write(t, root, "b/go.mod", "module "+rootPath+"/b\n\ngo 1.25.0\n\n"+tc.sub)
			mods := []mod{{Path: rootPath}, {Path: rootPath + "/a", Dir: "a"}, {Path: rootPath + "/b", Dir: "b"}}
			if tc.sub == "" {
				mods = mods[:1]
			}
			got, err := currentVersion(root, mods)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %q, %v; want an error about %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSyncWork(t *testing.T) {
	root := t.TempDir()
	write(t, root, "go.work", "go 1.26.0\n\nuse (\n\t.\n\t./a\n)\n\nreplace github.com/gologout/logout v0.1.0 => .\n")
	mods := []mod{{Path: rootPath}, {Path: rootPath + "/a", Dir: "a", Deps: []string{rootPath}}}
	if err := syncWork(root, mods, "v0.1.0", false); err != nil {
		t.Errorf("v0.1.0: %v", err)
	}
	if err := syncWork(root, mods, "v0.2.0", false); err == nil || !strings.Contains(err.Error(), "replace github.com/gologout/logout v0.2.0 => .") {
		t.Errorf("v0.2.0: got %v, want the line to add", err)
	}
	if err := syncWork(root, mods, "v0.2.0", true); err != nil {
		t.Fatal(err)
	}
	if err := syncWork(root, mods, "v0.2.0", false); err != nil {
		t.Errorf("after writing v0.2.0: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "go.work"))
	if strings.Contains(string(b), "v0.1.0") {
		t.Errorf("go.work still names v0.1.0:\n%s", b)
	}
}

func TestSum(t *testing.T) {
	in := "github.com/gologout/logout v0.1.0 h1:a=\ngithub.com/z/z v1.0.0/go.mod h1:z=\ngithub.com/a/a v1.0.0 h1:b=\n"
	mine, others := splitSum([]byte(in))
	if len(mine) != 1 || len(others) != 2 {
		t.Fatalf("got %q and %q", mine, others)
	}
	want := "github.com/a/a v1.0.0 h1:b=\ngithub.com/gologout/logout v0.1.0 h1:a=\ngithub.com/z/z v1.0.0/go.mod h1:z=\n"
	if got := string(joinSum(append(others, mine...))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Versions sort as the go command sorts them: v1.3.0 before v1.11.1,
	// a version's go.mod line after its own.
	in = "github.com/s/t v1.11.1/go.mod h1:d=\ngithub.com/s/t v1.11.1 h1:c=\ngithub.com/s/t v1.3.0/go.mod h1:b=\ngithub.com/s/t v1.7.0/go.mod h1:a=\n"
	want = "github.com/s/t v1.3.0/go.mod h1:b=\ngithub.com/s/t v1.7.0/go.mod h1:a=\ngithub.com/s/t v1.11.1 h1:c=\ngithub.com/s/t v1.11.1/go.mod h1:d=\n"
	if got := string(joinSum(strings.Split(strings.TrimSpace(in), "\n"))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCheckReleaseVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"v0.1.0": true, "v1.2.3": true, "v0.2.0-rc.1": true,
		"0.1.0": false, "v0.1": false, "v2.0.0": false, "v0.1.0+meta": false,
		"v0.0.0-20261204120000-0123456789ab": false,
	} {
		if err := checkReleaseVersion(v); (err == nil) != ok {
			t.Errorf("%s: got %v, want ok %v", v, err, ok)
		}
	}
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIsCommand checks which main packages a release ships: the commands
// right under cmd, never the examples beside them.
func TestIsCommand(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{rootPath + "/cmd/logout-proxy", true},
		{rootPath + "/cmd/backend", true},
		{rootPath + "/cmd/examples/nethttp", false},
		{rootPath + "/cmd/internal/release", false},
		{rootPath + "/cmd", false},
		{rootPath + "/examples/nethttp", false},
	} {
		if got := isCommand(tc.path); got != tc.want {
			t.Errorf("isCommand(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
