package version_test

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/gologout/logout/cmd/internal/version"
)

func TestString(t *testing.T) {
	platform := " for " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{
			name: "go install from the module proxy",
			bi:   debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}},
			want: "logout-proxy v0.1.0 built with go1.26.8" + platform,
		},
		{
			name: "release build from the tagged commit",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-12-04T12:00:00Z"},
				{Key: "vcs.modified", Value: "false"},
			}},
			want: "logout-proxy v0.1.0 (commit 0123456789ab, 2026-12-04T12:00:00Z) built with go1.26.8" + platform,
		},
		{
			name: "checkout with changes",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.1-0.20261204120000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef"},
				{Key: "vcs.modified", Value: "true"},
			}},
			want: "logout-proxy v0.1.1-0.20261204120000-0123456789ab+dirty (commit 0123456789ab, modified) built with go1.26.8" + platform,
		},
		{
			name: "nothing recorded",
			bi:   debug.BuildInfo{GoVersion: "go1.26.8"},
			want: "logout-proxy (devel) built with go1.26.8" + platform,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := version.FromBuildInfo(&tc.bi).String("logout-proxy"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	if got := version.Read(); got.GoVersion != runtime.Version() || got.Version == "" {
		t.Errorf("got %+v, want the test binary's Go version %s and a version", got, runtime.Version())
	}
}
