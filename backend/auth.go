package backend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	if a.secure(r) {
		return "__Host-" + preCookie
	}
	return preCookie
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
// ended (?reason=) if it did.
func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
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

// signIn checks the form and the password and starts a session.
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ret, _ := logout.SafeReturnPath(r.PostFormValue("return"))
	name := strings.TrimSpace(r.PostFormValue("username"))
	p := a.page(r, nil, "signin.title")
	view := signInView{User: name, Return: ret}
	again := func(code int, key string) {
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
	ip := clientIP(r)
	if wait, ok := a.limit.blocked(ip); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		again(http.StatusTooManyRequests, "signin.too_many")
		return
	}
	u, err := a.users.authenticate(r.Context(), name, r.PostFormValue("password"), a.dummy)
	if errors.Is(err, errNoUser) {
		a.limit.fail(ip)
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: sign-in failed", slog.String("user", name), slog.String("ip", ip))
		again(http.StatusUnauthorized, "signin.wrong")
		return
	}
	if err != nil {
		a.internal(w, r, nil, err)
		return
	}
	if _, err := a.m.SignIn(w, r, logout.User{ID: u.SessionUser(), Roles: u.Roles}); err != nil {
		a.internal(w, r, nil, fmt.Errorf("sign in %s: %w", u.Name, err))
		return
	}
	// The pre-session cookie stays: another tab's sign-in form, shown
	// when that tab timed out too, keeps working.
	a.limit.reset(ip)
	http.Redirect(w, r, cmp(ret, a.cfg.Prefix), http.StatusSeeOther)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// A userHandler serves a request of a signed-in user.
type userHandler func(http.ResponseWriter, *http.Request, *user)

// auth serves h only for a signed-in user; others go to the sign-in page
// (scripts get 401 with JSON).
func (a *App) auth(h userHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := logout.FromContext(r.Context())
		var u *user
		if ok {
			var err error
			u, err = a.users.byID(r.Context(), s.UserID)
			switch {
			case errors.Is(err, errNoUser):
				// The user was removed: end the session.
				if err := a.m.SignOut(w, r); err != nil {
					a.internal(w, r, nil, err)
					return
				}
				u = nil
			case err != nil:
				a.internal(w, r, nil, err)
				return
			}
		}
		if u == nil {
			ret := ""
			if r.Method == http.MethodGet {
				ret = r.URL.RequestURI()
			}
			to := a.m.SignInURL(0, ret)
			if strings.Contains(r.Header.Get("Accept"), "application/json") {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]any{"signed_in": false, "sign_in_url": to})
				return
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		h(w, r, u)
	})
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

// checkCSRF checks a backend POST with the Manager; on failure it renders
// 403 and returns false.
func (a *App) checkCSRF(w http.ResponseWriter, r *http.Request, u *user) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := a.m.CheckCSRF(r); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "backend: CSRF check failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		a.fail(w, r, u, http.StatusForbidden, "error.csrf")
		return false
	}
	return true
}

// A limiter counts failed sign-ins per client address: after
// limitFails failures within limitWindow, it refuses further attempts
// until the oldest failure is that old.
type limiter struct {
	mu    sync.Mutex
	now   func() time.Time
	fails map[string][]time.Time
}

const (
	limitFails  = 10
	limitWindow = 10 * time.Minute
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, fails: make(map[string][]time.Time)}
}

// recent drops failures older than the window; l.mu is held.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	list := l.fails[key]
	for len(list) > 0 && now.Sub(list[0]) >= limitWindow {
		list = list[1:]
	}
	if len(list) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = list
	return list
}

// blocked reports whether key is blocked, and for how long.
func (l *limiter) blocked(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	list := l.recent(key, now)
	if len(list) < limitFails {
		return 0, false
	}
	return limitWindow - now.Sub(list[0]), true
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) > 10000 { // keep memory bounded under a spray of addresses
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	l.fails[key] = append(l.recent(key, now), now)
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}
