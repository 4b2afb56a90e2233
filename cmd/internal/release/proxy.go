package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// copyTree copies the files of the repository at root that git tracks or
// would add (untracked files that .gitignore does not ignore) into dst,
// as the go command's module zips would see a commit of it.
func copyTree(ctx context.Context, root, dst string) error {
	out, err := command(ctx, root, nil, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for name := range strings.SplitSeq(strings.TrimRight(out, "\x00"), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(name))
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue // module zips hold regular files only
		}
		if err := copyFile(src, filepath.Join(dst, filepath.FromSlash(name)), fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goEnv is the environment for the go command run as a module's user
// would run it: outside the workspace, free to update go.mod and go.sum,
// with the local toolchain, and with extra settings appended.
func goEnv(extra ...string) []string {
	env := append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod -modcacherw")
	return append(env, extra...)
}

// A proxy is a file-system module proxy (GOPROXY=file://dir).
type proxy struct{ Dir string }

// URL is the proxy's GOPROXY entry.
func (p proxy) URL() string { return "file://" + filepath.ToSlash(p.Dir) }

// add writes module m at version from the module directory dir into the
// proxy: its .mod, .info and .zip files and its version list.
func (p proxy) add(m, version, dir string) error {
	esc, err := module.EscapePath(m)
	if err != nil {
		return err
	}
	vdir := filepath.Join(p.Dir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644); err != nil {
		return err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644); err != nil {
		return err
	}
	var zb bytes.Buffer
	if err := modzip.CreateFromDir(&zb, module.Version{Path: m, Version: version}, dir); err != nil {
		return fmt.Errorf("zip %s@%s: %w", m, version, err)
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".zip"), zb.Bytes(), 0o644); err != nil {
		return err
	}
	list, _ := os.ReadFile(filepath.Join(vdir, "list"))
	return os.WriteFile(filepath.Join(vdir, "list"), append(list, version+"\n"...), 0o644)
}

// buildProxy sets every module in tree (a copy of the repository) to
// require the others at version, and then, each module after those it
// requires, runs `go mod tidy` on it against the proxy as its user would
// (which writes the go.sum lines of the modules it requires) and adds it
// to the proxy at version. modcache is the module cache to use, which
// must not hold the repository's modules at version; GOPROXY's own
// entries come after the proxy, for the other modules.
func buildProxy(ctx context.Context, tree string, mods []mod, version string, px proxy, modcache, goproxy string) error {
	for _, m := range mods {
		gomod := filepath.Join(tree, filepath.FromSlash(m.Dir), "go.mod")
		b, err := os.ReadFile(gomod)
		if err != nil {
			return err
		}
		if err := os.WriteFile(gomod, setVersions(b, version), 0o644); err != nil {
			return err
		}
	}
	env := goEnv("GOPROXY="+px.URL()+","+goproxy, "GOMODCACHE="+modcache, "GONOSUMDB="+rootPath)
	for _, m := range mods {
		dir := filepath.Join(tree, filepath.FromSlash(m.Dir))
		if _, err := command(ctx, dir, env, "go", "mod", "tidy"); err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
		if err := px.add(m.Path, version, dir); err != nil {
			return err
		}
	}
	return nil
}

// command runs name with args in dir and returns its standard output;
// its error holds the standard error. A nil env is the process's own.
func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
