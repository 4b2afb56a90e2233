// Package logout signs idle backend (admin) users out of web applications:
// automatically, exactly on time, on the server and in every open tab.
//
// Mount it in front of an application:
//
//	m, err := logout.New(store, logout.Options{}) // store: sqlitestore, redisstore, pgstore
//	if err != nil { ... }
//	go m.Run(ctx)                                  // ends sessions that stopped making requests
//	mux.Handle("/backend/session/", m.Endpoints()) // status, keepalive, signout
//	mux.Handle("/backend/", m.Require(backend))    // 303 to sign in, or 401 for scripts
//	http.ListenAndServe("127.0.0.1:8080", m.Handler(mux))
//
// and start a session at sign-in with [Manager.SignIn]. Handlers read the
// session with [FromContext]; the widget package renders the counter from
// the Manager ([Manager.Paths], [Manager.Status], [Manager.CSRFToken]).
// [Options.Defaults] declares the idle lifetime, the absolute limit and the
// warning in code; [Options.Deny] renders refusals in the application's
// own words.
//
// # Timeouts
//
// Each sign-in is its own [Session], never shared between devices. A
// session ends at its deadline: the earlier of its last activity plus the
// idle lifetime and, when set, its start plus the absolute lifetime. The
// idle lifetime is [Settings.Lifetime] (default 900 s), or the shortest
// lifetime among the user's roles in [Settings.RoleLifetimes]. Every
// ending is recorded with a [Reason] (idle, absolute, forced, manual) in
// the sign-out log, passed to [Options.OnSignOut] and logged with
// log/slog.
//
// A request that arrives at or after its session's deadline is never
// served as signed in, however many requests of that session are in
// flight. [Settings] are edited at run time with [Manager.UpdateSettings]
// and apply to every session at once.
//
// # Write coalescing and many processes
//
// A session's activity is kept in memory and written to the [Store] at
// most once per touch interval ([Options.TouchInterval], default 1% of the
// idle lifetime, at most 5 s). The promise:
//
//   - One process is exact: it judges a deadline from the newest activity
//     it holds in memory. [Manager.Flush] (run by [Manager.Run] on exit)
//     writes pending activity, so a clean restart loses none.
//   - Processes sharing a store may end a session at most one touch
//     interval early (another process has not yet written activity it
//     saw), never late: before ending a session a process rereads the
//     store, and the store ends it only if no newer activity was written.
//   - A forced sign-out or a settings change made in one process is in
//     force in every other within [Options.SyncInterval] (default
//     500 ms), at once with a store that is a [Watcher].
//
// # Push, work in flight and closing the last tab
//
// [Manager.Endpoints] serves a push stream at [Paths.Events]: server-sent
// events that tell the page its session's status at once and whenever
// its deadline or the settings change, and that it ended, with the
// reason, when it ends by any path. Another process's sign-outs and
// settings arrive at once with a [Watcher] store and within
// [Options.SyncInterval] otherwise (SQLite shared by several processes).
// The stream is passive: it never keeps a session alive. A comment every
// [Options.PushPing] keeps proxies from closing it.
//
// A backend request still being served is work, not idleness: its
// session does not end by idleness while it runs (the absolute limit
// still ends it), its end counts as activity, and while it runs
// [Manager.Run] writes its activity every touch interval so that other
// processes see it. [Manager.Busy] marks work that outlives its request.
// Work in flight holds its session at most [Options.BusyLimit] after its
// newest piece started, so a request that never ends (a tunnel) does not
// keep a session for ever, and a backend request still in flight when its
// session ends, by any path, is cut: its context is canceled with
// [ErrSessionEnded]. A session opens at most 8 push streams. With [Settings.SignOutOnClose], a session whose last push stream
// closed ends ([ReasonClosed]) when neither a new stream nor a backend
// request came within [Settings.CloseGrace]. After [Manager.SignIn],
// [Manager.WriteSignedIn] answers a script's sign-in in place.
//
// # Backend and front end
//
// Requests below [Options.BackendPrefix] (default "/backend") are backend
// requests. An ended session on a backend page load is redirected with
// 303 See Other to the sign-in page, with the reason and a same-origin
// return path ([Manager.SignInURL], [SafeReturnPath]); a backend script
// request ([IsScript]: Sec-Fetch-Mode other than navigate,
// X-Requested-With, or a JSON Accept) gets 401 with JSON. [Manager.Require]
// answers a request with no session at all the same way. A front-end request is signed out
// silently and served as an anonymous visitor: a backend timeout never
// redirects the public site. Backend responses of a signed-in session
// carry [HeaderDeadline], [HeaderServerTime] and Cache-Control: no-store.
// Requests with [HeaderPassive] or on [Options.PassivePaths] never extend
// a session.
//
// # Settings
//
// [Settings] hold what an administrator edits at run time; a [Manager]
// validates them ([Settings.Validate], which reports each invalid field
// as a [FieldError]) and applies a change to every session at once. The
// settings page's vocabulary is package
// [github.com/gologout/logout/settingsform]: the form field names,
// parsing form values into Settings and back, the codes of a FieldError,
// and the audit trail's changes in words. The backend package builds the
// settings page with it.
//
// # Stores
//
// A [Store] keeps sessions, the settings (with a version) and the
// sign-out log. [MemoryStore] is for tests; the sqlitestore package is
// the persistent default; redisstore and pgstore let many processes
// share one state. The storetest package is the conformance suite that
// every store passes.
//
// # Security
//
// In its own cookie mode a Manager issues a 256-bit random token at every
// sign-in (ending the session the browser had before), in a cookie that
// is HttpOnly and SameSite=Lax, and under TLS Secure with the __Host-
// prefix. Stores keep only the token's SHA-256 ([Session.ID]); logs show
// only a prefix of that. A malformed or unknown token is an anonymous
// visitor. [Manager.CSRFToken] derives a per-session CSRF token, and
// [Manager.CheckCSRF] checks it together with [http.CrossOriginProtection];
// the keep-alive and sign-out endpoints require both, and sign-out is
// POST only. With [Options.App], a Manager works on top of an
// application's own session system instead of its cookie.
//
// # Time
//
// A Manager keeps one clock, [Options.Clock] (a [Clock]; default
// [SystemClock]). Every deadline, activity time and log time is read
// from it, and every wait of [Manager.Run] is on it: the sweep every
// [Options.SweepInterval], the beat that writes the activity of work in
// flight, ends sessions whose close grace is over and pings the push
// streams, and the retries of a [Watcher] store's watch. A test fakes
// time in one of two ways: with a Clock of its own whose After fires
// when the test moves it, or in a [testing/synctest] bubble with the
// default clock, which there is the bubble's. Only the bounds of store
// calls ([Options.StoreTimeout]) and the HTTP server's own timeouts stay
// on the time package's timers, as they bound real input and output;
// the bubble moves those too.
package logout
