package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gologout/logout"
	"github.com/gologout/logout/pgstore"
	"github.com/gologout/logout/proxy"
	"github.com/gologout/logout/redisstore"
	"github.com/gologout/logout/sqlitestore"
)

// Permissions a user may hold.
const (
	// PermSettings is "Manage user session settings": the System › User
	// Session page.
	PermSettings = "settings"
	// PermSessions is "Manage sessions": the active sessions page, where
	// sessions are signed out.
	PermSessions = "sessions"
)

// Roles known to the backend; each gets a lifetime field on the settings
// page.
const (
	// RoleAdmin is the administrator's role.
	RoleAdmin = "admin"
	// RoleEditor is the demo editor's role.
	RoleEditor = "editor"
)

// knownRoles lists the roles in the order the settings page shows them.
func knownRoles() []string { return []string{RoleAdmin, RoleEditor} }

// Config configures an [App]. Zero fields take the defaults stated.
type Config struct {
	// DataDir holds users.db and, with the SQLite store, sessions.db. It
	// is created if missing. Default "data".
	DataDir string
	// Prefix is the path prefix of the backend. Default "/backend".
	Prefix string
	// StoreURL chooses the session store when Store is nil: "" or
	// "sqlite" for sessions.db in DataDir, "redis://…" (or "rediss://…")
	// for Redis, "postgres://…" (or "postgresql://…") for PostgreSQL,
	// "mysql://…" for MySQL or MariaDB (see [OpenStore]).
	StoreURL string
	// Store, when set, is used instead of StoreURL; the caller owns it.
	// The sign-in counts are then kept in users.db, as with SQLite.
	Store logout.Store
	// Secure marks cookies Secure (with the __Host- prefix) and adds
	// Strict-Transport-Security: set it when serving over TLS or behind
	// a TLS-terminating proxy. Requests over TLS get secure cookies anyway.
	Secure bool
	// TrustedProxies lists the reverse proxies (addresses or networks)
	// whose X-Forwarded-For or Forwarded header names the client, for
	// sign-in throttling. The headers of requests from other addresses
	// are ignored: anyone can send them. Default none, so that every
	// client behind a proxy shares the proxy's address: set it behind a
	// TLS-terminating proxy.
	TrustedProxies []netip.Prefix
	// SessionAddress is how much of the client's address (by the rule
	// of TrustedProxies) a new session keeps for the sessions pages:
	// AddressFull, AddressTruncated (the network: IPv4 /24, IPv6 /48) or
	// AddressNone. Default AddressTruncated: an address is personal data,
	// and its network is enough to tell one's devices apart. Like the
	// User-Agent, it goes when the session ends. Ignored when
	// Logout.ClientAddr is set.
	SessionAddress AddressMode
	// AdminUser and AdminPassword name the administrator created at the
	// first start. Defaults "admin" and a random password.
	AdminUser, AdminPassword string
	// EditorPassword is the password of the demo user "editor" created at
	// the first start. Default a random password.
	EditorPassword string
	// PanelUser, when set, tells that the sessions of users the backend
	// does not know are an admin panel's behind logout-proxy, and returns
	// the user ID of the panel's user of a name ([proxy.Profile.UserID]):
	// a name typed in a per-user rule or a filter that is no backend
	// user's then names the panel's user, compared as the panel compares
	// names. The pages show such users as "name (panel)" either way.
	PanelUser func(name string) string
	// ProxyPages names the pages for logout-proxy's admin pages: "Logout
	// proxy" in their titles and header and the proxy's footer, instead of
	// the reference backend's "Backend". Default false.
	ProxyPages bool
	// NoDemoUser, when set, creates only the administrator at the first
	// start, not the demo user "editor". Default false.
	NoDemoUser bool
	// AssetsPrefix is the path below which the App serves its CSS and
	// JavaScript ("app/") and the widget's files ("logout/"), such as
	// "/logout-proxy/assets/" for an App mounted beside other handlers
	// whose paths it must not take. It ends in "/". Default "/assets/".
	AssetsPrefix string
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Clock is the clock of the App and of its Manager (its
	// [logout.Options.Clock]): deadlines, rate limits, tokens, and the
	// timers of the Manager's Run. Default [logout.SystemClock].
	Clock logout.Clock
	// BcryptCost is the cost of new password hashes. Default
	// bcrypt.DefaultCost; tests may use bcrypt.MinCost.
	BcryptCost int
	// Settings, when not nil, are applied at start: saved through the
	// Manager as [SettingsAuthor] unless the settings in force already
	// hold them. Read them with [LoadSettings].
	Settings *SettingsSource
	// SettingsLocked, with Settings, makes the settings page read-only:
	// it shows the values and where they came from, and refuses to save
	// or reset (403). Default false: the page may change the settings
	// until the next start applies Settings again.
	SettingsLocked bool
	// Logout holds further options of the [logout.Manager], such as
	// SweepInterval or SyncInterval. Its BackendPrefix, Logger, Clock and
	// Secure are replaced by the fields above; its ClientAddr, when nil, is
	// that of TrustedProxies and SessionAddress ([SessionAddr]); its Deny,
	// when nil, answers a store outage's 503 in the page's language.
	Logout logout.Options
}

// A Credential is a user created at the first start, with the password
// to show once.
type Credential struct {
	User     string // the user name to sign in with
	Password string // the password, in clear: show it once, store it nowhere
	Role     string // RoleAdmin or RoleEditor
}

// An App is one instance of the backend. Several Apps may share a data
// directory or a store, as several processes would. Create one with [New];
// it is safe for concurrent use.
type App struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	m         *logout.Manager
	paths     logout.Paths // the Manager's: the sign-in page and the endpoints
	users     *userDB
	closers   []func() error
	handler   http.Handler
	pages     *pages
	cat       *catalogs
	assets    *assets
	limit     *throttle
	cop       *http.CrossOriginProtection
	key       []byte // HMAC key of sign-in form tokens
	deviceKey []byte // HMAC key of device cookies
	dummy     []byte // bcrypt hash compared for unknown users
	created   []Credential
}

