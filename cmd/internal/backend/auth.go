package backend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// preCookie is the pre-session cookie that the sign-in form's CSRF token
// is bound to; under TLS it carries the __Host- prefix.
const preCookie = "logout_pre"

// errSignInCSRF tells that a sign-in form came without a valid token.
var errSignInCSRF = errors.New("backend: sign-in form: missing or wrong CSRF token")

func (a *App) secure(r *http.Request) bool { return r.TLS != nil || a.cfg.Secure }

func (a *App) preCookieName(r *http.Request) string {
	return logout.SecureCookieName(preCookie, a.secure(r))
}

// signInToken returns the sign-in form's CSRF token: an HMAC of the
// pre-session cookie, which it sets when the request has none.
func (a *App) signInToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(a.preCookieName(r)); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		b := make([]byte, 32)
		rand.Read(b)
		v = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: a.preCookieName(r), Value: v, Path: "/", HttpOnly: true,
			Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
		})
	}
	return a.preToken(v)
}

func (a *App) preToken(cookie string) string {
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte("signin\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// checkSignInCSRF checks a sign-in POST: same origin, and the form's
// token matches the pre-session cookie.
func (a *App) checkSignInCSRF(r *http.Request) error {
	if err := a.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", errSignInCSRF, err)
	}
	c, err := r.Cookie(a.preCookieName(r))
	if err != nil || len(c.Value) != 43 {
		return fmt.Errorf("%w: no pre-session cookie", errSignInCSRF)
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue(logout.FieldCSRF)), []byte(a.preToken(c.Value))) != 1 {
		return errSignInCSRF
	}
	return nil
}

// signInView is the sign-in page's data.
type signInView struct {
	User, Return, Token, Error string
}

// signInPage shows the sign-in form, with the notice of why the session
// ended (?reason=) if it did. A script (the widget's sign-in in place)
// gets the form's token as JSON instead: {"csrf_token": "…"}.
func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
	if logout.IsScript(r) {
		writeJSON(w, http.StatusOK, map[string]string{"csrf_token": a.signInToken(w, r)})
		return
	}
	ret, _ := logout.SafeReturnPath(r.URL.Query().Get("return"))
	if a.signedIn(r) {
		http.Redirect(w, r, cmp(ret, a.cfg.Prefix), http.StatusSeeOther)
		return
	}
	p := a.page(r, nil, "signin.title")
	if reason, err := logout.ParseReason(r.URL.Query().Get("reason")); err == nil {
		kind := "info"
		if reason != logout.ReasonManual {
			kind = "error"
		}
		p.Notices = append(p.Notices, notice{Kind: kind, Text: p.T("reason." + reason.String())})
	}
	p.Data = signInView{Return: ret, Token: a.signInToken(w, r)}
	a.render(w, r, http.StatusOK, "signin", p)
}

// signedIn reports whether r carries a live session of an existing user.
func (a *App) signedIn(r *http.Request) bool {
	s, ok := logout.FromContext(r.Context())
	if !ok {
		return false
	}
	_, err := a.users.byID(r.Context(), s.UserID)
	return err == nil
}

