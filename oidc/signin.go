package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gologout/logout"
	"golang.org/x/oauth2"
)

// Errors of [RP.SignIn].
var (
	// ErrReauthenticate: the ID token's authentication (auth_time) is not
	// after the user's last ended session, so the provider signed the
	// user in again from its own session without asking. Send the browser
	// to the provider again with [RP.AuthCodeOptions], which now ask for
	// a fresh authentication.
	ErrReauthenticate = errors.New("oidc: the provider must authenticate the user afresh")
	// ErrNotReauthenticated: the provider was asked for a fresh
	// authentication and answered with an old one again. Refuse the
	// sign-in (403); asking again would loop.
	ErrNotReauthenticated = errors.New("oidc: the provider did not authenticate the user afresh")
)

const (
	// hintLifetime bounds how long the ID token cookie may wait for the
	// browser to come back after its session ended.
	hintLifetime = 24 * time.Hour
	// stateLifetime bounds the round trip through the provider's logout.
	stateLifetime = 15 * time.Minute
	// reauthLifetime bounds the marker that asks for a fresh
	// authentication.
	reauthLifetime = 15 * time.Minute
	// maxCookie is the longest cookie value set; browsers keep about
	// 4096 bytes per cookie, name and attributes included.
	maxCookie = 3800
)

// hint is what the ID token cookie seals.
type hint struct {
	IDToken string `json:"t"` // the provider's ID token, for id_token_hint
	Session string `json:"s"` // the Logout session it signed in; "" for a proxy's pending identity
	User    string `json:"u"` // that session's user ID
	// Name and Tags are a pending identity's ([ProxySSO]): the user's
	// name and the session's tags.
	Name string   `json:"n,omitempty"`
	Tags []string `json:"g,omitempty"`
}

// postLogout is what the state of RP-initiated logout seals.
type postLogout struct {
	Reason string `json:"r"`
	Return string `json:"p"`
}

// idClaims are the ID token's claims that SignIn reads beyond go-oidc's.
type idClaims struct {
	SessionID string   `json:"sid"`
	AuthTime  *float64 `json:"auth_time"`
}

// SignIn starts a Logout session for u, who signed in through the
// provider with rawIDToken (the id_token of the token response), as
// [logout.Manager.SignIn] does. Call it in the redirect handler after the
// application exchanged the code and checked the ID token's nonce.
//
// It verifies rawIDToken itself (signature with the provider's keys, iss,
// aud, exp by [Options.Now]), and refuses it with [ErrReauthenticate] when
// its auth_time is not after the user's newest ended session (for any
// reason but [logout.ReasonReplaced], found in the sign-out log that every
// instance shares), or is missing while the user has one: the provider
// then signed the user in from a session that the end should have closed.
// With [Options.MaxAuthAge], it refuses as well an auth_time older than
// that, or none. It refuses with [ErrNotReauthenticated] when that happens although
// [RP.AuthCodeOptions] asked for a fresh authentication. auth_time has
// whole seconds: an authentication in the same second as the end counts
// as after it.
//
// It tags the session with [SessionTag] (when the token has a sid) and
// [SubjectTag], which [RP.BackChannel] and [RP.FrontChannel] end by, and
// keeps the session's ID and the ID token (for [RP.EndProviderSession];
// not with [Options.KeepProviderSession]) in a cookie: HttpOnly,
// SameSite=Lax, Secure with the "__Host-" prefix under TLS, sealed with
// AES-256-GCM ([Options.CookieKey]) so that neither the browser, its
// extensions nor a proxy that logs cookies can read the personal data in
// it, and valid for 24 hours. A token too long for a cookie is not kept
// (logged), and the provider session is then not ended. Tokens are never
// logged. The cookie is the browser's only copy of the ID token: nothing
// of it is stored server-side, and it is removed when used.
func (rp *RP) SignIn(w http.ResponseWriter, r *http.Request, u logout.User, rawIDToken string) (logout.Session, error) {
	tok, c, err := rp.verifyIDToken(r.Context(), rawIDToken)
	if err != nil {
		return logout.Session{}, fmt.Errorf("oidc: sign in: ID token: %w", err)
	}
	asked, err := rp.admit(w, r, u.ID, c)
	if err != nil {
		return logout.Session{}, err
	}
	u.Tags = append(slices.Clip(u.Tags), tags(tok, c)...)
	s, err := rp.m.SignIn(w, r, u)
	if err != nil {
		return logout.Session{}, err
	}
	if asked {
		rp.setCookie(w, r, rp.reauthName(r), "", -1)
	}
	// The cookie names the session, so that the next sign-in knows
	// whether it ended, and holds the ID token for RP-initiated logout.
	rp.keepHint(w, r, hint{Session: s.ID, User: s.UserID}, rawIDToken, hintLifetime)
	return s, nil
}

