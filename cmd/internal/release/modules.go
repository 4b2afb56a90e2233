package main

import (
	"cmp"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// rootPath is the module path of the library, at the repository's root;
// every other module's path is rootPath + "/" + its directory.
const rootPath = "github.com/gologout/logout"

// isCommand reports whether importPath is one of the commands a release
// ships, a main package right under cmd (…/cmd/logout-proxy), rather than
// an example (…/cmd/examples/nethttp) or a tool of the repository's own.
func isCommand(importPath string) bool {
	name, ok := strings.CutPrefix(importPath, rootPath+"/cmd/")
	return ok && name != "" && !strings.Contains(name, "/")
}

// A mod is one module of the repository.
type mod struct {
	Path string   // module path, such as github.com/gologout/logout/sqlitestore
	Dir  string   // slash-separated directory below the root; "" for the root
	Deps []string // paths of the repository's modules it requires
}

// TagPrefix is what the module's tags start with: "" for the root,
// "sqlitestore/" for …/sqlitestore, as the go command expects of a
// module in a subdirectory.
func (m mod) TagPrefix() string {
	if m.Dir == "" {
		return ""
	}
	return m.Dir + "/"
}

// findModules returns the modules that root's go.work uses, each
// module before those that require it. A module's path must be rootPath
// followed by its directory, so that its tags name it.
func findModules(root string) ([]mod, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork("go.work", b, nil)
	if err != nil {
		return nil, err
	}
	var mods []mod
	for _, u := range wf.Use {
		dir := path.Clean(filepath.ToSlash(u.Path))
		if dir == "." {
			dir = ""
		}
		if strings.HasPrefix(dir, "../") || path.IsAbs(dir) {
			return nil, fmt.Errorf("go.work: %s is outside the repository", u.Path)
		}
		gomod := filepath.Join(root, filepath.FromSlash(dir), "go.mod")
		b, err := os.ReadFile(gomod)
		if err != nil {
			return nil, err
		}
		f, err := modfile.ParseLax(gomod, b, nil)
		if err != nil {
			return nil, err
		}
		want := rootPath
		if dir != "" {
			want += "/" + dir
		}
		if f.Module == nil || f.Module.Mod.Path != want {
			return nil, fmt.Errorf("%s: module path must be %s, so that its tags (%s…) name it", gomod, want, mod{Dir: dir}.TagPrefix()+"v")
		}
		m := mod{Path: want, Dir: dir}
		for _, r := range f.Require {
			if isOurs(r.Mod.Path) {
				m.Deps = append(m.Deps, r.Mod.Path)
			}
		}
		mods = append(mods, m)
	}
	return sortModules(mods)
}

// isOurs reports whether the module path is the repository's.
func isOurs(p string) bool { return p == rootPath || strings.HasPrefix(p, rootPath+"/") }

// sortModules orders mods so that each comes after those it requires,
// and otherwise by path.
func sortModules(mods []mod) ([]mod, error) {
	slices.SortFunc(mods, func(a, b mod) int { return cmp.Compare(a.Path, b.Path) })
	byPath := make(map[string]mod, len(mods))
	for _, m := range mods {
		byPath[m.Path] = m
	}
	var out []mod
	state := make(map[string]int) // 1: visiting, 2: done
	var visit func(m mod, from string) error
	visit = func(m mod, from string) error {
		switch state[m.Path] {
		case 1:
			return fmt.Errorf("modules require each other in a cycle through %s", m.Path)
		case 2:
			return nil
		}
		state[m.Path] = 1
		for _, d := range m.Deps {
			dm, ok := byPath[d]
			if !ok {
				return fmt.Errorf("%s requires %s, which go.work does not use", m.Path, d)
			}
			if err := visit(dm, m.Path); err != nil {
				return err
			}
		}
		state[m.Path] = 2
		out = append(out, m)
		return nil
	}
	for _, m := range mods {
		if err := visit(m, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ourRequirement matches a requirement of one of the repository's
// modules in a go.mod file, with its version.
var ourRequirement = regexp.MustCompile(`(?m)^(\s*(?:require\s+)?` + regexp.QuoteMeta(rootPath) + `(?:/[^\s]+)?)\s+(v[^\s]+)`)

// setVersions returns go.mod content with every requirement of the
// repository's modules set to version.
func setVersions(gomod []byte, version string) []byte {
	return ourRequirement.ReplaceAll(gomod, []byte("${1} "+version))
}

// currentVersion returns the one version at which the modules in the
// tree at root require each other ("" if none does), and an error if
// they name several, use replace directives or placeholder versions.
func currentVersion(root string, mods []mod) (string, error) {
	var version, first string
	for _, m := range mods {
		gomod := filepath.Join(root, filepath.FromSlash(m.Dir), "go.mod")
		b, err := os.ReadFile(gomod)
		if err != nil {
			return "", err
		}
		f, err := modfile.Parse(gomod, b, nil)
		if err != nil {
			return "", err
		}
		for _, r := range f.Replace {
			return "", fmt.Errorf("%s: replace %s: no module may replace another, or `go install …@version` refuses it (go.work joins the modules while you work)", rel(root, gomod), r.Old.Path)
		}
		for _, r := range f.Require {
			if !isOurs(r.Mod.Path) {
				continue
			}
			v := r.Mod.Version
			if module.IsPseudoVersion(v) {
				return "", fmt.Errorf("%s: requires %s %s: want the version of a release, such as v0.1.0", rel(root, gomod), r.Mod.Path, v)
			}
			if version == "" {
				version, first = v, rel(root, gomod)
			} else if v != version {
				return "", fmt.Errorf("%s requires %s %s, but %s requires the repository's modules at %s: every module must require the others at one version", rel(root, gomod), r.Mod.Path, v, first, version)
			}
		}
	}
	return version, nil
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}

// syncWork checks that go.work replaces each module that another
// requires, at version, by its directory, so that the workspace builds
// without that version published; with write, it rewrites go.work so.
func syncWork(root string, mods []mod, version string, write bool) error {
	name := filepath.Join(root, "go.work")
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(name, b, nil)
	if err != nil {
		return err
	}
	required := make(map[string]bool)
	for _, m := range mods {
		for _, d := range m.Deps {
			required[d] = true
		}
	}
	have := make(map[string]*modfile.Replace)
	for _, r := range wf.Replace {
		if isOurs(r.Old.Path) {
			have[r.Old.Path] = r
		}
	}
	var wrong []string
	for _, m := range mods {
		dir := "./" + m.Dir
		if m.Dir == "" {
			dir = "."
		}
		r := have[m.Path]
		if version == "" || (r == nil && !required[m.Path]) {
			continue
		}
		if r == nil || r.Old.Version != version || path.Clean(r.New.Path) != path.Clean(dir) || r.New.Version != "" {
			wrong = append(wrong, fmt.Sprintf("%s %s => %s", m.Path, version, dir))
			if write {
				if r != nil {
					if err := wf.DropReplace(r.Old.Path, r.Old.Version); err != nil {
						return err
					}
				}
				if err := wf.AddReplace(m.Path, version, dir, ""); err != nil {
					return err
				}
			}
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	if !write {
		return fmt.Errorf("go.work: want the lines\n\treplace %s\n(the modules require each other at %s, which the workspace must find in their directories)", strings.Join(wrong, "\n\treplace "), version)
	}
	wf.SortBlocks()
	wf.Cleanup()
	return os.WriteFile(name, modfile.Format(wf.Syntax), 0o644)
}
