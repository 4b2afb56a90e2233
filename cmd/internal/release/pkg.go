package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: not root, and no user of the host.
const (
	imageUID  = 65532
	imageData = "/var/lib/logout-proxy"
	imagePort = "8090"
)

// linuxFile returns an embedded file of the linux directory.
func linuxFile(name string) []byte {
	b, err := linux.ReadFile("linux/" + name)
	if err != nil {
		panic(err) // embedded: present unless the build is broken
	}
	return b
}

// binary returns the built command name for p.
func binary(rel *release, p platform, name string) ([]byte, error) {
	for _, bin := range rel.Binaries[p] {
		if filepath.Base(bin) == name {
			return os.ReadFile(bin)
		}
	}
	return nil, fmt.Errorf("no %s built for %s", name, p)
}

// writeDeb writes logout-proxy's Debian package for p and returns its name.
func writeDeb(root, outDir string, rel *release, p platform) (string, error) {
	bin, err := binary(rel, p, "logout-proxy")
	if err != nil {
		return "", err
	}
	licence, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return "", err
	}
	copyright := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: logout\nSource: https://github.com/gologout/logout\n\nFiles: *\nCopyright: The Logout Authors\nLicense: MIT\n " +
		strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(string(licence)), "\n\n", "\n.\n"), "\n", "\n ") + "\n"
	pkg := debPackage{
		Name: "logout-proxy", Version: debVersion(rel.name()), Arch: p.Arch,
		Maintainer: "The Logout Authors <https://github.com/gologout/logout/issues>",
		Homepage:   "https://github.com/gologout/logout", Section: "web",
		Summary: "idle sign-out for any admin panel, as a reverse proxy",
		Description: `logout-proxy puts a server-side idle sign-out in front of an admin panel
it did not write (Django admin, WordPress, OctoberCMS, or any panel a JSON
profile describes): a countdown next to the panel's user menu, a warning
before the end, forced sign-out and a settings page of its own.

This package runs it as the systemd service logout-proxy under its own
user, with its data in /var/lib/logout-proxy. Set LOGOUT_UPSTREAM and
LOGOUT_PROFILE in /etc/logout-proxy/logout-proxy.env, then
"systemctl enable --now logout-proxy"; the first start prints the
password of its administrator, proxy-admin, in its journal.`,
		Files: []pkgFile{
			{Path: "/usr/bin/logout-proxy", Mode: 0o755, Body: bin},
			{Path: "/usr/lib/systemd/system/logout-proxy.service", Mode: 0o644, Body: linuxFile("logout-proxy.service")},
			{Path: "/usr/lib/sysusers.d/logout-proxy.conf", Mode: 0o644, Body: linuxFile("logout-proxy.sysusers")},
			{Path: "/etc/logout-proxy/logout-proxy.env", Mode: 0o600, Body: linuxFile("logout-proxy.env"), Conffile: true},
			{Path: "/etc/logout-proxy/settings.toml", Mode: 0o644, Body: linuxFile("settings.toml"), Conffile: true},
			{Path: "/usr/share/doc/logout-proxy/copyright", Mode: 0o644, Body: []byte(copyright)},
		},
		Scripts: map[string]string{"postinst": string(linuxFile("postinst")), "prerm": string(linuxFile("prerm")), "postrm": string(linuxFile("postrm"))},
		MTime:   rel.Time,
	}
	var buf bytes.Buffer
	if err := pkg.write(&buf); err != nil {
		return "", err
	}
	name := fmt.Sprintf("logout-proxy_%s_%s.deb", pkg.Version, pkg.Arch)
	return name, os.WriteFile(filepath.Join(outDir, name), buf.Bytes(), 0o644)
}

// imageFiles are the files of the image for p: the static binary, the
// passwd and group files that name its user, its data directory and a
// /tmp, and the licence; no shell, no package manager.
func imageFiles(root string, rel *release, p platform) ([]pkgFile, error) {
	bin, err := binary(rel, p, "logout-proxy")
	if err != nil {
		return nil, err
	}
	licence, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return nil, err
	}
	return []pkgFile{
		{Path: "/usr/bin/logout-proxy", Mode: 0o755, Body: bin},
		{Path: "/usr/share/doc/logout-proxy/LICENSE", Mode: 0o644, Body: licence},
		{Path: "/etc/passwd", Mode: 0o644, Body: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nlogout-proxy:x:%d:%d:logout-proxy:%s:/sbin/nologin\n", imageUID, imageUID, imageData)},
		{Path: "/etc/group", Mode: 0o644, Body: fmt.Appendf(nil, "root:x:0:\nlogout-proxy:x:%d:\n", imageUID)},
		{Path: imageData + "/", Mode: 0o700, UID: imageUID, GID: imageUID},
		{Path: "/tmp/", Mode: 0o1777},
	}, nil
}

// writeImage writes logout-proxy's OCI image for the Linux platforms as
// an OCI image layout in a tar file (an "oci-archive"), whose index names
// the multi-platform image by its version, and returns its name.
func writeImage(root, outDir string, rel *release, platforms []platform) (string, error) {
	v := rel.name()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		files, err := imageFiles(root, rel, p)
		if err != nil {
			return "", err
		}
		layerTar, err := tarGz(files, rel.Time, true, "")
		if err != nil {
			return "", err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(layerTar)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return "", err
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return "", err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = p.OS, p.Arch
		cfg.Created = v1.Time{Time: rel.Time}
		cfg.Config.User = fmt.Sprintf("%d:%d", imageUID, imageUID)
		cfg.Config.Entrypoint = []string{"/usr/bin/logout-proxy"}
		cfg.Config.WorkingDir = imageData
		cfg.Config.Env = []string{"LOGOUT_ADDR=:" + imagePort, "LOGOUT_DATA=" + imageData}
		cfg.Config.ExposedPorts = map[string]struct{}{imagePort + "/tcp": {}}
		cfg.Config.Volumes = map[string]struct{}{imageData: {}}
		cfg.Config.Labels = imageLabels(rel)
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return "", err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
		}})
	}
	dir, err := os.MkdirTemp(outDir, ".oci-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": v})); err != nil {
		return "", err
	}
	name := fmt.Sprintf("logout-proxy_%s_oci.tar", v)
	return name, tarDir(dir, filepath.Join(outDir, name), rel.Time)
}

// imageLabels are the image's OCI annotations, as labels.
func imageLabels(rel *release) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "logout-proxy",
		"org.opencontainers.image.description": "Idle sign-out for any admin panel, as a reverse proxy",
		"org.opencontainers.image.version":     rel.Version,
		"org.opencontainers.image.licenses":    "MIT",
		"org.opencontainers.image.source":      "https://github.com/gologout/logout",
		"org.opencontainers.image.created":     rel.Time.Format(time.RFC3339),
	}
	if rel.Commit != "" {
		l["org.opencontainers.image.revision"] = rel.Commit
	}
	return l
}

// tarDir writes the files below dir into the tar file name, sorted, with
// every time mtime.
func tarDir(dir, name string, mtime time.Time) error {
	var files []pkgFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, pkgFile{Path: "/" + filepath.ToSlash(rel), Mode: 0o644, Body: b})
		return nil
	})
	if err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	if err := writeTar(tw, files, mtime, true, ""); err != nil {
		f.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