// verifyIDToken verifies rawIDToken (signature with the provider's keys,
// iss, aud, exp by [Options.Now]) and reads its claims.
func (rp *RP) verifyIDToken(ctx context.Context, rawIDToken string) (*gooidc.IDToken, idClaims, error) {
	tok, err := rp.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		return nil, idClaims{}, err
	}
	var c idClaims
	if err := tok.Claims(&c); err != nil {
		return nil, idClaims{}, err
	}
	return tok, c, nil
}

// admit decides whether the authentication of c may sign userID in: not
// when its auth_time is not after userID's last ended session, nor older
// than [Options.MaxAuthAge] ([ErrReauthenticate], which sets the marker
// that makes [RP.AuthCodeOptions] ask for a fresh authentication, or
// [ErrNotReauthenticated] when it had asked already). It reports whether
// it had asked, so that the caller removes the marker after the sign-in.
func (rp *RP) admit(w http.ResponseWriter, r *http.Request, userID string, c idClaims) (bool, error) {
	ctx := r.Context()
	var authTime time.Time
	if c.AuthTime != nil {
		authTime = time.Unix(int64(*c.AuthTime), 0)
	}
	asked := rp.cookie(r, rp.reauthName(r)) != ""
	err := rp.fresh(ctx, userID, authTime)
	if err == nil && rp.opts.MaxAuthAge > 0 && (authTime.IsZero() || rp.now().Sub(authTime) > rp.opts.MaxAuthAge+rp.opts.Leeway) {
		err = ErrReauthenticate
	}
	if err != nil {
		if errors.Is(err, ErrReauthenticate) {
			rp.setCookie(w, r, rp.reauthName(r), "1", reauthLifetime)
			if asked {
				err = ErrNotReauthenticated
			}
			rp.log.WarnContext(ctx, "oidc: sign-in refused", "user", userID, "err", err)
		}
		return false, err
	}
	return asked, nil
}

// tags returns the [SubjectTag] and, when the token has a sid, the
// [SessionTag] of tok.
func tags(tok *gooidc.IDToken, c idClaims) []string {
	t := []string{SubjectTag(tok.Issuer, tok.Subject)}
	if c.SessionID != "" {
		t = append(t, SessionTag(tok.Issuer, c.SessionID))
	}
	return t
}

// keepHint seals h, with rawIDToken unless [Options.KeepProviderSession]
// is set, into the ID token cookie for lifetime. A token too long for a
// cookie is left out (logged): the provider session is then not ended.
func (rp *RP) keepHint(w http.ResponseWriter, r *http.Request, h hint, rawIDToken string, lifetime time.Duration) {
	ctx := r.Context()
	if !rp.opts.KeepProviderSession {
		h.IDToken = rawIDToken
	}
	v, err := seal(rp.seal, "hint", h, rp.now().Add(lifetime))
	if err == nil && len(v) > maxCookie {
		rp.log.WarnContext(ctx, "oidc: the ID token is too long for a cookie: the provider session will not be ended", "bytes", len(rawIDToken))
		h.IDToken = ""
		v, err = seal(rp.seal, "hint", h, rp.now().Add(lifetime))
	}
	if err != nil {
		rp.log.ErrorContext(ctx, "oidc: seal the session cookie", "err", err)
		rp.setCookie(w, r, rp.hintName(r), "", -1)
		return
	}
	rp.setCookie(w, r, rp.hintName(r), v, lifetime)
}

