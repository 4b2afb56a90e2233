package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// checkReleaseVersion returns an error unless v is a version to release:
// vX.Y.Z with an optional pre-release (v0.2.0-rc.1), below v2 (which
// would need /v2 module paths).
func checkReleaseVersion(v string) error {
	if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Build(v) != "" || module.IsPseudoVersion(v) {
		return fmt.Errorf("version %q: want vX.Y.Z, such as v0.2.0 (or v0.2.0-rc.1)", v)
	}
	if m := semver.Major(v); m != "v0" && m != "v1" {
		return fmt.Errorf("version %s: a major version above v1 needs /%s module paths", v, m)
	}
	return nil
}

// tag releases every module at version: see the package documentation.
func tag(ctx context.Context, w io.Writer, root, version string) error {
	if err := checkReleaseVersion(version); err != nil {
		return err
	}
	if out, err := command(ctx, root, nil, "git", "status", "--porcelain"); err != nil {
		return err
	} else if out != "" {
		return fmt.Errorf("the work tree has changes; commit or remove them first:\n%s", out)
	}
	mods, err := findModules(root)
	if err != nil {
		return err
	}
	var tags []string
	for _, m := range mods {
		t := m.TagPrefix() + version
		if _, err := command(ctx, root, nil, "git", "rev-parse", "-q", "--verify", "refs/tags/"+t); err == nil {
			return fmt.Errorf("tag %s exists already", t)
		}
		tags = append(tags, t)
	}

	s, err := stage(ctx, w, root, version)
	if err != nil {
		return err
	}
	defer os.RemoveAll(s.tmp)
	if differ, err := tidyDiff(root, s.tree, s.mods, s.current, false); err != nil {
		return err
	} else if len(differ) > 0 {
		return fmt.Errorf("not tidy on its own: %s (run go run ./cmd/internal/release check -fix and commit)", strings.Join(differ, ", "))
	}
	pkgs, err := listPackages(ctx, root, s.mods)
	if err != nil {
		return err
	}
	if err := installCheck(ctx, w, filepath.Join(s.tmp, "install"), s.proxy, pkgs, s.mods, version, s.local()); err != nil {
		return err
	}

	// The release commit: requirements at version, with their go.sum
	// lines, as the proxy's zips hold them.
	for _, m := range s.mods {
		for _, name := range []string{"go.mod", "go.sum"} {
			f := filepath.Join(filepath.FromSlash(m.Dir), name)
			b, err := os.ReadFile(filepath.Join(s.tree, f))
			if errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	if err := syncWork(root, s.mods, version, true); err != nil {
		return err
	}
	if _, err := command(ctx, root, nil, "git", "add", "-A"); err != nil {
		return err
	}
	if out, _ := command(ctx, root, nil, "git", "status", "--porcelain"); out != "" {
		if _, err := command(ctx, root, nil, "git", "commit", "-q", "-m", "release "+version); err != nil {
			return err
		}
	}

	// What the Go module proxy will zip from the tags must be what was
	// checked.
	for _, m := range s.mods {
		mv := module.Version{Path: m.Path, Version: version}
		zf := filepath.Join(s.tmp, "vcs.zip")
		f, err := os.Create(zf)
		if err != nil {
			return err
		}
		err = modzip.CreateFromVCS(f, mv, root, "HEAD", m.Dir)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("zip %s from the release commit: %w", m.Path, err)
		}
		esc, _ := module.EscapePath(m.Path)
		want, err := dirhash.HashZip(filepath.Join(s.proxy.Dir, filepath.FromSlash(esc), "@v", version+".zip"), dirhash.Hash1)
		if err != nil {
			return err
		}
		if got, err := dirhash.HashZip(zf, dirhash.Hash1); err != nil || got != want {
			return fmt.Errorf("%s: the release commit zips to %s, not to the checked %s (%v); nothing is tagged: undo the commit with git reset --hard HEAD~1", m.Path, got, want, err)
		}
	}
	for _, t := range tags {
		if _, err := command(ctx, root, nil, "git", "tag", "-a", t, "-m", "Logout "+version); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "release: tagged %s\nrelease: publish with: git push origin HEAD %s\n", strings.Join(tags, " "), strings.Join(tags, " "))
	return nil
}
