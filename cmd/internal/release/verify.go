package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unitMust lists settings that the systemd unit must hold: its own user
// and the hardening that the package promises.
var unitMust = []string{
	"User=logout-proxy", "StateDirectory=logout-proxy", "NoNewPrivileges=yes", "ProtectSystem=strict",
	"ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=",
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
	"MemoryDenyWriteExecute=yes", "EnvironmentFile=/etc/logout-proxy/logout-proxy.env",
}

// tool returns the path of the program name, or "" when it is missing
// and may be: a check that needs it is then skipped with a message, but
// under CI=true a missing program is an error.
func tool(w io.Writer, name, what, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if os.Getenv("CI") == "true" {
		return "", fmt.Errorf("%s is not installed, and CI=true needs %s (Debian: apt-get install %s)", name, what, pkg)
	}
	fmt.Fprintf(w, "release: SKIP %s: %s is not installed (Debian: apt-get install %s)\n", what, name, pkg)
	return "", nil
}

// verify checks the artefacts in outDir: their checksums, that each
// archive holds both commands, the package's files, scripts and
// systemd unit, and the image's configuration and file system; the
// commands built for this machine are run from each (--version).
func verify(ctx context.Context, w io.Writer, outDir string, rel *release) error {
	tmp, err := os.MkdirTemp("", "logout-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := verifySums(outDir, rel.Files); err != nil {
		return err
	}
	fmt.Fprintf(w, "release: SHA256SUMS matches %d files\n", len(rel.Files))
	host := hostPlatform()
	for _, name := range rel.Files {
		var err error
		switch {
		case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".zip"):
			err = verifyArchive(ctx, w, filepath.Join(outDir, name), filepath.Join(tmp, name), rel, host)
		case strings.HasSuffix(name, ".deb"):
			err = verifyDeb(ctx, w, filepath.Join(outDir, name), filepath.Join(tmp, name), rel, host)
		case strings.HasSuffix(name, "_oci.tar"):
			err = verifyImage(ctx, w, filepath.Join(outDir, name), filepath.Join(tmp, name), rel, host)
		case strings.HasSuffix(name, ".spdx.json"):
			err = verifySBOM(w, filepath.Join(outDir, name))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func verifySums(outDir string, files []string) error {
	b, err := os.ReadFile(filepath.Join(outDir, "SHA256SUMS"))
	if err != nil {
		return err
	}
	listed := map[string]string{}
	for line := range strings.Lines(string(b)) {
		sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			return fmt.Errorf("SHA256SUMS: bad line %q", line)
		}
		listed[name] = sum
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if listed[name] != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("SHA256SUMS: %s does not match", name)
		}
	}
	if len(listed) != len(files) {
		return fmt.Errorf("SHA256SUMS lists %d files, want %d", len(listed), len(files))
	}
	return nil
}

// runVersion runs bin --version and checks that it names the version.
func runVersion(ctx context.Context, w io.Writer, bin string, rel *release, where string) error {
	out, err := command(ctx, filepath.Dir(bin), nil, bin, "--version")
	if err != nil {
		return err
	}
	if !strings.Contains(out, " "+rel.Version+" ") {
		return fmt.Errorf("%s --version printed %q, without %s", where, strings.TrimSpace(out), rel.Version)
	}
	fmt.Fprintf(w, "release: %s: %s", where, out)
	return nil
}

func verifyArchive(ctx context.Context, w io.Writer, file, dir string, rel *release, host platform) error {
	files := map[string][]byte{}
	if strings.HasSuffix(file, ".zip") {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			files[f.Name] = b
		}
	} else if err := readTarGz(file, func(h *tar.Header, b []byte) { files[h.Name] = b }); err != nil {
		return err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".zip"), ".tar.gz")
	exe := ""
	if strings.Contains(base, "_windows_") {
		exe = ".exe"
	}
	for _, want := range []string{"backend" + exe, "logout-proxy" + exe, "LICENSE", "README.md"} {
		if len(files[base+"/"+want]) == 0 {
			return fmt.Errorf("no %s/%s", base, want)
		}
	}
	if !strings.HasSuffix(base, "_"+host.OS+"_"+host.Arch) {
		return nil
	}
	for _, c := range []string{"backend", "logout-proxy"} {
		bin := filepath.Join(dir, c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(bin, files[base+"/"+c], 0o755); err != nil {
			return err
		}
		if err := runVersion(ctx, w, bin, rel, filepath.Base(file)+": "+c); err != nil {
			return err
		}
	}
	return nil
}

func readTarGz(file string, each func(*tar.Header, []byte)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		each(h, b)
	}
}