// signIn checks the form and the password and starts a session. A
// script (the widget's sign-in in place) passes the same checks and gets
// JSON: the new session's status from [logout.Manager.WriteSignedIn], or
// {"error": "…"} with 400, 401, 403 or 429 (and "retry_after" seconds).
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	if !a.readForm(w, r, nil, maxFormBytes) {
		return
	}
	ret, _ := logout.SafeReturnPath(r.PostFormValue("return"))
	name := strings.TrimSpace(r.PostFormValue("username"))
	p := a.page(r, nil, "signin.title")
	view := signInView{User: name, Return: ret}
	again := func(code int, key string) {
		if logout.IsScript(r) {
			v := map[string]any{"error": p.T(key)}
			if s := w.Header().Get("Retry-After"); s != "" {
				v["retry_after"], _ = strconv.Atoi(s)
			}
			writeJSON(w, code, v)
			return
		}
		view.Error = p.T(key)
		view.Token = a.signInToken(w, r)
		p.Data = view
		a.render(w, r, code, "signin", p)
	}
	if err := a.checkSignInCSRF(r); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: sign-in refused", slog.String("error", err.Error()))
		again(http.StatusForbidden, "signin.csrf")
		return
	}
	// The attempt is counted before the password is checked, so that
	// concurrent guesses cannot pass the throttle together.
	ip := addrKey(clientAddr(r, a.cfg.TrustedProxies))
	account := accountKey(name)
	at := signInAttempt{Account: account, Addr: ip, Device: a.deviceFor(r, account)}
	wait, err := a.limit.reserve(r.Context(), a.now(), at)
	if err != nil {
		a.internal(w, r, nil, err)
		return
	}
	if wait > 0 {
		secs := int64((wait + time.Second - 1) / time.Second)
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: sign-in throttled", slog.String("user", name),
			slog.String("ip", ip), slog.Bool("device", at.Device != ""), slog.Int64("retry_after", secs))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		again(http.StatusTooManyRequests, "signin.too_many")
		return
	}
	u, err := a.users.authenticate(r.Context(), name, r.PostFormValue("password"), a.dummy)
	if errors.Is(err, errNoUser) {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: sign-in failed", slog.String("user", name),
			slog.String("ip", ip), slog.Bool("device", at.Device != ""))
		again(http.StatusUnauthorized, "signin.wrong")
		return
	}
	if err != nil {
		a.internal(w, r, nil, err)
		return
	}
	s, err := a.m.SignIn(w, r, logout.User{ID: u.SessionUser(), Name: u.Name, Roles: u.Roles})
	if err != nil {
		a.internal(w, r, nil, fmt.Errorf("sign in %s: %w", u.Name, err))
		return
	}
	// A failure to clear the count only leaves the account a little
	// slower: the user is signed in already.
	if err := a.limit.succeeded(r.Context(), at); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelError, "backend: sign-in throttle", slog.String("error", err.Error()))
	}
	a.issueDevice(w, r, account)
	// The pre-session cookie stays: another tab's sign-in form, shown
	// when that tab timed out too, keeps working.
	if logout.IsScript(r) {
		a.m.WriteSignedIn(w, r, s, a.cfg.Prefix)
		return
	}
	http.Redirect(w, r, cmp(ret, a.cfg.Prefix), http.StatusSeeOther)
}

// A userHandler serves a request of a signed-in user.
type userHandler func(http.ResponseWriter, *http.Request, *user)

// auth serves h only for a signed-in user of an existing account. Others
// are answered by the Manager exactly as an ended session is
// ([logout.Manager.Require]): a page load goes to the sign-in page with
// its return path, a script gets 401 with JSON. A session whose user was
// removed is ended first.
func (a *App) auth(h userHandler) http.Handler {
	return a.m.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := logout.FromContext(r.Context())
		u, err := a.users.byID(r.Context(), s.UserID)
		switch {
		case errors.Is(err, errNoUser):
			if err := a.m.SignOut(w, r); err != nil {
				a.internal(w, r, nil, err)
				return
			}
			a.m.Unauthorized(w, r, 0)
		case err != nil:
			a.internal(w, r, nil, err)
		default:
			h(w, r, u)
		}
	}))
}

// need serves h only for a signed-in user with the permission; others
// get 403.
func (a *App) need(perm string, h userHandler) http.Handler {
	return a.auth(func(w http.ResponseWriter, r *http.Request, u *user) {
		if !u.Can(perm) {
			a.fail(w, r, u, http.StatusForbidden, "error.forbidden")
			return
		}
		h(w, r, u)
	})
}

// checkCSRF checks a backend POST with the Manager, after readForm has
// parsed its body; on failure it renders 403 and returns false.
func (a *App) checkCSRF(w http.ResponseWriter, r *http.Request, u *user) bool {
	if err := a.m.CheckCSRF(r); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: CSRF check failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		a.fail(w, r, u, http.StatusForbidden, "error.csrf")
		return false
	}
	return true
}
