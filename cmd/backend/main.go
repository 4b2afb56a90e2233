// Command backend runs Logout's reference admin backend: sign-in, a
// dashboard with the countdown widget, the User Session settings, the
// active sessions and a public front end, on one address.
//
//	go run ./cmd/backend                 # http://127.0.0.1:8080/backend
//	go run ./cmd/backend --help
//
// The first start creates the users "admin" and "editor" and prints their
// passwords once. Stop it with Ctrl-C (SIGINT) or SIGTERM: it finishes the
// requests in flight, then writes pending session activity.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/admin"
	"github.com/gologout/logout/cmd/internal/audit"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/cmd/internal/version"
)

func main() {
	if err := backend.CheckSettingsEnv(os.Environ()); err != nil {
		serve.Report(os.Stderr, command.Name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(serve.ExitCode(err))
}

// errUsage marks errors in the command line.
var errUsage = serve.ErrUsage

// command is this command with its defaults, apart from logout-proxy's.
var command = serve.Command{Name: "backend", Addr: "127.0.0.1:8080", Data: "./data", AdminUser: "admin"}

const usageHead = `Usage: backend [flags]
       backend export events|settings [flags]   (see backend export --help)
       backend reset-password [USER]            (see backend reset-password --help)
       backend sessions list|end [flags]        (see backend sessions --help)
       backend tokens create|list|revoke        (see backend tokens --help)

Runs the Logout reference backend: an admin backend whose users are signed
out after a configurable idle time, with a countdown next to the avatar.

The first start creates the administrator (all permissions) and the demo
user "editor" (no settings permission) and prints their passwords once.
Set LOGOUT_ADMIN_USER, LOGOUT_ADMIN_PASSWORD and LOGOUT_EDITOR_PASSWORD
to choose them instead; they are read only when no users exist yet. Lost
the password? "backend reset-password" prints a new one.

Every flag can also be set by the environment variable in parentheses; a flag
given on the command line wins. ` + audit.SettingsHelp + `

Flags:
`

// options are the parsed command line.
type options struct {
	serve.Flags
	prefix         string
	trustedProxies []netip.Prefix
	settings       audit.Settings
}

// parse reads the flags, with defaults from the environment.
func parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (options, bool, error) {
	var o options
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Flags.Register(fs, getenv, command, "")
	fs.StringVar(&o.prefix, "prefix", serve.Env(getenv, "LOGOUT_PREFIX", "/backend"), "URL `path` prefix of the backend (LOGOUT_PREFIX)")
	proxies := serve.ListFlag(fs, getenv, "trusted-proxy", "LOGOUT_TRUSTED_PROXY",
		"`address or network` of a reverse proxy, such as 10.0.0.0/8, trusted to name the client in X-Forwarded-For or Forwarded "+
			"for sign-in throttling; repeat it or separate with commas. Without it, clients behind a proxy share its address (LOGOUT_TRUSTED_PROXY)")
	o.settings.Register(fs, getenv)
	showVersion := fs.Bool("version", false, "print the version, the commit and the Go version, and exit")
	usage := func(w io.Writer) {
		fmt.Fprint(w, usageHead)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return o, true, nil
	case err != nil:
	case *showVersion:
		fmt.Fprintln(stdout, version.Read().String("backend"))
		return o, true, nil
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	default:
		if err = o.Flags.Check(); err == nil {
			o.trustedProxies, err = serve.ParsePrefixes(*proxies)
		}
	}
	if err != nil {
		return o, false, serve.Usage("", err)
	}
	return o, false, nil
}

// run runs the backend until ctx is done, then shuts it down gracefully:
// the HTTP server first, then the Manager's flush of pending activity.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	// Every error is written once, here, as the person running the
	// command reads it.
	defer func() { serve.Report(stderr, command.Name, err) }()
	if ok, err := admin.Subcommand(ctx, command, args, getenv, stdout); ok {
		return err
	}
	o, help, err := parse(args, getenv, stdout, stderr)
	if err != nil || help {
		return err
	}
	logger, err := o.Logger(stderr)
	if err != nil {
		return err
	}
	serve.RedisLogs(logger)
	settings, err := o.settings.Load(getenv)
	if err != nil {
		return err
	}

	// Listen first: if the address is taken, no users are created whose
	// passwords would never be shown.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	mon, err := serve.ListenMonitor(o.MetricsAddr, stdout, logger)
	if err != nil {
		return err
	}
	defer mon.Close()
	if err := command.ClaimData(o.Data); err != nil {
		return err
	}
	tls := o.Cert != ""
	app, err := backend.New(ctx, backend.Config{
		DataDir: o.Data, Prefix: o.prefix, StoreURL: o.Store, Secure: tls || o.Secure, Logger: logger,
		Settings: settings, SettingsLocked: o.settings.Locked,
		AdminUser: getenv("LOGOUT_ADMIN_USER"), AdminPassword: getenv("LOGOUT_ADMIN_PASSWORD"),
		EditorPassword: getenv("LOGOUT_EDITOR_PASSWORD"),
		TrustedProxies: o.trustedProxies, SessionAddress: o.SessionAddress, Logout: logout.Options{Observer: mon.Observer()},
	})
	if err != nil {
		return err
	}
	defer app.Close()

	base := serve.BaseURL(ln.Addr(), tls)
	logger.Info("backend: listening", slog.String("url", base+o.prefix))
	fmt.Fprintf(stdout, "listening on %s\n", base)
	if c := app.Created(); len(c) > 0 {
		fmt.Fprintf(stdout, "\nFirst start: users created. Sign in at %s%s\n", base, app.SignInPath())
		for _, u := range c {
			fmt.Fprintf(stdout, "  user %-10s password %s  (role %s)\n", u.User, u.Password, u.Role)
		}
		fmt.Fprintln(stdout, "These passwords are shown only once.")
	}

	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	var t *serve.TLS
	if tls {
		t = &serve.TLS{Cert: o.Cert, Key: o.Key}
	}
	return serve.Run(ctx, "backend", logger, srv, ln, t, app.Run, mon.Run(app.Manager()))
}