// fresh returns ErrReauthenticate when userID has a session that ended
// (for a reason other than a new sign-in in the same browser) at or after
// authTime plus a second.
func (rp *RP) fresh(ctx context.Context, userID string, authTime time.Time) error {
	const limit = 100
	evs, err := rp.m.QueryEvents(ctx, logout.EventQuery{UserID: userID, Since: authTime.Add(time.Second), Limit: limit})
	if err != nil {
		return fmt.Errorf("oidc: sign in: %w", err)
	}
	if len(evs) == limit { // fail closed rather than page through
		return ErrReauthenticate
	}
	for _, e := range evs {
		if e.Reason != logout.ReasonReplaced {
			return ErrReauthenticate
		}
	}
	return nil
}

// AuthCodeOptions returns the parameters to add to the authorization
// request (oauth2.Config.AuthCodeURL) that the application's sign-in
// sends the browser to: prompt=login and max_age=0, which make the
// provider ask the person again, when this browser's last session ended
// or [RP.SignIn] refused an old authentication; none otherwise, so that
// single sign-on stays silent for a first sign-in (but for max_age set to
// [Options.MaxAuthAge], when set). When it asks, it sets a
// short-lived marker cookie, by which [RP.SignIn] tells a provider that
// ignored the request ([ErrNotReauthenticated]).
func (rp *RP) AuthCodeOptions(w http.ResponseWriter, r *http.Request) []oauth2.AuthCodeOption {
	owed := rp.cookie(r, rp.reauthName(r)) != ""
	if !owed {
		if h, ok := rp.hint(r); ok {
			_, alive := rp.status(r, h)
			owed = !alive
		}
		if !owed {
			if rp.opts.MaxAuthAge > 0 {
				return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(rp.opts.MaxAuthAge/time.Second), 10))}
			}
			return nil
		}
		rp.setCookie(w, r, rp.reauthName(r), "1", reauthLifetime)
	}
	return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")}
}

