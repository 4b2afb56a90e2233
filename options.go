package logout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Options configure a [Manager]. The zero Options are useful: every field
// states its default.
type Options struct {
	// BackendPrefix is the path prefix of backend pages. Requests below it
	// are backend requests: a timeout redirects them to SignInPath (or
	// answers 401 to scripts). Others are front-end requests: a timeout
	// signs the visitor out silently and serves the page. Default
	// "/backend".
	BackendPrefix string
	// Backend, when set, reports whether a request outside BackendPrefix
	// is a backend request too, such as a panel's REST API on its own
	// path. It is called for every such request and must be fast.
	Backend func(*http.Request) bool
	// SignInPath is the backend sign-in page. Default BackendPrefix +
	// "/auth/signin".
	SignInPath string
	// EndpointsPath is where [Manager.Endpoints] serves status,
	// keepalive and signout. Default BackendPrefix + "/session".
	EndpointsPath string
	// CookieName names the session cookie in the Manager's own cookie
	// mode. Default [DefaultCookieName]; under TLS (or with Secure) the
	// cookie is named with the "__Host-" prefix ([SecureCookieName]).
	// Unused with App.
	CookieName string
	// Secure marks the cookie Secure with the "__Host-" prefix even for
	// plain-HTTP requests, for servers behind a TLS-terminating proxy.
	// Requests over TLS always get them.
	Secure bool
	// App, when set, makes the Manager work on top of the application's
	// own session system instead of issuing its own cookie.
	App AppSessions
	// ClearSiteCookies adds "cookies" to the Clear-Site-Data header of
	// the sign-out answer. Browsers then delete every cookie of the
	// registrable domain, example.com and all its subdomains: a shop's
	// cart, another subdomain's session, not only the backend's. Default
	// false: the answer sends Clear-Site-Data: "cache" (no cached backend
	// page behind the back button) and expires the Manager's own cookie
	// (with App, calls EndSession).
	ClearSiteCookies bool
	// Defaults are the settings in force while the store holds none
	// (before an administrator first saves the settings page): the idle
	// lifetime, the absolute limit, the warning lead and the rest. Saved
	// settings override them at run time, and [Manager.ResetSettings]
	// returns to them. New fails if they are not valid. Default (nil):
	// [DefaultSettings], a 900 s idle lifetime, no absolute limit and a
	// 60 s warning.
	Defaults *Settings
	// Deny, if set, answers the requests that Logout refuses instead of
	// its built-in answers, so that an application renders them in its
	// own language and style: the sign-in redirect or 401 of a request
	// without a live session, the 403 of a failed CSRF check on the
	// session endpoints, and the 503 of a store outage. The [Denial] says
	// what the built-in answer would be; [Denial.Write] writes it. A
	// 503's "Retry-After" header is set before Deny is called. Deny must
	// write a response. Default nil: the built-in answers.
	Deny func(w http.ResponseWriter, r *http.Request, d Denial)
	// Message words the sign-out notice for r's reader, in the JSON
	// that scripts, the push stream and so the widget's lock dialog get
	// (and in the [Denial] that Deny sees): for example in the language
	// r asks for. It must return quickly and never "". Default nil:
	// [Reason.Message], in English.
	Message func(r *http.Request, reason Reason) string
	// TouchInterval is how often, at most, a session's activity is
	// written to the store. Default: 1% of the session's idle lifetime,
	// at most 5 s, at least 1 ms.
	TouchInterval time.Duration
	// SyncInterval is how long cached state (a session's record, the
	// settings) may be used before it is read again from the store, so
	// that changes made by other processes apply within it. Default
	// 500 ms. A store that is a [Watcher] announces changes sooner.
	SyncInterval time.Duration
	// PassivePaths lists paths whose requests never extend a session,
	// besides requests with the header "X-Logout-Passive: 1" and the
	// status endpoint.
	PassivePaths []string
	// OnSignOut, if set, is called once for every session that ends,
	// whatever the reason, after the store recorded it.
	OnSignOut func(context.Context, Event)
	// Observer, if set, is told of store calls, sign-ins, sign-outs,
	// coalesced writes and sweeps, for metrics; see [Observer] for what
	// its methods must do. Default nil: nothing is observed, at no cost.
	Observer Observer
	// Logger receives sign-out and error records. Default slog.Default().
	Logger *slog.Logger
	// Clock is the time of deadlines, activity and logs, and the timer of
	// the background work of [Manager.Run]: its sweep every
	// SweepInterval, its beat (activity of work in flight, sign-out on
	// close, push stream pings) and a [Watcher]'s retries all wait on
	// Clock.After, so a fake clock moves them all. Default [SystemClock].
	// The bounds of store calls (StoreTimeout) are contexts' deadlines on
	// the time package's timers: they bound real input and output. To
	// move them too, run a test in a [testing/synctest] bubble, where
	// SystemClock is the bubble's clock.
	Clock Clock
	// Rand is the source of session tokens. Default crypto/rand.Reader.
	Rand io.Reader
	// StoreTimeout bounds each store call on the request path. Default 2 s.
	StoreTimeout time.Duration
	// SweepInterval is how often [Manager.Run] ends expired sessions
	// that make no more requests. Default 30 s.
	SweepInterval time.Duration
	// EventRetention is how long the sign-out log is kept. Default 90 days.
	EventRetention time.Duration
	// BusyLimit bounds how long work in flight (a backend request still
	// being served, [Manager.Busy]) keeps its session from ending by
	// idleness, counted from the start of its newest piece: a tunnel or a
	// request that never ends holds the session this long, and its
	// session then ends after the idle lifetime as if the work had
	// stopped. Whatever it holds, a backend request in flight when its
	// session ends is cut (its context is canceled with
	// [ErrSessionEnded]). Default: four of the session's idle lifetimes.
	BusyLimit time.Duration
	// PushPing is how often a push stream ([Paths.Events]) sends a
	// comment while [Manager.Run] runs, so that proxies keep it open.
	// Default 25 s ([DefaultPushPing]).
	PushPing time.Duration
	// ClientAddr returns the client's address for a new session to keep
	// ([Session.Address]): behind a reverse proxy, the address it
	// forwarded from a proxy you trust; shortened, or "", to keep less or
	// none. Default: the host of r.RemoteAddr.
	ClientAddr func(r *http.Request) string
}

