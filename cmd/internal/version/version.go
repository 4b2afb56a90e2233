// Package version tells which build of a command is running, from the
// build information that the go command writes into every binary
// (runtime/debug.ReadBuildInfo): the module version that `go install
// …@vX.Y.Z` or a release build records, the commit of a build from a
// checkout, and the Go version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the version of the command's module: "v0.1.0" for a
	// release or `go install …@v0.1.0`, a pseudo-version such as
	// "v0.1.1-0.20261204120000-0123456789ab+dirty" for a build from a
	// checkout, or "(devel)" when the go command recorded none.
	Version string
	// Commit is the VCS revision the binary was built from, and Modified
	// reports uncommitted changes; "" when not recorded (go install from
	// the module proxy records the module version instead).
	Commit   string
	Modified bool
	// Time is the commit's time (RFC 3339), or "".
	Time string
	// GoVersion is the Go toolchain that built the binary, such as
	// "go1.26.8".
	GoVersion string
}

// Read returns the running binary's Info. Without build information
// (a binary built outside module mode) the version is "(devel)".
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)", GoVersion: runtime.Version()}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo returns the Info that bi records.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "vcs.time":
			in.Time = s.Value
		}
	}
	return in
}

// String returns the line that --version prints for the command name:
//
//	logout-proxy v0.1.0 (commit 0123456789ab, 2026-12-04T12:00:00Z) built with go1.26.8 for linux/amd64
func (in Info) String(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", name, in.Version)
	if in.Commit != "" {
		commit := in.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if in.Modified {
			commit += ", modified"
		}
		if in.Time != "" {
			commit += ", " + in.Time
		}
		fmt.Fprintf(&b, " (commit %s)", commit)
	}
	fmt.Fprintf(&b, " built with %s for %s/%s", in.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
