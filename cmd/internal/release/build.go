package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// linux holds the files of the Linux package and image: the systemd
// unit, the example settings and the package's scripts.
//
//go:embed linux
var linux embed.FS

// allPlatforms are the platforms of a release.
const allPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

// A platform is a GOOS/GOARCH pair.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

func parsePlatforms(s string) ([]platform, error) {
	var out []platform
	for item := range strings.SplitSeq(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(item), "/")
		if !ok || os == "" || arch == "" {
			return nil, fmt.Errorf("-platforms: %q: want os/arch, such as linux/amd64", item)
		}
		out = append(out, platform{os, arch})
	}
	return out, nil
}

// A release is what build makes, and what verify checks.
type release struct {
	Version  string                // the commands' module version, such as v0.1.0, as they record it
	Commit   string                // the commit built, or ""
	Time     time.Time             // the commit's time: every file's time, for reproducible archives
	Binaries map[platform][]string // paths of the built commands by platform
	Files    []string              // the artefacts, by name in the output directory
}

// build builds the release's artefacts into the output directory:
//
//   - logout_V_OS_ARCH.tar.gz (.zip for Windows): both commands, built
//     with -trimpath and CGO_ENABLED=0, with LICENSE and README.md;
//   - logout-proxy_V_ARCH.deb: logout-proxy as a systemd service;
//   - logout-proxy_V_oci.tar: an OCI image archive of logout-proxy for
//     the Linux platforms built;
//   - logout_V_sbom.spdx.json: the modules in the binaries, with their
//     versions and licences (SPDX 2.3);
//   - SHA256SUMS of all of them.
//
// A release (without -snapshot) is built from the commit that carries
// the tags, from the modules as a module proxy serves them. A snapshot
// is built from the work tree in the workspace. Each artefact is then
// checked (see verify).
func build(ctx context.Context, w io.Writer, root string, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	snapshot := fs.Bool("snapshot", false, "build from the work tree, without tags (version from the commit)")
	plats := fs.String("platforms", allPlatforms, "comma-separated `os/arch` pairs to build")
	out := fs.String("out", "dist", "output `directory`, emptied first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	platforms, err := parsePlatforms(*plats)
	if err != nil {
		return err
	}
	outDir := *out
	if !filepath.IsAbs(outDir) {
		outDir = filepath.Join(root, outDir)
	}
	if r, err := filepath.Rel(outDir, root); err != nil || r == "." || !strings.HasPrefix(r, "..") {
		return fmt.Errorf("-out %s: want a directory of its own, not the repository or a parent of it", *out)
	}
	for _, name := range []string{"go.mod", ".git"} {
		if _, err := os.Stat(filepath.Join(outDir, name)); err == nil {
			return fmt.Errorf("-out %s: holds %s; want a directory of its own, which build empties", *out, name)
		}
	}
	mods, err := findModules(root)
	if err != nil {
		return err
	}
	var cmdMod mod
	for _, m := range mods {
		if m.Dir == "cmd" {
			cmdMod = m
		}
	}
	if cmdMod.Path == "" {
		return errors.New("no cmd module in go.work")
	}
	pkgs, err := listPackages(ctx, root, []mod{cmdMod})
	if err != nil {
		return err
	}
	var commands []string // import paths, such as …/cmd/logout-proxy
	for _, p := range pkgs {
		if p.Name == "main" && len(p.GoFiles) > 0 && isCommand(p.ImportPath) {
			commands = append(commands, p.ImportPath)
		}
	}
	if !slices.Contains(commands, rootPath+"/cmd/logout-proxy") {
		return fmt.Errorf("no logout-proxy command among %v", commands)
	}

	rel := &release{Binaries: map[platform][]string{}}
	if t, err := command(ctx, root, nil, "git", "log", "-1", "--format=%H %ct"); err == nil {
		f := strings.Fields(t)
		sec, _ := strconv.ParseInt(f[1], 10, 64)
		rel.Commit, rel.Time = f[0], time.Unix(sec, 0).UTC()
	} else if !*snapshot {
		return err
	} else {
		rel.Time = time.Now().UTC().Truncate(time.Second)
	}

	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	vcs := "-buildvcs=auto"
	modcache := ""
	if !*snapshot {
		version, err := releaseTag(ctx, root)
		if err != nil {
			return err
		}
		s, err := stage(ctx, w, root, version)
		if err != nil {
			return err
		}
		defer os.RemoveAll(s.tmp)
		modcache = filepath.Join(s.tmp, "modcache")
		// The modules exactly as `go install …@version` gets them.
		env = goEnv("CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOPROXY="+s.proxy.URL()+","+s.offline+","+s.goproxy,
			"GOMODCACHE="+modcache, "GONOSUMDB="+rootPath)
		vcs = "-buildvcs=true"
	}
	if modcache == "" {
		if modcache, err = command(ctx, root, nil, "go", "env", "GOMODCACHE"); err != nil {
			return err
		}
		modcache = strings.TrimSpace(modcache)
	}

	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	binDir := filepath.Join(outDir, ".bin")
	for _, p := range platforms {
		for _, c := range commands {
			name := path.Base(c)
			if p.OS == "windows" {
				name += ".exe"
			}
			bin := filepath.Join(binDir, p.OS+"_"+p.Arch, name)
			penv := append(slices.Clone(env), "GOOS="+p.OS, "GOARCH="+p.Arch)
			start := time.Now()
			if _, err := command(ctx, filepath.Join(root, "cmd"), penv, "go", "build", "-trimpath", vcs, "-ldflags=-s -w", "-o", bin, "./"+strings.TrimPrefix(c, cmdMod.Path+"/")); err != nil {
				return err
			}
			rel.Binaries[p] = append(rel.Binaries[p], bin)
			fmt.Fprintf(w, "release: built %s for %s in %.0f s\n", path.Base(c), p, time.Since(start).Seconds())
		}
	}
	bi, err := buildinfo.ReadFile(rel.Binaries[platforms[0]][0])
	if err != nil {
		return err
	}
	rel.Version = bi.Main.Version
	if !*snapshot {
		if want, _ := releaseTag(ctx, root); rel.Version != want {
			return fmt.Errorf("the binaries say version %s, not the tag's %s", rel.Version, want)
		}
	}
	v := rel.name()
	for _, p := range platforms {
		name, err := writeArchive(root, outDir, rel, p, v)
		if err != nil {
			return err
		}
		rel.Files = append(rel.Files, name)
	}
	var linuxPlats []platform
	for _, p := range platforms {
		if p.OS == "linux" {
			linuxPlats = append(linuxPlats, p)
			name, err := writeDeb(root, outDir, rel, p)
			if err != nil {
				return err
			}
			rel.Files = append(rel.Files, name)
		}
	}
	if len(linuxPlats) > 0 {
		name, err := writeImage(root, outDir, rel, linuxPlats)
		if err != nil {
			return err
		}
		rel.Files = append(rel.Files, name)
	}
	name, err := writeSBOM(root, outDir, rel, modcache)
	if err != nil {
		return err
	}
	rel.Files = append(rel.Files, name)
	if err := writeSums(outDir, rel.Files); err != nil {
		return err
	}
	if err := os.RemoveAll(binDir); err != nil {
		return err
	}
	fmt.Fprintf(w, "release: %s in %s: %s, SHA256SUMS\n", rel.Version, outDir, strings.Join(rel.Files, ", "))
	return verify(ctx, w, outDir, rel)
}

// name is the version in the artefacts' names: without the "v", and
// 0.0.0-devel for a binary that records no version (a snapshot built
// where the go command finds no commit).
func (r *release) name() string {
	if r.Version == "" || r.Version == "(devel)" {
		return "0.0.0-devel"
	}
	return strings.TrimPrefix(r.Version, "v")
}

// releaseTag returns the release version whose tag (vX.Y.Z, on the
// library) HEAD carries, on a clean work tree.
func releaseTag(ctx context.Context, root string) (string, error) {
	if out, err := command(ctx, root, nil, "git", "status", "--porcelain"); err != nil {
		return "", err
	} else if out != "" {
		return "", fmt.Errorf("the work tree has changes: a release is built from its tagged commit alone (or use -snapshot)")
	}
	out, err := command(ctx, root, nil, "git", "tag", "--points-at", "HEAD")
	if err != nil {
		return "", err
	}
	for t := range strings.FieldsSeq(out) {
		if checkReleaseVersion(t) == nil {
			return t, nil
		}
	}
	return "", errors.New("HEAD carries no release tag vX.Y.Z: tag it with `go run ./cmd/internal/release tag vX.Y.Z`, or build with -snapshot")
}

// writeArchive writes the archive of platform p and returns its name.
func writeArchive(root, outDir string, rel *release, p platform, v string) (string, error) {
	base := fmt.Sprintf("logout_%s_%s_%s", v, p.OS, p.Arch)
	var files []pkgFile
	for _, bin := range rel.Binaries[p] {
		b, err := os.ReadFile(bin)
		if err != nil {
			return "", err
		}
		files = append(files, pkgFile{Path: "/" + base + "/" + filepath.Base(bin), Mode: 0o755, Body: b})
	}
	for _, doc := range []string{"LICENSE", "README.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			return "", err
		}
		files = append(files, pkgFile{Path: "/" + base + "/" + doc, Mode: 0o644, Body: b})
	}
	var buf bytes.Buffer
	name := base + ".tar.gz"
	if p.OS == "windows" {
		name = base + ".zip"
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			h := &zip.FileHeader{Name: strings.TrimPrefix(f.Path, "/"), Method: zip.Deflate, Modified: rel.Time}
			h.SetMode(os.FileMode(f.Mode))
			fw, err := zw.CreateHeader(h)
			if err != nil {
				return "", err
			}
			if _, err := fw.Write(f.Body); err != nil {
				return "", err
			}
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
	} else {
		gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(gz)
		files = append(files, pkgFile{Path: "/" + base + "/", Mode: 0o755})
		if err := writeTar(tw, files, rel.Time, false, ""); err != nil {
			return "", err
		}
		if err := tw.Close(); err != nil {
			return "", err
		}
		if err := gz.Close(); err != nil {
			return "", err
		}
	}
	return name, os.WriteFile(filepath.Join(outDir, name), buf.Bytes(), 0o644)
}

// writeSums writes SHA256SUMS of files, in the format sha256sum -c reads.
func writeSums(outDir string, files []string) error {
	var b strings.Builder
	for _, name := range slices.Sorted(slices.Values(files)) {
		f, err := os.Open(filepath.Join(outDir, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	}
	return os.WriteFile(filepath.Join(outDir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// hostPlatform is the platform this program runs on, whose binaries
// verify can run.
func hostPlatform() platform { return platform{runtime.GOOS, runtime.GOARCH} }