func verifyDeb(ctx context.Context, w io.Writer, file, dir string, rel *release, host platform) error {
	dpkg, err := tool(w, "dpkg-deb", "the check of the .deb package", "dpkg")
	if err != nil || dpkg == "" {
		return err
	}
	info, err := command(ctx, "", nil, dpkg, "--info", file)
	if err != nil {
		return err
	}
	for _, want := range []string{"Package: logout-proxy", "Version: " + debVersion(rel.name()), "postinst", "prerm", "postrm", "conffiles"} {
		if !strings.Contains(info, want) {
			return fmt.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	contents, err := command(ctx, "", nil, dpkg, "--contents", file)
	if err != nil {
		return err
	}
	for _, want := range []string{"-rwxr-xr-x root/root", "./usr/bin/logout-proxy", "./usr/lib/systemd/system/logout-proxy.service",
		"./usr/lib/sysusers.d/logout-proxy.conf", "-rw------- root/root", "./etc/logout-proxy/logout-proxy.env", "./etc/logout-proxy/settings.toml"} {
		if !strings.Contains(contents, want) {
			return fmt.Errorf("dpkg-deb --contents lacks %q:\n%s", want, contents)
		}
	}
	if _, err := command(ctx, "", nil, dpkg, "-x", file, dir); err != nil {
		return err
	}
	ctrl := filepath.Join(dir, "DEBIAN")
	if _, err := command(ctx, "", nil, dpkg, "-e", file, ctrl); err != nil {
		return err
	}
	conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if err != nil || string(conffiles) != "/etc/logout-proxy/logout-proxy.env\n/etc/logout-proxy/settings.toml\n" {
		return fmt.Errorf("conffiles: got %q, %v", conffiles, err)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if _, err := command(ctx, "", nil, "sh", "-n", filepath.Join(ctrl, s)); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	unitFile := filepath.Join(dir, "usr/lib/systemd/system/logout-proxy.service")
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		return err
	}
	lines := strings.Split(string(unit), "\n")
	for _, want := range unitMust {
		if !slices.Contains(lines, want) {
			return fmt.Errorf("the systemd unit lacks %q", want)
		}
	}
	fmt.Fprintf(w, "release: %s: dpkg-deb reads it; files, conffiles, scripts and the unit's hardening as promised\n", filepath.Base(file))
	if sa, err := tool(w, "systemd-analyze", "the check of the systemd unit", "systemd"); err != nil {
		return err
	} else if sa != "" {
		// The package's files, as installed on this system: its units
		// (the targets the unit depends on) beside the package's.
		if err := copyMissing("/usr/lib/systemd/system", filepath.Join(dir, "usr/lib/systemd/system")); err != nil {
			return err
		}
		const unitPath = "/usr/lib/systemd/system/logout-proxy.service"
		if _, err := command(ctx, "", nil, sa, "verify", "--root="+dir, "--man=no", unitPath); err != nil {
			return fmt.Errorf("systemd-analyze verify: %w", err)
		}
		// Exposure 0 (locked down) to 10 (unprotected); 2 and below is
		// what systemd calls OK.
		out, err := command(ctx, "", nil, sa, "security", "--offline=yes", "--threshold=20", "--root="+dir, unitPath)
		if err != nil {
			return fmt.Errorf("systemd-analyze security: %w", err)
		}
		level := ""
		for line := range strings.Lines(out) {
			if strings.Contains(line, "Overall exposure level") {
				level = strings.TrimSpace(line[strings.LastIndex(line, ":")+1:])
			}
		}
		fmt.Fprintf(w, "release: %s: systemd-analyze verify passes; exposure %s\n", filepath.Base(file), level)
	}
	if strings.HasSuffix(file, "_"+host.Arch+".deb") && host.OS == "linux" {
		return runVersion(ctx, w, filepath.Join(dir, "usr/bin/logout-proxy"), rel, filepath.Base(file)+": /usr/bin/logout-proxy")
	}
	return nil
}

// verifyImage reads the image archive with go-containerregistry, and
// with skopeo and umoci where they are installed: for each platform, a
// non-root user, the entrypoint, and a file system of the binary and
// its few files, with no shell; the binary for this machine is run from
// the unpacked root file system.
func verifyImage(ctx context.Context, w io.Writer, file, dir string, rel *release, host platform) error {
	v := rel.name()
	lay := filepath.Join(dir, "layout")
	if err := untar(file, lay); err != nil {
		return err
	}
	lp, err := layout.FromPath(lay)
	if err != nil {
		return err
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return err
	}
	im, err := top.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != v {
		return fmt.Errorf("index.json: want one image named %s, got %+v", v, im.Manifests)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	ml, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range ml.Manifests {
		p := platform{d.Platform.OS, d.Platform.Architecture}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return err
		}
		if c := cfg.Config; c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/usr/bin/logout-proxy"}) || cfg.OS != p.OS || cfg.Architecture != p.Arch {
			return fmt.Errorf("%s: config: user %q, entrypoint %q, platform %s/%s", p, c.User, c.Entrypoint, cfg.OS, cfg.Architecture)
		}
		rootfs := filepath.Join(dir, "rootfs-"+p.OS+"-"+p.Arch)
		var names []string
		rc := mutate.Extract(img)
		err = untarReader(rc, rootfs, func(name string) { names = append(names, path.Clean(name)) })
		rc.Close()
		if err != nil {
			return err
		}
		slices.Sort(names)
		want := []string{"etc", "etc/group", "etc/passwd", "tmp", "usr", "usr/bin", "usr/bin/logout-proxy", "usr/share", "usr/share/doc",
			"usr/share/doc/logout-proxy", "usr/share/doc/logout-proxy/LICENSE", "var", "var/lib", "var/lib/logout-proxy"}
		if !slices.Equal(names, want) {
			return fmt.Errorf("%s: the file system holds %q, want %q (no shell, nothing else)", p, names, want)
		}
		fmt.Fprintf(w, "release: %s: %s image: user 65532, entrypoint /usr/bin/logout-proxy, %d files, no shell\n", filepath.Base(file), p, len(names))
		if p == host {
			if err := runVersion(ctx, w, filepath.Join(rootfs, "usr/bin/logout-proxy"), rel, filepath.Base(file)+": "+p.String()); err != nil {
				return err
			}
		}
	}

	// The same with the tools of others, for this machine's platform.
	skopeo, err := tool(w, "skopeo", "reading the image with skopeo", "skopeo")
	if err != nil || skopeo == "" {
		return err
	}
	umoci, err := tool(w, "umoci", "unpacking the image with umoci", "umoci")
	if err != nil || umoci == "" {
		return err
	}
	single := filepath.Join(dir, "single")
	if _, err := command(ctx, "", nil, skopeo, "--override-os", host.OS, "--override-arch", host.Arch, "copy", "--quiet",
		"oci-archive:"+file+":"+v, "oci:"+single+":"+v); err != nil {
		return err
	}
	bundle := filepath.Join(dir, "bundle")
	if _, err := command(ctx, "", nil, umoci, "unpack", "--rootless", "--image", single+":"+v, bundle); err != nil {
		return err
	}
	var spec struct {
		Process struct {
			User struct{ UID, GID int }
			Args []string
			Env  []string
		}
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		return err
	}
	if spec.Process.User.UID != imageUID || !slices.Contains(spec.Process.Env, "LOGOUT_DATA="+imageData) {
		return fmt.Errorf("umoci's runtime config: user %+v, env %q", spec.Process.User, spec.Process.Env)
	}
	if _, err := os.Stat(filepath.Join(bundle, "rootfs/bin/sh")); !errors.Is(err, os.ErrNotExist) {
		return errors.New("umoci's root file system holds /bin/sh")
	}
	return runVersion(ctx, w, filepath.Join(bundle, "rootfs/usr/bin/logout-proxy"), rel, filepath.Base(file)+": skopeo and umoci")
}

func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return untarReader(f, dir, nil)
}

