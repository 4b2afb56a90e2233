package serve

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gologout/logout/cmd/internal/backend"
)

// A Command describes one of the project's commands with the defaults
// that keep two commands on one machine apart: each listens on its own
// port and keeps its users in its own data directory.
type Command struct {
	Name      string // the command's name: "backend" or "logout-proxy"
	Addr      string // default --addr
	Data      string // default --data
	AdminUser string // the administrator that the first start creates (LOGOUT_ADMIN_USER replaces it)
}

// claimFile, in a data directory, names the command that made it.
const claimFile = "made-by"

// ClaimData creates the data directory dir if missing and records that
// c made it, or checks that c did: a directory that another command made
// holds that command's users and settings, and is refused with an error
// that says so. A directory made before this record existed is claimed.
func (c Command) ClaimData(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", Explain(err))
	}
	// SQLite needs to create files beside its databases (the write-ahead
	// log): a directory it cannot write to would fail later as "unable to
	// open database file (14)".
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, Explain(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	name := filepath.Join(dir, claimFile)
	b, err := os.ReadFile(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.WriteFile(name, []byte(c.Name+"\n"), 0o600); err != nil {
			return fmt.Errorf("data directory: %w", Explain(err))
		}
		return nil
	case err != nil:
		return fmt.Errorf("data directory: %w", Explain(err))
	}
	if owner := strings.TrimSpace(string(b)); owner != c.Name {
		return fmt.Errorf("data directory %s was made by %s, not %s: it holds %s's users and settings. Give %s a directory of its own with --data (default %s)",
			dir, owner, c.Name, owner, c.Name, c.Data)
	}
	return nil
}

// Explain returns err with a plain sentence in front when it is a
// permission problem, which SQLite and the os package report in their
// own terms ("unable to open database file (14)", "permission denied");
// once: an error Explain returned is returned as it is.
func Explain(err error) error {
	var pe *permissionError
	if errors.Is(err, os.ErrPermission) && !errors.As(err, &pe) {
		return &permissionError{err}
	}
	return err
}

type permissionError struct{ err error }

func (e *permissionError) Error() string {
	return "permission denied (does the user running this command own the data directory?): " + e.err.Error()
}
func (e *permissionError) Unwrap() error { return e.err }

const resetUsage = `Usage: %[1]s reset-password [--data DIR] [--password-stdin] [USER]

Sets a new password for USER in the data directory's users.db, or creates
USER as an administrator (every permission) when there is no such user:
the way back in when the password printed at the first start is lost.
USER defaults to LOGOUT_ADMIN_USER, else %[2]q, the administrator of the
first start. The new password is random and printed once, or read from
the first line of standard input with --password-stdin. It can run while
the server runs; the user's sessions go on.

Flags:
`

// ResetPassword runs "name reset-password" with the arguments after
// "reset-password", reading a password from stdin with --password-stdin.
// Errors in the command line are [Usage] errors.
func (c Command) ResetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet(c.Name+" reset-password", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", Env(getenv, "LOGOUT_DATA", c.Data), "data `directory`, as for the server (LOGOUT_DATA)")
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input instead of making one")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, resetUsage, c.Name, c.AdminUser)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	case err != nil:
	case fs.NArg() > 1:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(1))
	}
	if err != nil {
		return Usage(c.Name+" reset-password", err)
	}
	name := fs.Arg(0)
	if name == "" {
		name = Env(getenv, "LOGOUT_ADMIN_USER", c.AdminUser)
	}
	var password string
	if *fromStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reset-password: read standard input: %w", err)
		}
		if password = strings.TrimRight(line, "\r\n"); password == "" {
			return Usage(c.Name+" reset-password", errors.New("--password-stdin: standard input holds no password"))
		}
	}
	if err := c.ClaimData(*data); err != nil {
		return err
	}
	cred, created, err := backend.SetAdminPassword(ctx, *data, name, password)
	if err != nil {
		return fmt.Errorf("reset-password: %w", Explain(err))
	}
	what := "New password for"
	if created {
		what = "Administrator created:"
	}
	if *fromStdin {
		fmt.Fprintf(stdout, "%s %s (password from standard input) in %s\n", what, cred.User, *data)
		return nil
	}
	fmt.Fprintf(stdout, "%s %s in %s\n  user %s  password %s\nThis password is shown only once.\n", what, cred.User, *data, cred.User, cred.Password)
	return nil
}
