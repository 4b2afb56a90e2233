package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// A pkgFile is one file of a package or image, with an absolute path.
type pkgFile struct {
	Path     string // such as /usr/bin/logout-proxy; a directory ends in "/"
	Mode     int64
	Body     []byte
	Conffile bool // a configuration file that dpkg keeps when the user changed it
	UID, GID int  // owner in an image; packages install files as root
}

// A debPackage is a binary Debian package: an ar archive of
// debian-binary, control.tar.gz and data.tar.gz, as dpkg-deb builds them.
type debPackage struct {
	Name, Version, Arch string // Arch as Debian names it: amd64, arm64
	Maintainer          string
	Homepage            string
	Section             string
	Summary             string // the Description's first line
	Description         string // the rest, in paragraphs
	Files               []pkgFile
	Scripts             map[string]string // postinst, prerm, postrm: shell scripts
	MTime               time.Time
}

// debVersion returns the Debian version of the Go version v: without
// the "v", with "~" before a pre-release so that it sorts before the
// release (0.2.0~rc.1 < 0.2.0), and "." for the other hyphens.
func debVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i] + "~" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	return v
}

// write writes the package to w.
func (p *debPackage) write(w io.Writer) error {
	var size int64
	for _, f := range p.Files {
		size += int64(len(f.Body))
	}
	var control strings.Builder
	fmt.Fprintf(&control, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %d\nSection: %s\nPriority: optional\nHomepage: %s\nDescription: %s\n",
		p.Name, p.Version, p.Arch, p.Maintainer, (size+1023)/1024, p.Section, p.Homepage, p.Summary)
	for para := range strings.SplitSeq(strings.TrimSpace(p.Description), "\n\n") {
		for line := range strings.SplitSeq(para, "\n") {
			fmt.Fprintf(&control, " %s\n", line)
		}
		control.WriteString(" .\n")
	}
	controlText := strings.TrimSuffix(control.String(), " .\n")

	var conffiles, md5sums strings.Builder
	for _, f := range p.Files {
		if strings.HasSuffix(f.Path, "/") {
			continue
		}
		if f.Conffile {
			fmt.Fprintln(&conffiles, f.Path)
		}
		fmt.Fprintf(&md5sums, "%x  %s\n", md5.Sum(f.Body), strings.TrimPrefix(f.Path, "/"))
	}
	meta := []pkgFile{{Path: "/control", Mode: 0o644, Body: []byte(controlText)}, {Path: "/md5sums", Mode: 0o644, Body: []byte(md5sums.String())}}
	if conffiles.Len() > 0 {
		meta = append(meta, pkgFile{Path: "/conffiles", Mode: 0o644, Body: []byte(conffiles.String())})
	}
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		if s, ok := p.Scripts[name]; ok {
			meta = append(meta, pkgFile{Path: "/" + name, Mode: 0o755, Body: []byte(s)})
		}
	}
	controlTar, err := tarGz(meta, p.MTime, false, ".")
	if err != nil {
		return err
	}
	dataTar, err := tarGz(p.Files, p.MTime, true, ".")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "!<arch>\n"); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", controlTar}, {"data.tar.gz", dataTar}} {
		hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, p.MTime.Unix(), 0, 0, "100644", len(m.body))
		if _, err := io.WriteString(w, hdr); err != nil {
			return err
		}
		if _, err := w.Write(m.body); err != nil {
			return err
		}
		if len(m.body)%2 == 1 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// tarGz returns a gzipped tar of files below prefix (see writeTar), with
// every file's time mtime; with parents, it adds the directories that
// lead to each file first, as dpkg expects.
func tarGz(files []pkgFile, mtime time.Time, parents bool, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	if err := writeTar(tw, files, mtime, parents, prefix); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeTar writes files to tw below prefix ("." for "./usr/…", "" for
// "usr/…"), sorted, with the directories that lead to them when parents.
func writeTar(tw *tar.Writer, files []pkgFile, mtime time.Time, parents bool, prefix string) error {
	all := slices.Clone(files)
	if parents {
		seen := map[string]bool{}
		for _, f := range files {
			seen[f.Path] = true
		}
		for _, f := range files {
			for d := path.Dir(strings.TrimSuffix(f.Path, "/")); ; d = path.Dir(d) {
				dir := strings.TrimSuffix(d, "/") + "/"
				if !seen[dir] {
					seen[dir] = true
					all = append(all, pkgFile{Path: dir, Mode: 0o755})
				}
				if d == "/" {
					break
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b pkgFile) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range all {
		name := strings.TrimPrefix(f.Path, "/")
		if prefix != "" {
			name = prefix + "/" + name
		}
		if name == "" {
			continue
		}
		h := &tar.Header{Name: name, Mode: f.Mode, ModTime: mtime, Uid: f.UID, Gid: f.GID, Format: tar.FormatGNU}
		if f.UID == 0 && f.GID == 0 {
			h.Uname, h.Gname = "root", "root"
		}
		if strings.HasSuffix(f.Path, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return err
		}
	}
	return nil
}