// untarReader writes the regular files and directories of the tar
// stream r below dir, and reports each entry's name to seen.
func untarReader(r io.Reader, dir string, seen func(string)) error {
	tr := tar.NewReader(bufio.NewReader(r))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("tar entry %q leaves its directory", h.Name)
		}
		if seen != nil {
			seen(name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, tr); err != nil {
				return err
			}
			if err := os.WriteFile(dst, buf.Bytes(), os.FileMode(h.Mode)&0o755|0o600); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tar entry %q: type %c, want files and directories only", h.Name, h.Typeflag)
		}
	}
}

// verifySBOM checks that the SBOM is SPDX 2.3 JSON whose modules have
// versions, and that the repository's are MIT.
func verifySBOM(w io.Writer, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc spdxDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 5 {
		return fmt.Errorf("want SPDX-2.3 with the modules, got %s with %d packages", doc.SPDXVersion, len(doc.Packages))
	}
	unknown := 0
	for _, p := range doc.Packages {
		if p.VersionInfo == "" {
			return fmt.Errorf("%s has no version", p.Name)
		}
		if (isOurs(p.Name) || p.Name == "backend" || p.Name == "logout-proxy") && p.LicenseConcluded != "MIT" {
			return fmt.Errorf("%s: licence %s, want MIT", p.Name, p.LicenseConcluded)
		}
		if p.LicenseConcluded == "NOASSERTION" {
			unknown++
		}
	}
	fmt.Fprintf(w, "release: %s: %d modules with versions, %d without a licence found\n", filepath.Base(file), len(doc.Packages), unknown)
	return nil
}

// copyMissing copies the regular files and symbolic links of src into
// dst, leaving those that dst has.
func copyMissing(src, dst string) error {
	entries, err := os.ReadDir(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range entries {
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		from := filepath.Join(src, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(from)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
		case e.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			if err := copyMissing(from, to); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if err := copyFile(from, to, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
