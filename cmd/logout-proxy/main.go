// Command logout-proxy puts Logout's idle sign-out in front of an admin
// panel it did not write: Django admin, WordPress, OctoberCMS, or any panel
// described by a JSON profile.
//
//	go run ./cmd/logout-proxy --upstream http://127.0.0.1:8000 --profile django
//	go run ./cmd/logout-proxy --help
//
// The first start creates the proxy's own administrator, for its admin
// pages (settings, active sessions with forced sign-out, sign-out log)
// under --admin-prefix, and prints the password once. Stop it with Ctrl-C
// (SIGINT) or SIGTERM: it finishes the requests in flight, then writes
// pending session activity.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/admin"
	"github.com/gologout/logout/cmd/internal/audit"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/cmd/internal/version"
	"github.com/gologout/logout/oidc"
	"github.com/gologout/logout/proxy"
)

func main() {
	if err := backend.CheckSettingsEnv(os.Environ()); err != nil {
		serve.Report(os.Stderr, command.Name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(serve.ExitCode(err))
}

// errUsage marks errors in the command line.
var errUsage = serve.ErrUsage

// command is this command with its defaults, apart from the backend's:
// its own port and data directory, and an administrator whom no one takes
// for a panel's "admin".
var command = serve.Command{Name: "logout-proxy", Addr: "127.0.0.1:8090", Data: "./logout-proxy-data", AdminUser: "proxy-admin"}

const usageHead = `Usage: logout-proxy --upstream URL --profile NAME|FILE [flags]
       logout-proxy export events|settings [flags]   (see logout-proxy export --help)
       logout-proxy reset-password [USER]            (see logout-proxy reset-password --help)
       logout-proxy sessions list|end [flags]        (see logout-proxy sessions --help)
       logout-proxy tokens create|list|revoke        (see logout-proxy tokens --help)

Runs a reverse proxy in front of an admin panel that signs idle users out:
on the server, with a countdown next to the panel's user menu, a warning
before the end, and "You have been logged out!" on the panel's sign-in page.
Sessions are the panel's own (its session cookie); nothing in the panel
changes. Profiles: django, wordpress, octobercms, phpmyadmin, or a JSON file (see
proxy/README.md).

The first start creates the proxy's administrator, "proxy-admin", for its
own admin pages (settings, active sessions, sign-out log) under
--admin-prefix and prints the password once. Set LOGOUT_ADMIN_USER and
LOGOUT_ADMIN_PASSWORD to choose them instead; they are read only when no
users exist yet. Lost the password? "logout-proxy reset-password" prints
a new one.

Single sign-on: for a panel that signs in through an OpenID provider (its
SSO plugin), set --oidc-issuer, --oidc-client-id and
LOGOUT_OIDC_CLIENT_SECRET (a client of the proxy's own). The proxy then
signs browsers in at the provider before the panel does, ends the provider
session when a session ends (or, with --oidc-keep-provider-session, asks
for the password at the next sign-in), and ends the panel's sessions when
the provider signs the user out. Register at the provider, with <URL> the
--public-url and <PREFIX> the panel's (/admin for django):
  redirect URI              <URL><PREFIX>/_logout/sso/callback
  post-logout redirect URI  <URL><PREFIX>/_logout/sso/logged-out
  back-channel logout URI   <URL><PREFIX>/_logout/sso/backchannel
  (front-channel logout URI <URL><PREFIX>/_logout/sso/frontchannel, if no back-channel)
Set LOGOUT_OIDC_COOKIE_KEY (64 hex digits, the same on every instance),
which seals the ID token in the browser's cookie.

Every flag can also be set by the environment variable in parentheses; a flag
given on the command line wins. ` + audit.SettingsHelp + `

Flags:
`

// options are the parsed command line.
type options struct {
	serve.Flags
	upstream, profile, adminPrefix string
	trustedProxies                 []netip.Prefix
	settings                       audit.Settings
	rewriteOrigins                 []string
	clientTimeout                  time.Duration
	upstreamURL                    *url.URL
	laravelKey                     *proxy.LaravelKey
	prof                           proxy.Profile
	publicURL                      string
	oidc                           oidcOptions
}

// oidcOptions are the single sign-on's flags and secrets.
type oidcOptions struct {
	issuer, clientID, clientSecret string
	scopes                         []string
	cookieKey                      []byte
	keepProviderSession            bool
}

// parse reads the flags, with defaults from the environment.
func parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (options, bool, error) {
	env := func(name, def string) string { return serve.Env(getenv, name, def) }
	var o options
	fs := flag.NewFlagSet("logout-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Flags.Register(fs, getenv, command, "; several proxies share one Redis, PostgreSQL or MySQL store")
	fs.StringVar(&o.upstream, "upstream", env("LOGOUT_UPSTREAM", ""), "the panel's `URL`, such as http://127.0.0.1:8000; required (LOGOUT_UPSTREAM)")
	fs.StringVar(&o.profile, "profile", env("LOGOUT_PROFILE", ""), "the panel: django, wordpress, octobercms, phpmyadmin, or the `name or path` of a JSON profile file; required (LOGOUT_PROFILE)")
	fs.StringVar(&o.adminPrefix, "admin-prefix", env("LOGOUT_ADMIN_PREFIX", "/logout-proxy"), "URL `path` of the proxy's own admin pages; requests below it never reach the panel (LOGOUT_ADMIN_PREFIX)")
	proxies := serve.ListFlag(fs, getenv, "trusted-proxy", "LOGOUT_TRUSTED_PROXY", "`address or network` of a reverse proxy in front of this one, such as 10.0.0.0/8, whose X-Forwarded-For, -Host and -Proto are kept; "+
		"repeat it or separate with commas. From anyone else those headers are replaced (LOGOUT_TRUSTED_PROXY)")
	origins := serve.ListFlag(fs, getenv, "rewrite-origin", "LOGOUT_REWRITE_ORIGIN", "`origin` such as https://example.com that the panel believes it has (WordPress's site address): its redirects there are rewritten to the proxy's address; repeat or separate with commas (LOGOUT_REWRITE_ORIGIN)")
	clientTimeout, envErr := serve.EnvDuration(getenv, "LOGOUT_CLIENT_TIMEOUT", serve.ClientTimeout)
	fs.DurationVar(&o.clientTimeout, "client-timeout", clientTimeout, "how long a client may stall, a `duration` such as 30s: request headers must arrive within it, each read of a request body "+
		"and each write of a response must get through within it, and a body must come at 512 bytes/s on average; long uploads, downloads and streams "+
		"go on while data flows. A stalled client's connection, and its request's connection to the panel, are closed (LOGOUT_CLIENT_TIMEOUT)")
	// The keys' defaults are never the environment's values, so that
	// --help does not print them.
	var laravelKey string
	fs.StringVar(&laravelKey, "laravel-app-key", "", "the Laravel panel's APP_KEY (base64:…) with which to decrypt its session cookie (OctoberCMS's october_session); "+
		"prefer the environment variable, which other users cannot see in the process list (LOGOUT_PROXY_LARAVEL_APP_KEY)")
	var previousKeys string
	fs.StringVar(&previousKeys, "laravel-previous-keys", "", "the Laravel panel's APP_PREVIOUS_KEYS (Laravel 11 key rotation), `comma-separated`: cookies sealed with them are decrypted too; "+
		"needs --laravel-app-key; prefer the environment variable (LOGOUT_PROXY_LARAVEL_PREVIOUS_KEYS)")

	fs.StringVar(&o.publicURL, "public-url", env("LOGOUT_PUBLIC_URL", ""), "the `URL` at which browsers reach the proxy, such as https://panel.example, for the single sign-on's redirect URIs; "+
		"default http(s):// and --addr (LOGOUT_PUBLIC_URL)")
	fs.StringVar(&o.oidc.issuer, "oidc-issuer", env("LOGOUT_OIDC_ISSUER", ""), "the OpenID provider's issuer `URL`, exactly as its tokens write it: single sign-on in front of the panel; "+
		"needs --oidc-client-id and LOGOUT_OIDC_CLIENT_SECRET (LOGOUT_OIDC_ISSUER)")
	fs.StringVar(&o.oidc.clientID, "oidc-client-id", env("LOGOUT_OIDC_CLIENT_ID", ""), "the proxy's client `ID` at the OpenID provider; its secret is read from LOGOUT_OIDC_CLIENT_SECRET only (LOGOUT_OIDC_CLIENT_ID)")
	scopes := serve.ListFlag(fs, getenv, "oidc-scope", "LOGOUT_OIDC_SCOPE", "further `scope` to ask the OpenID provider for besides openid, such as profile or email: "+
		"the sessions' user is the ID token's preferred_username, else its email, else its subject; repeat or separate with commas (LOGOUT_OIDC_SCOPE)")
	fs.BoolVar(&o.oidc.keepProviderSession, "oidc-keep-provider-session", getenv("LOGOUT_OIDC_KEEP_PROVIDER_SESSION") == "1" || getenv("LOGOUT_OIDC_KEEP_PROVIDER_SESSION") == "true",
		"when a session ends, leave the provider session alone (other applications share it) and ask for the password at the next sign-in (prompt=login) "+
			"instead of ending it (LOGOUT_OIDC_KEEP_PROVIDER_SESSION)")

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
		fmt.Fprintln(stdout, version.Read().String("logout-proxy"))
		return o, true, nil
	case envErr != nil:
		err = envErr
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.upstream == "":
		err = errors.New("--upstream is required, such as --upstream http://127.0.0.1:8000")
	case o.profile == "":
		err = errors.New("--profile is required: django, wordpress, octobercms, phpmyadmin or a JSON file")
	default:
		if err = o.Flags.Check(); err == nil {
			err = o.check(*proxies, *origins)
		}
	}
	if err == nil {
		if laravelKey == "" {
			laravelKey = getenv("LOGOUT_PROXY_LARAVEL_APP_KEY")
		}
		if previousKeys == "" {
			previousKeys = getenv("LOGOUT_PROXY_LARAVEL_PREVIOUS_KEYS")
		}
		switch {
		case laravelKey != "":
			// The error names the flag, never the key.
			if o.laravelKey, err = proxy.ParseLaravelKey(laravelKey, strings.Split(previousKeys, ",")...); err != nil {
				err = fmt.Errorf("--laravel-app-key or --laravel-previous-keys: %w", err)
			}
		case strings.Trim(previousKeys, ", ") != "":
			err = errors.New("--laravel-previous-keys needs --laravel-app-key (or LOGOUT_PROXY_LARAVEL_APP_KEY)")
		}
	}
	if err == nil {
		err = o.checkOIDC(getenv, *scopes)
	}
	if err != nil {
		return o, false, serve.Usage("", err)
	}
	return o, false, nil
}

// check validates and converts the values that need it.
func (o *options) check(proxies, origins string) error {
	u, err := url.Parse(o.upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("--upstream %q: want http://host:port or https://host, without a path", o.upstream)
	}
	o.upstreamURL = u
	if o.clientTimeout <= 0 {
		return fmt.Errorf("--client-timeout %v: want a positive duration such as 30s", o.clientTimeout)
	}
	if o.prof, err = loadProfile(o.profile); err != nil {
		return err
	}
	p := strings.TrimRight(o.adminPrefix, "/")
	if p == "" || p[0] != '/' || (o.prof.Prefix != "/" && strings.HasPrefix(p+"/", strings.TrimRight(o.prof.Prefix, "/")+"/")) {
		return fmt.Errorf("--admin-prefix %q: want a path such as /logout-proxy, outside the panel's %s", o.adminPrefix, o.prof.Prefix)
	}
	o.adminPrefix = p
	if o.trustedProxies, err = serve.ParsePrefixes(proxies); err != nil {
		return err
	}
	for item := range strings.SplitSeq(origins, ",") {
		if item = strings.TrimSpace(item); item != "" {
			o.rewriteOrigins = append(o.rewriteOrigins, strings.TrimRight(item, "/"))
		}
	}
	return nil
}

// checkOIDC validates the single sign-on's flags and reads its secrets
// from the environment. Errors name the variables, never their values.
func (o *options) checkOIDC(getenv func(string) string, scopes string) error {
	c := &o.oidc
	for item := range strings.SplitSeq(scopes, ",") {
		if item = strings.TrimSpace(item); item != "" {
			c.scopes = append(c.scopes, item)
		}
	}
	c.clientSecret = getenv("LOGOUT_OIDC_CLIENT_SECRET")
	key := getenv("LOGOUT_OIDC_COOKIE_KEY")
	if o.publicURL != "" {
		u, err := url.Parse(o.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return fmt.Errorf("--public-url %q: want http(s)://host[:port], without a path", o.publicURL)
		}
		o.publicURL = strings.TrimRight(o.publicURL, "/")
	}
	if c.issuer == "" {
		if c.clientID != "" || c.keepProviderSession || len(c.scopes) > 0 {
			return errors.New("--oidc-client-id, --oidc-scope and --oidc-keep-provider-session need --oidc-issuer")
		}
		return nil
	}
	switch {
	case c.clientID == "":
		return errors.New("--oidc-issuer needs --oidc-client-id")
	case c.clientSecret == "":
		return errors.New("--oidc-issuer needs the client's secret in LOGOUT_OIDC_CLIENT_SECRET")
	}
	if key != "" {
		b, err := hex.DecodeString(key)
		if err != nil || len(b) < 32 {
			return errors.New("LOGOUT_OIDC_COOKIE_KEY: want at least 64 hex digits (32 bytes), such as the output of openssl rand -hex 32")
		}
		c.cookieKey = b
	}
	return nil
}

// sso returns the proxy's Options.SSO for the flags, or nil without
// --oidc-issuer.
func (o *options) sso(ctx context.Context, base string, secure bool, now func() time.Time, logger *slog.Logger) func(*logout.Manager, string) (proxy.SSO, error) {
	c := o.oidc
	if c.issuer == "" {
		return nil
	}
	if c.cookieKey == nil {
		logger.Warn("logout-proxy: LOGOUT_OIDC_COOKIE_KEY is not set: a random key per process seals the single sign-on's cookies, " +
			"so after a restart, or on another instance, an ended session's provider session is not ended (the next sign-in still asks for the password)")
	}
	if o.publicURL != "" {
		base = o.publicURL
	}
	return func(m *logout.Manager, path string) (proxy.SSO, error) {
		s, err := oidc.NewProxySSO(ctx, m, oidc.ProxyOptions{
			Options: oidc.Options{Issuer: c.issuer, ClientID: c.clientID, KeepProviderSession: c.keepProviderSession,
				CookieKey: c.cookieKey, Secure: secure, Now: now, Logger: logger},
			ClientSecret: c.clientSecret, URL: base + path, UserID: o.prof.UserID, Scopes: c.scopes,
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// loadProfile returns a built-in profile by name, or reads a JSON file.
func loadProfile(name string) (proxy.Profile, error) {
	if p, ok := proxy.Profiles()[name]; ok {
		return p, nil
	}
	if !strings.ContainsAny(name, "./\\") {
		names := make([]string, 0, 3)
		for n := range proxy.Profiles() {
			names = append(names, n)
		}
		sort.Strings(names)
		return proxy.Profile{}, fmt.Errorf("--profile %q: unknown; want one of %s, or a JSON file", name, strings.Join(names, ", "))
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return proxy.Profile{}, fmt.Errorf("--profile: %w", err)
	}
	p, err := proxy.ParseProfile(b)
	if err != nil {
		return proxy.Profile{}, fmt.Errorf("--profile %s: %w", filepath.Base(name), err)
	}
	return p, nil
}

// hooks let tests replace the clock and learn the address.
type hooks struct {
	clock     logout.Clock // default logout.SystemClock
	listening func(addr string)
	logout    logout.Options
}

// run runs the proxy until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hk *hooks) (err error) {
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
	if hk == nil {
		hk = &hooks{}
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
	store, closeStore, err := serve.OpenStore(ctx, o.Store, o.Data)
	if err != nil {
		return err
	}
	defer closeStore()
	tls := o.Cert != ""
	clock := hk.clock
	if clock == nil {
		clock = logout.SystemClock{}
	}
	lo := hk.logout
	lo.Clock = clock
	lo.Observer = mon.Observer()
	app, err := backend.New(ctx, backend.Config{
		DataDir: o.Data, Prefix: o.adminPrefix, AssetsPrefix: o.adminPrefix + "/assets/", NoDemoUser: true, PanelUser: o.prof.UserID, ProxyPages: true,
		Store: store, Secure: tls || o.Secure, Logger: logger,
		Settings: settings, SettingsLocked: o.settings.Locked,
		AdminUser: serve.Env(getenv, "LOGOUT_ADMIN_USER", command.AdminUser), AdminPassword: getenv("LOGOUT_ADMIN_PASSWORD"),
		TrustedProxies: o.trustedProxies, SessionAddress: o.SessionAddress, Clock: clock, Logout: lo,
	})
	if err != nil {
		return err
	}
	defer app.Close()
	if o.laravelKey != nil {
		o.prof.DecodeKey = o.laravelKey.DecodeKey // sessions keyed by the ID inside the sealed cookie
	}
	// The panel's sessions keep their address as the admin pages' do.
	if lo.ClientAddr, err = backend.SessionAddr(o.trustedProxies, o.SessionAddress); err != nil {
		return err
	}
	base := serve.BaseURL(ln.Addr(), tls)
	px, err := proxy.New(store, proxy.Options{
		Upstream: o.upstreamURL, Profile: o.prof, TrustedProxies: o.trustedProxies,
		RewriteOrigins: o.rewriteOrigins, Logger: logger, Logout: lo,
		StripCookies: ownCookies(app.CookieNames()),
		SSO:          o.sso(ctx, base, tls || o.Secure, clock.Now, logger),
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "logout-proxy: %s (%s) on %s\n", o.upstreamURL, o.prof.Name, base)
	fmt.Fprintf(stdout, "admin pages: %s%s\n", base, o.adminPrefix)
	for _, c := range app.Created() {
		if c.Role != backend.RoleAdmin {
			continue
		}
		fmt.Fprintf(stdout, "\nFirst start: the proxy's administrator was created. Sign in at %s%s\n", base, app.SignInPath())
		fmt.Fprintf(stdout, "  user %s  password %s\nThis password is shown only once.\n", c.User, c.Password)
	}
	if hk.listening != nil {
		hk.listening(base)
	}

	srv := &http.Server{
		Handler:           router(o.adminPrefix, app.Handler(), px),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Not ReadTimeout and WriteTimeout: they would cut long uploads,
	// downloads and streams.
	sln := serve.LimitStalls(srv, ln, o.clientTimeout)
	var t *serve.TLS
	if tls {
		t = &serve.TLS{Cert: o.Cert, Key: o.Key}
	}
	return serve.Run(ctx, "logout-proxy", logger, srv, sln, t, app.Run, px.Run, mon.Run(px.Manager()))
}

// router sends the admin pages and their assets (below adminPrefix +
// "/assets/") to the backend app and everything else through the proxy.
func router(adminPrefix string, admin, px http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == adminPrefix || strings.HasPrefix(p, adminPrefix+"/") {
			admin.ServeHTTP(w, r)
			return
		}
		px.ServeHTTP(w, r)
	})
}

// ownCookies are the admin pages' cookies (names, as
// [backend.App.CookieNames] gives them), never forwarded to the panel.
func ownCookies(names []string) []proxy.Pattern {
	var out []proxy.Pattern
	for _, name := range names {
		p, err := proxy.ParsePattern(name)
		if err == nil {
			out = append(out, p)
		}
	}
	return out
}