// New opens the data directory, the user database and the session store,
// creates the first users if there are none, and returns the App. ctx
// bounds the opening only. Close the App when done.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.SettingsLocked && cfg.Settings == nil {
		return nil, errors.New("backend: locked settings need a settings file or LOGOUT_SETTINGS_* variables")
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/backend"
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("backend: prefix %q must be a path such as /backend, of letters, digits, '-', '_' and '/'", cfg.Prefix)
	}
	if cfg.AssetsPrefix == "" {
		cfg.AssetsPrefix = defaultAssets
	}
	if pre := strings.TrimSuffix(cfg.AssetsPrefix, "/"); !strings.HasSuffix(cfg.AssetsPrefix, "/") || !validPrefix(pre) {
		return nil, fmt.Errorf("backend: assets prefix %q must be a path ending in /, such as /assets/, of letters, digits, '-', '_' and '/'", cfg.AssetsPrefix)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = logout.SystemClock{}
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	// As clientAddr compares addresses, and as logout-proxy does.
	proxies, err := proxy.TrustedPrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	cfg.TrustedProxies = proxies
	if cfg.SessionAddress, err = ParseAddressMode(string(cfg.SessionAddress)); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	a := &App{cfg: cfg, log: cfg.Logger, now: cfg.Clock.Now, cop: http.NewCrossOriginProtection()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("backend: data directory: %w", err)
	}
	if a.cat, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if a.pages, err = loadPages(); err != nil {
		return nil, err
	}
	if a.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	// The store first: if it fails, no users are created whose passwords
	// would never be shown.
	store, counts := cfg.Store, throttleStore(nil)
	if store == nil {
		o, err := openStore(ctx, cfg.StoreURL, cfg.DataDir)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, o.closers...)
		store, counts = o.store, o.counts
	}
	a.users, err = openUsers(ctx, filepath.Join(cfg.DataDir, "users.db"), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.users.close)
	if counts == nil {
		if counts, err = newSQLiteThrottle(ctx, a.users.db); err != nil {
			return nil, err
		}
	}
	if a.key, err = a.users.secret(ctx, "signin-csrf"); err != nil {
		return nil, err
	}
	if a.deviceKey, err = a.users.secret(ctx, "signin-device"); err != nil {
		return nil, err
	}
	if a.dummy, err = bcrypt.GenerateFromPassword([]byte(randomPassword()), cfg.BcryptCost); err != nil {
		return nil, fmt.Errorf("backend: dummy hash: %w", err)
	}
	if a.created, err = a.users.bootstrap(ctx, cfg); err != nil {
		return nil, err
	}
	for _, c := range a.created {
		a.log.LogAttrs(ctx, slog.LevelInfo, "backend: created user", slog.String("user", c.User), slog.String("role", c.Role))
	}
	opts := cfg.Logout
	opts.BackendPrefix, opts.Logger, opts.Clock, opts.Secure = cfg.Prefix, cfg.Logger, cfg.Clock, cfg.Secure
	if opts.ClientAddr == nil {
		opts.ClientAddr, _ = SessionAddr(proxies, cfg.SessionAddress) // both checked above
	}
	if opts.Message == nil {
		// The lock dialog and scripts read the reason in the page's language.
		opts.Message = func(r *http.Request, reason logout.Reason) string {
			return a.cat.lang(pickLang(r)).T("reason." + reason.String())
		}
	}
	if opts.Deny == nil {
		opts.Deny = a.deny
	}
	if a.m, err = logout.New(store, opts); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	a.paths = a.m.Paths()
	if cfg.Settings != nil {
		if err := a.applySettings(ctx, cfg.Settings); err != nil {
			return nil, err
		}
	}
	timeout := opts.StoreTimeout // the Manager's default too
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	a.limit = newThrottle(counts, timeout)
	routes, err := a.safeRoutes()
	if err != nil {
		return nil, err
	}
	a.handler = a.mountAssets(routes)
	return a, nil
}

