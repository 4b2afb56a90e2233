package serve_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/gologout/logout/cmd/internal/serve"
)

func TestReport(t *testing.T) {
	settings := errors.New("backend: settings file s.toml: logout: lifetim: is not a settings key; did you mean lifetime?")
	for _, tc := range []struct {
		name string
		err  error
		want string
		code int
	}{
		{"none", nil, "", 0},
		{"one prefix", settings,
			"backend: settings file s.toml: lifetim: is not a settings key; did you mean lifetime?\n", 1},
		{"usage, once with the help", serve.Usage("", errors.New("flag provided but not defined: -nope")),
			"backend: flag provided but not defined: -nope\nRun 'backend --help' for usage.\n", 2},
		{"usage of a subcommand", fmt.Errorf("wrapped: %w", serve.Usage("backend export", errors.New("export: want events or settings"))),
			"backend: wrapped: export: want events or settings\nRun 'backend export --help' for usage.\n", 2},
		{"a permission problem, named once", serve.Explain(fmt.Errorf("backend: users database: %w", &fs.PathError{Op: "open", Path: "data/users.db", Err: fs.ErrPermission})),
			"backend: permission denied (does the user running this command own the data directory?): users database: open data/users.db: permission denied\n", 1},
		{"a segment that is a package name alone", errors.New("listen: user logout: backend"),
			"backend: listen: user logout\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			serve.Report(&out, "backend", tc.err)
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
			if got := serve.ExitCode(tc.err); got != tc.code {
				t.Errorf("exit code: got %d, want %d", got, tc.code)
			}
		})
	}
}
