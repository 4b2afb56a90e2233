// Package backend is Logout's reference admin backend: a small but
// complete application that shows every part of Logout working together.
// It signs users in with a CSRF-protected form, keeps them signed in with
// a [logout.Manager], shows the countdown widget next to the avatar, lets
// an administrator edit the User Session settings and sign sessions out,
// and serves a public front end that a backend timeout never redirects.
//
// The command cmd/backend runs it; tests start it in-process:
//
//	app, err := backend.New(ctx, backend.Config{DataDir: dir})
//	if err != nil { ... }
//	defer app.Close()
//	go app.Run(ctx) // the Manager's sweeper; flushes activity on return
//	srv := httptest.NewServer(app.Handler())
//
// # Users
//
// Users live in their own SQLite file, users.db in the data directory,
// with bcrypt password hashes, roles (admin, editor) and permissions
// ([PermSettings], [PermSessions]). The first start creates an
// administrator with every permission and a demo editor with none, and
// reports their passwords once through [App.Created].
//
// # Pages
//
// Below [Config.Prefix] (default "/backend"):
//
//	/auth/signin                  sign-in form (Config.Logout's SignInPath moves it)
//	(prefix)                      dashboard: AJAX stats and a long form
//	/system/settings/user-session User Session settings and policies (PermSettings)
//	/system/settings/history      settings history, ?format=csv|json (PermSettings)
//	/account/sessions             the user's own sessions with their browsers and addresses; each but this one ended by a button,
//	                              all but this one after /account/sessions/confirm (every user)
//	/system/sessions              active sessions, sorted (?sort=), filtered by user (?user=) and, by POST, address; the
//	                              sign-out log; ending sessions asks first on /system/sessions/confirm (PermSessions)
//	/system/sessions/log          the whole sign-out log, filtered, ?format=csv|json (PermSessions)
//	/session/                     the Manager's status, keep-alive and sign-out endpoints (Config.Logout's EndpointsPath moves them)
//	/api/v1/                      the admin API: JSON, bearer tokens (see below)
//	/api/openapi.json             its OpenAPI 3.1 description (public)
//
// and, outside it, the public front page "/", the language switch "/lang" (also below the prefix, where the pages' switch goes)
// and the assets under "/assets/".
//
// # Settings as code
//
// [LoadSettings] reads a TOML settings file and LOGOUT_SETTINGS_*
// variables; [Config.Settings] applies them at start and
// [Config.SettingsLocked] makes the settings page read-only.
// [ExportEvents] and [ExportSettings] write the audit exports that the
// pages and the commands' "export" subcommand serve.
//
// # Admin API
//
// Below the prefix, /api/v1 answers JSON to clients with a bearer token
// of an administrator's making ([CreateToken], [App.CreateToken], or the
// commands' "tokens create"): read tokens list sessions (GET /sessions,
// with filters, orders, cursor pages and the total), read the settings
// (GET /settings), their history (GET /settings/history) and the
// sign-out log (GET /events); write tokens also end sessions (POST
// /sessions/end, through [logout.Manager.EndSessions]) and save the
// settings (PUT /settings, checked as the settings page checks them). The
// API takes and sets no cookie. users.db keeps only each token's SHA-256;
// guesses are throttled per client address with the sign-in throttle.
// openapi.json, embedded and served at /api/openapi.json, describes it.
//
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/backend/api/v1/sessions?order=active
//	curl -H "Authorization: Bearer $TOKEN" -d '{"user":"editor"}' http://127.0.0.1:8080/backend/api/v1/sessions/end
//
// # Languages
//
// Every string of the interface is in English, Polish and Czech, in the
// message catalogues locales/*.json. The language comes from the cookie
// "lang" (set by the switcher) or else from Accept-Language.
//
// # Security
//
// Every response carries a strict Content-Security-Policy (no inline
// script or style), X-Content-Type-Options and Referrer-Policy; backend
// responses carry Cache-Control: no-store. Every POST is CSRF-checked:
// the sign-in form by an HMAC token bound to a pre-session cookie plus
// [http.CrossOriginProtection], everything else by [logout.Manager.CheckCSRF].
package backend
