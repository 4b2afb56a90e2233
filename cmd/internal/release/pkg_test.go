package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v0.1.0":                             "0.1.0",
		"v0.2.0-rc.1":                        "0.2.0~rc.1",
		"v0.0.0-20261204220619-4db46c75bc6e": "0.0.0~20261204220619.4db46c75bc6e",
		"v0.1.1-0.20261204220619-4db46c75bc6e+dirty": "0.1.1~0.20261204220619.4db46c75bc6e+dirty",
	} {
		if got := debVersion(in); got != want {
			t.Errorf("debVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDebArchive writes a small package and reads it back as dpkg reads
// it: an ar archive of three members, then with dpkg-deb where present.
func TestDebArchive(t *testing.T) {
	p := debPackage{
		Name: "example", Version: "1.0", Arch: "amd64", Maintainer: "M <m@example.com>", Homepage: "https://example.com",
		Section: "web", Summary: "an example", Description: "One paragraph.\n\nAnother.",
		Files: []pkgFile{
			{Path: "/usr/bin/example", Mode: 0o755, Body: []byte("#!/bin/sh\necho hi\n")},
			{Path: "/etc/example.conf", Mode: 0o644, Body: []byte("x=1\n"), Conffile: true},
		},
		Scripts: map[string]string{"postinst": "#!/bin/sh\nexit 0\n"},
		MTime:   time.Unix(1700000000, 0),
	}
	var buf bytes.Buffer
	if err := p.write(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("!<arch>\ndebian-binary   ")) {
		t.Fatalf("not an ar archive starting with debian-binary: %q", b[:40])
	}
	for _, member := range []string{"control.tar.gz  ", "data.tar.gz     "} {
		if !bytes.Contains(b, []byte(member)) {
			t.Errorf("no member %q", member)
		}
	}
	dpkg, err := exec.LookPath("dpkg-deb")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dpkg-deb is not installed, and CI=true needs it to read the package (Debian: apt-get install dpkg)")
		}
		t.Skip("dpkg-deb is not installed: the archive's layout is checked, not its reading by dpkg")
	}
	file := filepath.Join(t.TempDir(), "example.deb")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := command(t.Context(), "", nil, dpkg, "--info", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Package: example", "Description: an example", "One paragraph.\n  .\n  Another.", "conffiles", "postinst"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, out)
		}
	}
	out, err = command(t.Context(), "", nil, dpkg, "--contents", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"./usr/bin/example", "./etc/example.conf", "drwxr-xr-x root/root"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg-deb --contents lacks %q:\n%s", want, out)
		}
	}
}

func TestModuleLicences(t *testing.T) {
	if got := moduleLicences(repoDir(t)); got != "MIT" {
		t.Errorf("the repository: got %q, want MIT", got)
	}
	if got := moduleLicences(t.TempDir()); got != "NOASSERTION" {
		t.Errorf("no licence file: got %q, want NOASSERTION", got)
	}
}

// TestUnit checks the systemd unit that the package installs holds what
// verify asks of it.
func TestUnit(t *testing.T) {
	lines := strings.Split(string(linuxFile("logout-proxy.service")), "\n")
	for _, want := range unitMust {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("the unit lacks %q", want)
		}
	}
}