// safeRoutes is routes, with the ServeMux's panic on a pattern registered
// twice (a sign-in page or endpoints that Config.Logout puts on a page's
// path) turned into an error.
func (a *App) safeRoutes() (h http.Handler, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("backend: Logout.SignInPath %q or EndpointsPath %q takes a page's path: %v", a.paths.SignIn, a.paths.Endpoints, v)
		}
	}()
	return a.routes(), nil
}

// defaultAssets is where the routes serve the assets.
const defaultAssets = "/assets/"

// mountAssets serves the routes' assets below Config.AssetsPrefix instead
// of defaultAssets: it maps the one path onto the other before any
// middleware sees the request, so that an AssetsPrefix below Prefix is
// still no backend page.
func (a *App) mountAssets(routes http.Handler) http.Handler {
	pre := a.cfg.AssetsPrefix
	if pre == defaultAssets {
		return routes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, pre):
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = defaultAssets+strings.TrimPrefix(p, pre), ""
			r2.URL = &u
			routes.ServeHTTP(w, r2)
		case strings.HasPrefix(p, defaultAssets):
			http.NotFound(w, r) // served below AssetsPrefix only
		default:
			routes.ServeHTTP(w, r)
		}
	})
}

// assetURL returns the URL of an asset from the routes' own URL of it
// (below defaultAssets), moved below Config.AssetsPrefix.
func (a *App) assetURL(u string) string {
	return a.cfg.AssetsPrefix + strings.TrimPrefix(u, defaultAssets)
}

func validPrefix(p string) bool {
	if len(p) < 2 || p[0] != '/' || strings.Contains(p, "//") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/') {
			return false
		}
	}
	return true
}

// ErrUnknownStore is returned by [OpenStore] for a store URL of no
// known kind.
var ErrUnknownStore = errors.New("backend: unknown store")

// OpenStore opens the session store that a store URL names, as
// [Config.StoreURL] reads it: "" or "sqlite" for sessions.db in dir,
// redis://… (rediss://…), postgres://… (postgresql://…) or
// mysql://user:password@host:port/database?prefix=… (MySQL or MariaDB;
// prefix starts the tables' names). Redis and MySQL fail fast on a
// refused server and let the Manager's store timeout bound every call.
// Close it with the function returned. A URL of no known kind is an error
// wrapping [ErrUnknownStore].
func OpenStore(ctx context.Context, u, dir string) (logout.Store, func() error, error) {
	o, err := openStore(ctx, u, dir)
	if err != nil {
		return nil, nil, err
	}
	return o.store, o.close, nil
}

// opened is a store that openStore opened: the sessions, the sign-in
// counts that share its connection (nil for SQLite, which keeps them in
// users.db), and what closes both.
type opened struct {
	store   logout.Store
	counts  throttleStore
	closers []func() error
}

