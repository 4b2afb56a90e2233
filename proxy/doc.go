// Package proxy is logout-proxy's engine: a reverse proxy that gives an
// admin panel it did not write (Django admin, WordPress, OctoberCMS,
// phpMyAdmin, …)
// Logout's idle sign-out, counter and warning, on the panel's own sessions.
//
//	p, err := proxy.New(store, proxy.Options{Upstream: u, Profile: proxy.Django()})
//	if err != nil { ... }
//	go p.Run(ctx) // ends sessions that stopped making requests
//	http.ListenAndServe("127.0.0.1:8080", p)
//
// # Sessions
//
// The proxy keeps one Logout session per session cookie of the panel
// ([Profile.SessionCookies], through [logout.Options.App]), keyed by the
// cookie's value or, for a panel that seals its cookie anew on every
// response, by what [Profile.DecodeKey] reads from it (Laravel's:
// [LaravelKey.DecodeKey]), once per request: it learns the
// user's name from the sign-in form it forwards ([Profile.UserField]) or
// the panel's own cookie ([Profile.UserCookiePattern]), records the user
// as [Profile.UserID] of it (a namespace of the panel's own, apart from the
// admin pages' users) and starts the session when the panel answers that
// POST with a new session cookie. A session cookie it did not see start is
// never forwarded to the backend ([Profile.AnonymousPaths] aside). When the
// session ends (idle, absolute, forced, or signed out on the panel), the
// proxy never forwards that cookie to the panel's backend again, under any
// name the panel's runtime would read as it (PHP's and Python's cookie name
// rules) and on any path the panel would route to its backend, cuts the
// session's requests and tunnels still in flight, expires the cookie in the
// browser, and ends it on the panel too where the profile says how
// ([Profile.SignOut]), with a nonce learned from the session's backend
// pages where the panel wants one ([SignOut.NoncePattern]), until the panel
// confirms it ([SignOut.Confirm]). Backend requests of an ended session
// are redirected to the panel's sign-in page, which then shows why ("You
// have been logged out!"); front-end requests are never redirected, and a
// page already open locks in place, its lock dialog showing the panel's
// own sign-in page in a frame.
//
// # Widget
//
// Backend HTML pages of a signed-in session get the counter and the warning
// dialog of package widget, inserted right after <body> while the page
// streams through (gzip is decoded on the way and compressed again; other
// encodings are not requested for page loads). The counter moves into the element named by
// [Profile.CounterSelector], or floats in a corner. The scripts are served
// from the proxy's own path below the backend prefix, so a
// Content-Security-Policy with script-src 'self' works; a policy that
// allows no same-origin script gets nothing injected unless it carries a
// nonce, which the proxy's script tags then reuse.
//
// # Single sign-on
//
// With [Options.SSO] (logout-proxy's --oidc-issuer, package
// github.com/gologout/logout/oidc's ProxySSO), the proxy signs a browser
// in at the panel's OpenID provider itself before the panel's own SSO
// plugin does, and starts the panel's session for the identity it
// verified, tagged so that the provider's back-channel logout ends it;
// an ended session's next sign-in ends the provider session first, or
// asks for a fresh authentication. See [SSO].
//
// # Forwarding
//
// Requests are forwarded by [net/http/httputil.ReverseProxy]: WebSockets,
// server-sent events and long transfers stream untouched. X-Forwarded-For,
// -Host and -Proto are set by the proxy, and those the client sent are kept
// only when it is one of [Options.TrustedProxies]. Redirects to the
// upstream's own address (or [Options.RewriteOrigins]) are rewritten to the
// proxy's.
package proxy
