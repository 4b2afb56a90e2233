package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// tidyDiff compares the go.mod and go.sum that buildProxy left in tree
// with the repository's at root, apart from the versions at which the
// modules require each other and their go.sum lines: it returns the
// names of the files that differ. With fix, it writes tree's content
// into the repository instead, with the repository's version and go.sum
// lines of its own modules.
func tidyDiff(root, tree string, mods []mod, current string, fix bool) ([]string, error) {
	var differ []string
	for _, m := range mods {
		for _, name := range []string{"go.mod", "go.sum"} {
			repoFile := filepath.Join(root, filepath.FromSlash(m.Dir), name)
			treeFile := filepath.Join(tree, filepath.FromSlash(m.Dir), name)
			have, err := os.ReadFile(repoFile)
			if err != nil && !os.IsNotExist(err) {
				return nil, err
			}
			want, err := os.ReadFile(treeFile)
			if err != nil && !os.IsNotExist(err) {
				return nil, err
			}
			var same bool
			var fixed []byte
			if name == "go.mod" {
				v := current
				if v == "" {
					v = "v0.0.0"
				}
				norm := func(b []byte) string { return string(setVersions(b, "VERSION")) }
				same = norm(have) == norm(want)
				fixed = setVersions(want, v)
			} else {
				mine, others := splitSum(have)
				_, wantOthers := splitSum(want)
				// In the order that -fix writes: go mod tidy orders
				// versions as versions (v1.3.0 before v1.11.1).
				same = slices.Equal(joinSum(slices.Clone(others)), joinSum(slices.Clone(wantOthers)))
				fixed = joinSum(append(wantOthers, mine...))
			}
			if same {
				continue
			}
			differ = append(differ, rel(root, repoFile))
			if fix {
				if len(fixed) == 0 {
					err = os.Remove(repoFile)
				} else {
					err = os.WriteFile(repoFile, fixed, 0o644)
				}
				if err != nil && !os.IsNotExist(err) {
					return nil, err
				}
			}
		}
	}
	return differ, nil
}

// splitSum splits go.sum content into the lines of the repository's
// modules and the others.
func splitSum(b []byte) (mine, others []string) {
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		if f := strings.Fields(line); len(f) > 0 && isOurs(f[0]) {
			mine = append(mine, line)
		} else {
			others = append(others, line)
		}
	}
	return mine, others
}

// joinSum returns go.sum content of lines, sorted as the go command
// sorts them (module.Sort: by module path, then by semantic version, so
// that v1.3.0 comes before v1.11.1, a version's go.mod line after its
// own).
func joinSum(lines []string) []byte {
	slices.SortFunc(lines, func(a, b string) int {
		fa, fb := strings.Fields(a), strings.Fields(b)
		if len(fa) < 2 || len(fb) < 2 {
			return strings.Compare(a, b)
		}
		c := cmp.Compare(fa[0], fb[0])
		if c == 0 {
			c = compareSumVersions(fa[1], fb[1])
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	lines = slices.Compact(lines)
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// compareSumVersions compares two go.sum versions as module.Sort does:
// the semantic versions, then the suffix after a slash ("/go.mod").
func compareSumVersions(a, b string) int {
	va, fa, _ := strings.Cut(a, "/")
	vb, fb, _ := strings.Cut(b, "/")
	if va != vb {
		return semver.Compare(va, vb)
	}
	return cmp.Compare(fa, fb)
}

// A pkg is a package of one of the repository's modules.
type pkg struct {
	ImportPath string
	Name       string
	Module     struct{ Path string }
	GoFiles    []string
}

// installCheck proves, offline, what a user can do with the modules in
// the proxy at version: with GOPROXY naming only the proxy and then, for
// the modules of others, offline (this machine's module caches), a fresh
// module cache, and no go.work, it gets
// each module that has packages for others to import (each in a new
// module of its own) and builds a program importing them all, and
// installs every command (package main) outside internal directories.
func installCheck(ctx context.Context, w io.Writer, tmp string, px proxy, pkgs []pkg, mods []mod, version, offline string) error {
	gopath := filepath.Join(tmp, "gopath")
	env := goEnv("GOPROXY="+px.URL()+","+offline, "GOSUMDB=off", "GOMODCACHE="+filepath.Join(tmp, "modcache"),
		"GOPATH="+gopath, "GOBIN="+filepath.Join(gopath, "bin"), "CGO_ENABLED=0",
		"GOFLAGS=-mod=mod -modcacherw -trimpath")
	libs := map[string][]string{}
	var cmds []string
	for _, p := range pkgs {
		if len(p.GoFiles) == 0 || slices.Contains(strings.Split(p.ImportPath, "/"), "internal") {
			continue
		}
		if p.Name == "main" {
			cmds = append(cmds, p.ImportPath)
		} else {
			libs[p.Module.Path] = append(libs[p.Module.Path], p.ImportPath)
		}
	}
	for _, m := range mods {
		imports := libs[m.Path]
		if len(imports) == 0 {
			continue
		}
		dir := filepath.Join(tmp, "user", strings.ReplaceAll(cmpOr(m.Dir, "root"), "/", "-"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var src strings.Builder
		src.WriteString("package main\n\nimport (\n")
		for _, p := range imports {
			fmt.Fprintf(&src, "\t_ %q\n", p)
		}
		src.WriteString(")\n\nfunc main() {}\n")
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src.String()), 0o644); err != nil {
			return err
		}
		for _, args := range [][]string{{"mod", "init", "example.com/user"}, {"get", m.Path + "@" + version}, {"build", "-o", os.DevNull, "."}} {
			if _, err := command(ctx, dir, env, "go", args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "release: go get %s@%s, then built %s\n", m.Path, version, strings.Join(imports, ", "))
	}
	for _, c := range cmds {
		if _, err := command(ctx, tmp, env, "go", "install", c+"@"+version); err != nil {
			return err
		}
		if !isCommand(c) { // an example: it installs, and has no --version
			fmt.Fprintf(w, "release: go install %s@%s\n", c, version)
			continue
		}
		out, err := command(ctx, tmp, nil, filepath.Join(gopath, "bin", path.Base(c)), "--version")
		if err != nil {
			return err
		}
		if !strings.Contains(out, version) {
			return fmt.Errorf("%s --version printed %q, without the version %s", path.Base(c), out, version)
		}
		fmt.Fprintf(w, "release: go install %s@%s: %s\n", c, version, strings.TrimSpace(firstLine(out)))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// listPackages lists the packages of every module, as the workspace
// builds them.
func listPackages(ctx context.Context, root string, mods []mod) ([]pkg, error) {
	args := []string{"list", "-e", "-json=ImportPath,Name,Module,GoFiles"}
	for _, m := range mods {
		args = append(args, "./"+path.Join(m.Dir, "..."))
	}
	out, err := command(ctx, root, nil, "go", args...)
	if err != nil {
		return nil, err
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}