func (o *opened) close() error {
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// openStore opens the store that u names; on error it closes what it
// opened.
func openStore(ctx context.Context, u, dir string) (_ *opened, err error) {
	o := &opened{}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	switch {
	case u == "" || u == "sqlite":
		s, err := sqlitestore.New(ctx, filepath.Join(dir, "sessions.db"), sqlitestore.Options{})
		if err != nil {
			return nil, fmt.Errorf("backend: session store: %w", err)
		}
		o.store, o.closers = s, append(o.closers, s.Close)
		return o, nil
	case strings.HasPrefix(u, "redis://") || strings.HasPrefix(u, "rediss://"):
		opt, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("backend: redis store URL: %w", err)
		}
		// Let the Manager's store timeout bound every call: without this
		// go-redis waits its own read timeout on a silent server.
		opt.ContextTimeoutEnabled = true
		// Fail fast when Redis refuses connections: by default go-redis
		// retries a command 3 times and each dial 5 times, with backoff
		// in between, so a refused server holds the start, and each
		// request, for seconds rather than failing at once. One retry
		// still rides over a dropped idle connection. Values given in
		// the URL (max_retries, dial_timeout) win.
		if opt.MaxRetries == 0 {
			opt.MaxRetries = 1
		}
		if opt.DialerRetries == 0 {
			opt.DialerRetries = 1
		}
		if opt.DialTimeout == 0 {
			opt.DialTimeout = 2 * time.Second
		}
		client := redis.NewClient(opt)
		o.closers = append(o.closers, client.Close)
		if err := client.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("backend: redis store: %w", err)
		}
		s, err := redisstore.New(client, redisstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("backend: redis store: %w", err)
		}
		o.store, o.counts = s, &redisThrottle{c: client, prefix: redisThrottlePrefix}
		return o, nil
	case strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://"):
		pool, err := pgxpool.New(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("backend: postgres store: %w", err)
		}
		o.closers = append(o.closers, func() error { pool.Close(); return nil })
		s, err := pgstore.New(ctx, pool, pgstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("backend: postgres store: %w", err)
		}
		counts, err := newPGThrottle(ctx, pool, pgThrottleSchema)
		if err != nil {
			return nil, err
		}
		o.store, o.counts = s, counts
		return o, nil
	case strings.HasPrefix(u, "mysql://"):
		if err := openMySQL(ctx, u, o); err != nil {
			return nil, err
		}
		return o, nil
	}
	return nil, fmt.Errorf("%w %q: want sqlite, redis://…, postgres://… or mysql://…", ErrUnknownStore, u)
}

// Handler returns the App's HTTP handler: the front end, the backend and
// the assets, behind the Manager's middleware and the security headers.
func (a *App) Handler() http.Handler { return a.handler }

// Run does the App's background work until ctx is done: it runs the
// Manager's sweeper and, on return, writes pending session activity. Run
// it beside the HTTP server, and cancel ctx only after the server has shut
// down, so that no activity is lost.
func (a *App) Run(ctx context.Context) error {
	go uaParser() // built now rather than at the first sessions page
	if err := a.m.Run(ctx); err != nil {
		return fmt.Errorf("backend: run: %w", err)
	}
	return nil
}

// Close closes the user database and the stores that the App opened. It
// does not close [Config.Store].
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Manager returns the App's [logout.Manager], for tests and tools.
func (a *App) Manager() *logout.Manager { return a.m }

// Created returns the users that [New] created because the user database
// was empty, with their passwords, to show once; nil on later starts.
func (a *App) Created() []Credential { return append([]Credential(nil), a.created...) }

// CookieNames returns the names of every cookie the admin pages set: the
// session's ([logout.Options.CookieName] of Config.Logout), the sign-in
// form's and the device's, each in both forms that
// [logout.SecureCookieName] gives, without and with TLS. logout-proxy never
// forwards them to the panel, nor lets the panel set them.
func (a *App) CookieNames() []string {
	session := a.cfg.Logout.CookieName
	if session == "" {
		session = logout.DefaultCookieName
	}
	var out []string
	for _, n := range []string{session, preCookie, deviceCookie} {
		out = append(out, logout.SecureCookieName(n, false), logout.SecureCookieName(n, true))
	}
	return out
}

// SignInPath returns the path of the sign-in page: the Manager's
// ([logout.Paths.SignIn]), Prefix + "/auth/signin" unless Config.Logout
// sets another.
func (a *App) SignInPath() string { return a.paths.SignIn }