// DefaultCookieName is [Options.CookieName]'s default.
const DefaultCookieName = "logout_session"

// AppSessions connects a [Manager] to an application's own session
// system: the Manager then keeps its idle and absolute deadlines per
// application session and issues no cookie of its own.
//
// Mount [Manager.Handler] inside the application's session middleware
// (for scs: after LoadAndSave), and read the session from the request's
// context rather than from its cookie: at the first sign-in there is no
// cookie yet, and after a renewal the cookie still holds the old ID.
type AppSessions interface {
	// SessionID returns the application's session identifier for r, or ""
	// when r has none. After the application renews the identifier at
	// sign-in, it must return the new one.
	SessionID(r *http.Request) string
	// EndSession ends the application's own session of r (for example by
	// deleting its record and cookie). The Manager calls it when r's
	// session has ended, before it responds.
	EndSession(w http.ResponseWriter, r *http.Request)
}

func (o Options) withDefaults() (Options, error) {
	if o.BackendPrefix == "" {
		o.BackendPrefix = "/backend"
	}
	o.BackendPrefix = strings.TrimRight(o.BackendPrefix, "/")
	if o.BackendPrefix == "" || o.BackendPrefix[0] != '/' {
		return o, errors.New("logout: BackendPrefix must be a path starting with /, and not / alone")
	}
	if o.SignInPath == "" {
		o.SignInPath = o.BackendPrefix + "/auth/signin"
	}
	if o.EndpointsPath == "" {
		o.EndpointsPath = o.BackendPrefix + "/session"
	}
	if _, ok := SafeReturnPath(o.SignInPath); !ok {
		return o, errors.New("logout: SignInPath must be a same-origin path")
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if strings.HasPrefix(o.CookieName, "__") {
		return o, errors.New("logout: CookieName must not carry a __ prefix: the Manager adds __Host- under TLS")
	}
	if o.TouchInterval < 0 || o.SyncInterval < 0 || o.StoreTimeout < 0 || o.SweepInterval < 0 || o.EventRetention < 0 || o.PushPing < 0 {
		return o, errors.New("logout: negative durations are not allowed in Options")
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = 500 * time.Millisecond
	}
	if o.StoreTimeout == 0 {
		o.StoreTimeout = 2 * time.Second
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 30 * time.Second
	}
	if o.ClientAddr == nil {
		o.ClientAddr = remoteHost
	}
	if o.PushPing == 0 {
		o.PushPing = DefaultPushPing
	}
	if o.EventRetention == 0 {
		o.EventRetention = 90 * 24 * time.Hour
	}
	if o.Defaults == nil {
		d := DefaultSettings()
		o.Defaults = &d
	} else {
		d := *o.Defaults
		d.Version = 0
		d.RoleLifetimes = maps.Clone(d.RoleLifetimes)
		if err := d.Validate(); err != nil {
			return o, fmt.Errorf("logout: Options.Defaults: %w", err)
		}
		o.Defaults = &d
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	return o, nil
}
