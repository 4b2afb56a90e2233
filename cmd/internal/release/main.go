// Command release checks, tags and builds a release of every module of
// the repository at one version. Run it from the repository's root:
//
//	go run ./cmd/internal/release check [-fix] [-version v0.0.1-test]
//	go run ./cmd/internal/release tag vX.Y.Z
//	go run ./cmd/internal/release build [-snapshot] [-platforms linux/amd64,…] [-out dist]
//
// check builds a file-system module proxy of every module that go.work
// uses, zipped at a test version from the files git tracks (or would
// add), as the Go module proxy would serve them once tagged. It checks
// that each module's go.mod and go.sum are tidy on their own, as a
// user's go command reads them (-fix writes what is missing), and then,
// with no network, that each library module can be fetched with go get
// alone and every command installed with go install …@version.
//
// tag does the same at the release's version on a clean work tree, then
// commits the modules' requirements of each other at that version (with
// their go.sum lines) as "release vX.Y.Z" and tags every module: vX.Y.Z,
// sqlitestore/vX.Y.Z, cmd/vX.Y.Z, …
//
// build builds the release's artefacts from the tagged commit (or, with
// -snapshot, from the work tree) and checks each: see build.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

const usage = `usage: go run ./cmd/internal/release check [-fix] [-version v0.0.1-test] [-keep]
       go run ./cmd/internal/release tag vX.Y.Z
       go run ./cmd/internal/release build [-snapshot] [-platforms os/arch,…] [-out dir]`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	switch args[0] {
	case "check":
		fs := flag.NewFlagSet("check", flag.ContinueOnError)
		fix := fs.Bool("fix", false, "write what `go mod tidy` adds to each module's go.mod and go.sum into the repository")
		version := fs.String("version", "v0.0.1-test", "the test `version` of the modules in the proxy")
		keep := fs.Bool("keep", false, "keep the temporary directory (the proxy, the copy, the module cache) and print its path")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return check(ctx, stdout, root, *version, *fix, *keep)
	case "tag":
		if len(args) != 2 {
			return errors.New(usage)
		}
		return tag(ctx, stdout, root, args[1])
	case "build":
		return build(ctx, stdout, root, args[1:])
	}
	return errors.New(usage)
}

// repoRoot returns the repository's root: the directory of go.work,
// where the library's go.mod is.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module "+rootPath+"\n") {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the repository (no go.work beside the module " + rootPath + " above the current directory)")
		}
		dir = parent
	}
}

// staged is a module proxy built from a copy of the repository.
type staged struct {
	tmp, tree string
	mods      []mod
	proxy     proxy
	current   string // the version at which the repository's modules require each other
	offline   string // GOPROXY entry of the module cache, for the modules of others
	goproxy   string // GOPROXY as the environment sets it
}

// stage copies the repository into a new temporary directory and builds
// the proxy of its modules at version. Remove s.tmp when done.
func stage(ctx context.Context, w io.Writer, root, version string) (s *staged, err error) {
	s = &staged{}
	if s.mods, err = findModules(root); err != nil {
		return nil, err
	}
	if s.current, err = currentVersion(root, s.mods); err != nil {
		return nil, err
	}
	if err := syncWork(root, s.mods, s.current, false); err != nil {
		return nil, err
	}
	if err := checkLicences(root, s.mods); err != nil {
		return nil, err
	}
	out, err := command(ctx, root, nil, "go", "env", "GOMODCACHE", "GOPROXY")
	if err != nil {
		return nil, err
	}
	env := strings.Split(strings.TrimSpace(out), "\n")
	if len(env) != 2 {
		return nil, fmt.Errorf("go env: unexpected output %q", out)
	}
	s.offline = "file://" + filepath.ToSlash(filepath.Join(env[0], "cache", "download"))
	s.goproxy = env[1]
	if s.goproxy == "off" || s.goproxy == "" {
		s.goproxy = s.offline
	}
	if s.tmp, err = os.MkdirTemp("", "logout-release-"); err != nil {
		return nil, err
	}
	tmp := s.tmp // s is nil when an error is returned
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	s.tree = filepath.Join(s.tmp, "src")
	s.proxy = proxy{Dir: filepath.Join(s.tmp, "proxy")}
	if err := copyTree(ctx, root, s.tree); err != nil {
		return nil, err
	}
	// A fresh module cache: one that held these modules at this version
	// from an earlier run would serve those instead. The modules of
	// others come from the user's module cache first.
	if err := buildProxy(ctx, s.tree, s.mods, version, s.proxy, filepath.Join(s.tmp, "modcache"), s.offline+","+s.goproxy); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "release: %d modules zipped at %s into a module proxy\n", len(s.mods), version)
	return s, nil
}

func check(ctx context.Context, w io.Writer, root, version string, fix, keep bool) error {
	s, err := stage(ctx, w, root, version)
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(w, "release: kept %s\n", s.tmp)
	} else {
		defer os.RemoveAll(s.tmp)
	}
	differ, err := tidyDiff(root, s.tree, s.mods, s.current, fix)
	if err != nil {
		return err
	}
	if len(differ) > 0 {
		if fix {
			fmt.Fprintf(w, "release: wrote %s\n", strings.Join(differ, ", "))
		} else {
			return fmt.Errorf("not tidy on its own, as a user's go command reads it: %s (run go run ./cmd/internal/release check -fix)", strings.Join(differ, ", "))
		}
	} else {
		fmt.Fprintf(w, "release: every module's go.mod and go.sum are tidy on their own\n")
	}
	pkgs, err := listPackages(ctx, root, s.mods)
	if err != nil {
		return err
	}
	return installCheck(ctx, w, filepath.Join(s.tmp, "install"), s.proxy, pkgs, s.mods, version, s.local())
}

// local is the GOPROXY list of the module caches on this machine: the
// one that buildProxy filled (each module's own requirements, as `go mod
// tidy` on it fetched them) and the user's.
func (s *staged) local() string {
	return "file://" + filepath.ToSlash(filepath.Join(s.tmp, "modcache", "cache", "download")) + "," + s.offline
}