// EndProviderSession ends the browser's provider session by OpenID Connect
// RP-Initiated Logout 1.0 when the Logout session that it signed in has
// ended (idle, absolute, forced, limit, signed out: any reason), and
// reports whether it did so; the caller then writes nothing more. Call it
// first in the application's sign-in page and in the handler that starts
// a sign-in. It answers with a redirect (303) to the provider's
// end_session_endpoint with id_token_hint, client_id,
// post_logout_redirect_uri ([Options.PostLogoutRedirectURL]) and a sealed
// state that holds the reason and the return path, so that [RP.PostLogout]
// sends the browser on to the sign-in page with them: the notice ("You
// have been logged out!") survives the round trip. It removes the ID
// token cookie, and sets a marker that makes [RP.AuthCodeOptions] ask for a
// fresh authentication as well.
//
// It does nothing (false) with [Options.KeepProviderSession], without the
// cookie that [RP.SignIn] set, while that session is alive, and in a frame
// (Sec-Fetch-Dest: iframe, such as the widget's lock dialog with
// SignInFrame), which providers refuse to be shown in: a sign-in button
// there should target the whole tab (target="_top"). The ID
// token travels in the URL to the provider, as the specification has it
// (browsers would not send a SameSite=Lax provider cookie with a
// cross-site POST); the redirect carries Referrer-Policy: no-referrer.
func (rp *RP) EndProviderSession(w http.ResponseWriter, r *http.Request) bool {
	if rp.opts.KeepProviderSession || r.Header.Get("Sec-Fetch-Dest") == "iframe" {
		return false
	}
	h, ok := rp.hint(r)
	if !ok || h.IDToken == "" {
		return false
	}
	reason, alive := rp.status(r, h)
	if alive {
		return false
	}
	ret, _ := logout.SafeReturnPath(r.URL.Query().Get("return"))
	state, err := seal(rp.seal, "state", postLogout{Reason: reason.String(), Return: ret}, rp.now().Add(stateLifetime))
	if err != nil {
		rp.log.ErrorContext(r.Context(), "oidc: seal the logout state", "err", err)
		return false
	}
	u, err := url.Parse(rp.endSession)
	if err != nil {
		return false
	}
	q := u.Query()
	q.Set("id_token_hint", h.IDToken)
	q.Set("client_id", rp.opts.ClientID)
	q.Set("post_logout_redirect_uri", rp.opts.PostLogoutRedirectURL)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	rp.setCookie(w, r, rp.hintName(r), "", -1)
	rp.setCookie(w, r, rp.reauthName(r), "1", reauthLifetime)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// PostLogout returns the handler to mount at [Options.PostLogoutRedirectURL],
// where the provider sends the browser back after RP-initiated logout. It
// redirects (303) to the Manager's sign-in page ([logout.Manager.SignInURL])
// with the reason and return path that [RP.EndProviderSession] sealed in
// the state; a state that does not open (forged, expired, from another
// key) leads to the plain sign-in page. It takes GET only.
func (rp *RP) PostLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var reason logout.Reason
		var ret string
		if st, err := unseal[postLogout](rp.seal, "state", r.URL.Query().Get("state"), rp.now()); err == nil {
			reason, _ = logout.ParseReason(st.Reason)
			ret = st.Return
		}
		rp.setCookie(w, r, rp.hintName(r), "", -1)
		http.Redirect(w, r, rp.m.SignInURL(reason, ret), http.StatusSeeOther)
	})
}

// status reports whether the request's Logout session is h's and alive;
// if not, why it ended, as far as it can tell: from the session itself,
// from the sign-out log (the browser may have dropped the session's
// cookie already), or from the sign-in URL's reason.
func (rp *RP) status(r *http.Request, h hint) (logout.Reason, bool) {
	pr := r.Clone(r.Context())
	pr.Header.Set(logout.HeaderPassive, "1") // looking is not activity
	s, err := rp.m.Check(pr)
	if err == nil && s.ID == h.Session {
		return 0, true
	}
	var ended *logout.EndedError
	if errors.As(err, &ended) {
		return ended.Reason, false
	}
	if h.User != "" {
		evs, err := rp.m.QueryEvents(r.Context(), logout.EventQuery{UserID: h.User, Limit: 100})
		for _, e := range evs {
			if err == nil && e.SessionID == h.Session {
				return e.Reason, false
			}
		}
	}
	reason, _ := logout.ParseReason(r.URL.Query().Get("reason"))
	return reason, false
}

// hint opens the ID token cookie.
func (rp *RP) hint(r *http.Request) (hint, bool) {
	v := rp.cookie(r, rp.hintName(r))
	if v == "" {
		return hint{}, false
	}
	h, err := unseal[hint](rp.seal, "hint", v, rp.now())
	if err != nil || h.Session == "" {
		return hint{}, false
	}
	return h, true
}

// secure reports whether r's cookies are Secure with the __Host- prefix.
func (rp *RP) secure(r *http.Request) bool { return rp.opts.Secure || r.TLS != nil }

func (rp *RP) hintName(r *http.Request) string {
	if rp.secure(r) {
		return "__Host-" + rp.opts.CookieName
	}
	return rp.opts.CookieName
}

func (rp *RP) reauthName(r *http.Request) string { return rp.hintName(r) + "_reauth" }

func (rp *RP) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// setCookie sets a cookie for maxAge, or removes it when maxAge < 0.
func (rp *RP) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: rp.secure(r), SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
