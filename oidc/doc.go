// Package oidc gives single sign-on through an OpenID Connect provider
// (Keycloak, Entra ID, Okta, Authentik, Ory Hydra) the same idle timeout
// as a password sign-in: a session that Logout ended is not silently
// brought back by the provider's session, and a session that the provider
// ends ends here, on every instance and in every open tab.
//
// The application keeps its own OpenID Connect sign-in (for example with
// github.com/coreos/go-oidc and golang.org/x/oauth2) and adds four calls:
//
//	rp, err := oidc.New(ctx, m, oidc.Options{ // m: the *logout.Manager
//		Issuer:                "https://idp.example/realms/staff",
//		ClientID:              "panel",
//		PostLogoutRedirectURL: "https://panel.example/backend/auth/oidc/logged-out",
//		CookieKey:             key, // 32 bytes, the same on every instance
//	})
//	mux.Handle("POST /backend/auth/oidc/backchannel", rp.BackChannel())
//	mux.Handle("GET /backend/auth/oidc/logged-out", rp.PostLogout())
//
//	// The sign-in page and the handler that starts a sign-in:
//	if rp.EndProviderSession(w, r) { return }
//	http.Redirect(w, r, conf.AuthCodeURL(state, rp.AuthCodeOptions(w, r)...), http.StatusFound)
//
//	// The redirect handler, after the code exchange and the nonce check:
//	s, err := rp.SignIn(w, r, logout.User{ID: sub, Name: name}, rawIDToken)
//	if errors.Is(err, oidc.ErrReauthenticate) { /* redirect to the provider again */ }
//
// # Ending a session ends it at the provider too
//
// When a session that signed in through the provider ends, for any
// reason (idle, absolute, forced, limit, signed out), the next sign-in
// asks the person again:
//
//   - By default the provider session is ended by OpenID Connect
//     RP-Initiated Logout 1.0 as soon as the browser comes back:
//     [RP.EndProviderSession] sends it to the provider's
//     end_session_endpoint with id_token_hint and a sealed state, and
//     [RP.PostLogout] sends it on to the sign-in page with the reason, so
//     that "You have been logged out!" survives the round trip.
//   - With [Options.KeepProviderSession], for providers whose session
//     other applications share, the provider session stays, and
//     [RP.AuthCodeOptions] asks for a fresh authentication (prompt=login,
//     max_age=0).
//   - Either way, [RP.SignIn] checks the ID token's auth_time against the
//     sign-out log, which every instance shares: an authentication that is
//     not newer than the user's last ended session is refused with
//     [ErrReauthenticate]. This holds without any cookie, so a browser
//     that lost its cookies, or another device, is asked again too.
//
// # Sign-outs from the provider
//
// [RP.BackChannel] is the endpoint of OpenID Connect Back-Channel Logout
// 1.0. It validates the logout token as the specification says
// ([RP.VerifyLogoutToken]: signature by the provider's published keys,
// iss, aud, iat within [Options.MaxTokenAge], exp, the events claim, sub
// or sid, no nonce, a jti not seen before) and ends the matching sessions
// with [logout.ReasonProvider] through [logout.Manager.EndSessions], which
// every instance sharing the store applies, and which tells every open
// tab at once through the push stream. Anything invalid gets 400 and
// changes nothing. [RP.FrontChannel] serves providers that offer only
// Front-Channel Logout 1.0.
//
// Sessions are found by tags that [RP.SignIn] gives them ([SessionTag],
// [SubjectTag]): hashes of the issuer with the provider's session ID or
// subject, so the store holds no provider identifier as it is.
//
// # In front of a panel
//
// [ProxySSO] does the same for logout-proxy, in front of a panel that
// signs in through the provider with a plugin of its own: it signs the
// browser in at the provider as a client of its own before the panel
// does, and the proxy starts the panel's session for the identity it
// verified ([ProxySSO.Identity], [ProxySSO.Started]).
//
// # Security
//
//   - Only public-key signatures are accepted ("none" and HMAC never),
//     with the keys that the provider publishes at its jwks_uri.
//   - ID tokens are personal data. The only copy kept is in the browser
//     that signed in, in a cookie sealed with AES-256-GCM
//     ([Options.CookieKey]), HttpOnly, SameSite=Lax, Secure with the
//     __Host- prefix under TLS, for at most 24 hours, removed when used.
//     No token is ever logged; logs name sessions by a prefix of their
//     tag's hash.
//   - Replayed logout tokens are refused by their jti ([ReplayCache]); by
//     default the memory of one process, in which case a replay sent to
//     another instance within [Options.MaxTokenAge] can only end again
//     sessions that the token already ended.
//   - [Options.MaxAuthAge] bounds the time since the person last
//     authenticated at the provider (OWASP ASVS 5.0, V7.6.1).
//   - The back-channel endpoint is unauthenticated and fetches the
//     provider's keys again for a token that names an unknown key: where
//     possible, let only the provider reach it.
//   - Every time is judged by [Options.Now] (default time.Now): a test that
//     fakes the Manager's [logout.Options.Clock] gives the RP its Now too.
package oidc
