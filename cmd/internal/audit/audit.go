// Package audit holds what the project's commands share for audits and
// settings as code: the export subcommand ("export events|settings") and
// the --settings-file and --settings-locked flags.
package audit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/proxy"
)

// SettingsHelp is the part of the commands' --help on the settings
// variables.
const SettingsHelp = `The settings of the settings page can be set
at start by --settings-file and by these variables, which win over the file:
LOGOUT_SETTINGS_LIFETIME, _ABSOLUTE_LIFETIME, _WARNING_LEAD (seconds),
_SHOW_COUNTER, _FRONTEND_ACTIVITY, _SIGN_OUT_ON_CLOSE (on or off),
_CLOSE_GRACE (seconds), _MAX_SESSIONS, _RETENTION_DAYS, _POLICY (custom,
pci-dss, nist-aal2, nist-aal3), _ROLE_LIFETIMES and _USER_LIFETIMES
(name=seconds,…).`

// Settings are the --settings-file and --settings-locked flags.
type Settings struct {
	// File is the settings file's path; "" for none.
	File string
	// Locked makes the settings page read-only.
	Locked bool
}

// Register adds the flags to fs, with defaults from the environment
// (LOGOUT_SETTINGS_FILE, LOGOUT_SETTINGS_LOCKED=1).
func (s *Settings) Register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&s.File, "settings-file", getenv("LOGOUT_SETTINGS_FILE"),
		"TOML `file` of settings applied at start, at most 1 MiB (lifetime = 900, policy = \"pci-dss\", …); LOGOUT_SETTINGS_<KEY> variables such as "+
			"LOGOUT_SETTINGS_LIFETIME=900 override it; an invalid file stops the start (LOGOUT_SETTINGS_FILE)")
	locked := getenv("LOGOUT_SETTINGS_LOCKED")
	fs.BoolVar(&s.Locked, "settings-locked", locked == "1" || locked == "true",
		"show the settings from --settings-file and LOGOUT_SETTINGS_* read-only on the settings page, which then refuses changes (LOGOUT_SETTINGS_LOCKED=1)")
}

// Load reads the settings file and the LOGOUT_SETTINGS_* variables. It
// returns nil when there are neither (nothing to apply), and an error
// wrapping [serve.ErrUsage] when --settings-locked has nothing to lock.
func (s Settings) Load(getenv func(string) string) (*backend.SettingsSource, error) {
	set := s.File != ""
	for _, name := range backend.SettingsEnvNames() {
		set = set || getenv(name) != ""
	}
	if !set {
		if s.Locked {
			return nil, serve.Usage("", errors.New("--settings-locked needs --settings-file or LOGOUT_SETTINGS_* variables"))
		}
		return nil, nil
	}
	return backend.LoadSettings(s.File, getenv)
}

// exportUsage heads the export subcommand's --help.
const exportUsage = `Usage: %[1]s export events|settings [flags]

Writes the sign-out log (events) or the settings history (settings) to
standard output as CSV or JSON, newest first: everything that the filters
select, read from the store a page at a time. Where a spreadsheet would
run a CSV cell as a formula (one starting with = + - @, a tab or CR, also
after a ; or a line break in the cell) an apostrophe ' is put before it,
and cells holding , ; tab " CR or LF are quoted.

  %[1]s export events --format csv --since 2026-01-01 --until 2026-01-31 > sign-outs.csv
  %[1]s export settings --format json > settings-history.json

Flags:
`

// Export runs "c.Name export events|settings" with the arguments after
// "export". Errors in the command line wrap [serve.ErrUsage].
func Export(ctx context.Context, c serve.Command, args []string, getenv func(string) string, stdout io.Writer) error {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	name := c.Name
	fs := flag.NewFlagSet(name+" export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var format, store, data string
	f := backend.Filter{}
	if name == "logout-proxy" {
		f.PanelUser = proxy.PanelUser
	}
	fs.StringVar(&format, "format", "csv", "`csv or json`")
	fs.StringVar(&f.Since, "since", "", "first `date` (YYYY-MM-DD, local time) or RFC 3339 time")
	fs.StringVar(&f.Until, "until", "", "last `date`, included, or RFC 3339 time, excluded")
	fs.StringVar(&f.User, "user", "", "events only: this `user` (a backend user's name, a session's user ID, or behind logout-proxy the panel user's name)")
	fs.StringVar(&f.Reason, "reason", "", "events only: this `reason` (idle, absolute, forced, manual, replaced, limit or closed)")
	fs.StringVar(&store, "store", env("LOGOUT_STORE", "sqlite"), "session `store`, as for the server (LOGOUT_STORE)")
	fs.StringVar(&data, "data", env("LOGOUT_DATA", c.Data), "data `directory`, as for the server (LOGOUT_DATA)")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, exportUsage, name)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	what := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		what, args = args[0], args[1:]
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return nil
	case err != nil:
	case what != "events" && what != "settings":
		err = fmt.Errorf("export: want events or settings, not %q", what)
	case fs.NArg() > 0:
		err = fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	case format != backend.FormatCSV && format != backend.FormatJSON:
		err = fmt.Errorf("export: --format %q: want csv or json", format)
	}
	var eq logout.EventQuery
	var hq logout.HistoryQuery
	var names map[string]string
	if err == nil && what == "events" {
		if names, err = backend.UserNames(ctx, data); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		eq, err = f.EventQuery(names, time.Local)
	} else if err == nil {
		hq, err = f.HistoryQuery(time.Local)
	}
	if err != nil {
		return serve.Usage(name+" export", err)
	}
	st, closeStore, err := serve.OpenStore(ctx, store, data)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer closeStore()
	m, err := logout.New(st, logout.Options{})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if what == "events" {
		return backend.ExportEvents(ctx, m, stdout, format, eq, names)
	}
	return backend.ExportSettings(ctx, m, stdout, format, hq)
}
