package serve

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gologout/logout/cmd/internal/backend"
)

// Flags are the flags that both commands take: where to listen, the data
// directory and the store, TLS, the logs and the monitoring address.
// Each defaults to its environment variable.
type Flags struct {
	Addr, Data, Store, Cert, Key, LogFormat, LogLevel, MetricsAddr string
	Secure                                                         bool
	// SessionAddress is how much of the client's address a session
	// keeps: backend.Config.SessionAddress.
	SessionAddress backend.AddressMode
}

// Env returns the value of the environment variable name, or def when
// it is empty.
func Env(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// EnvDuration returns the duration in the environment variable name, or
// def when it is empty; a value that is not a positive duration is an
// error naming the variable.
func EnvDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return def, fmt.Errorf("%s %q: want a positive duration such as %v", name, v, def)
	}
	return d, nil
}

// Register defines the flags on fs, with c's defaults. storeNote ends
// the --store help, for what the command adds about sharing a store.
func (f *Flags) Register(fs *flag.FlagSet, getenv func(string) string, c Command, storeNote string) {
	env := func(name, def string) string { return Env(getenv, name, def) }
	fs.StringVar(&f.Addr, "addr", env("LOGOUT_ADDR", c.Addr), "`host:port` to listen on; port 0 picks a free port (LOGOUT_ADDR)")
	fs.StringVar(&f.Data, "data", env("LOGOUT_DATA", c.Data), "data `directory` for users.db and, with the SQLite store, sessions.db; created if missing, and "+c.Name+"'s alone (LOGOUT_DATA)")
	fs.StringVar(&f.Store, "store", env("LOGOUT_STORE", "sqlite"), "session `store`: sqlite (in the data directory), redis://host:6379/0, postgres://user:pass@host/db or mysql://user:pass@host:3306/db?prefix=wp_"+storeNote+" (LOGOUT_STORE)")
	fs.StringVar(&f.Cert, "tls-cert", env("LOGOUT_TLS_CERT", ""), "TLS certificate `file` (PEM); serve HTTPS with --tls-key (LOGOUT_TLS_CERT)")
	fs.StringVar(&f.Key, "tls-key", env("LOGOUT_TLS_KEY", ""), "TLS private key `file` (PEM) (LOGOUT_TLS_KEY)")
	fs.BoolVar(&f.Secure, "secure", getenv("LOGOUT_SECURE") == "1" || getenv("LOGOUT_SECURE") == "true",
		"mark the pages' cookies Secure even over plain HTTP, behind a TLS-terminating proxy; implied by --tls-cert (LOGOUT_SECURE=1)")
	fs.StringVar(&f.LogFormat, "log-format", env("LOGOUT_LOG_FORMAT", "text"), "log `format` on standard error: text or json (LOGOUT_LOG_FORMAT)")
	fs.StringVar(&f.LogLevel, "log-level", env("LOGOUT_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error (LOGOUT_LOG_LEVEL)")
	MonitorFlag(fs, &f.MetricsAddr, getenv)
	fs.StringVar((*string)(&f.SessionAddress), "session-address", env("LOGOUT_SESSION_ADDRESS", string(backend.AddressTruncated)),
		"how much of the client's `address` each session keeps to show on the sessions pages: full, truncated (IPv4 /24, IPv6 /48: 192.0.2.0) or none; "+
			"it goes with the session (LOGOUT_SESSION_ADDRESS)")
}

// ListFlag defines a flag that may be repeated and holds a
// comma-separated list, with the environment variable envName as its
// default; the command line replaces the environment's list. It returns
// the list as one comma-separated string (with empty items).
func ListFlag(fs *flag.FlagSet, getenv func(string) string, name, envName, usage string) *string {
	v := getenv(envName)
	fromEnv := true
	fs.Func(name, usage, func(s string) error {
		if fromEnv {
			v, fromEnv = "", false
		}
		v += "," + s
		return nil
	})
	return &v
}

// Check returns an error for flags that go together or take one of a
// few values.
func (f *Flags) Check() error {
	switch {
	case (f.Cert == "") != (f.Key == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case f.LogFormat != "text" && f.LogFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", f.LogFormat)
	}
	if _, err := backend.ParseAddressMode(string(f.SessionAddress)); err != nil {
		return fmt.Errorf("--session-address %q: want full, truncated or none", f.SessionAddress)
	}
	return nil
}

// Logger returns the logger that --log-format and --log-level ask for,
// writing to w; a level it does not know is an error wrapping
// [ErrUsage].
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return nil, Usage("", fmt.Errorf("--log-level: %w", err))
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
