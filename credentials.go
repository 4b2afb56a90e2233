package logout

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// credentials is how a Manager finds, issues and drops the credential a
// browser presents for its session. [New] picks one of the two once: the
// Manager's own cookie, or the application's sessions ([Options.App]).
type credentials interface {
	// presented returns what r presents, not yet validated; "" for none.
	presented(r *http.Request) string
	// sessionID validates a presented credential and returns its session
	// ID; false for a malformed one. It is on every request's path: it
	// does not allocate.
	sessionID(key string) ([idLen]byte, bool)
	// resolve validates a presented credential and derives its secret and
	// session ID; false for a malformed one.
	resolve(key string) (resolved, bool)
	// issue returns the credential of a new session started on r.
	issue(r *http.Request) (resolved, string, error)
	// hand gives a new credential to the browser, once its session is
	// stored.
	hand(w http.ResponseWriter, r *http.Request, key string)
	// drop removes r's credential from the browser, or ends the
	// application's session.
	drop(w http.ResponseWriter, r *http.Request)
}

// resolved is a validated credential: its raw secret and session ID.
type resolved struct {
	secret []byte
	id     string
}

// cookieCredentials is the Manager's own cookie: a random 256-bit token,
// of which the store keeps only the SHA-256.
type cookieCredentials struct {
	name       string    // Options.CookieName
	secureName string    // SecureCookieName(name, true), made once: not a concatenation a request
	secure     bool      // Options.Secure
	rand       io.Reader // Options.Rand, or crypto/rand
}

// cookieName adds the __Host- prefix under TLS.
func (c cookieCredentials) cookieName(r *http.Request) string {
	if r.TLS != nil || c.secure {
		return c.secureName
	}
	return c.name
}

// SecureCookieName returns the name of a cookie of name that Logout sets
// (the session's, [Options.CookieName], and the admin pages' of package
// backend): with the "__Host-" prefix when secure (a request over TLS, or
// [Options.Secure]), so that browsers take it only from this host, on path
// "/", Secure. It is the one home of that rule: whoever must know every
// name of such a cookie (logout-proxy never forwards them to the panel)
// asks for both, SecureCookieName(name, false) and SecureCookieName(name,
// true).
func SecureCookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

func (c cookieCredentials) cookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name: c.cookieName(r), Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || c.secure,
	}
}

func (c cookieCredentials) presented(r *http.Request) string {
	return cookieValue(r.Header, c.cookieName(r))
}

func (c cookieCredentials) sessionID(key string) (id [idLen]byte, ok bool) {
	var tok [tokenLen]byte
	if !decodeToken(key, &tok) {
		return id, false
	}
	sumID(tok[:], &id)
	return id, true
}

func (c cookieCredentials) resolve(key string) (resolved, bool) {
	tok := new([tokenLen]byte)
	if key == "" || !decodeToken(key, tok) {
		return resolved{}, false
	}
	return resolved{secret: tok[:], id: hashID(tok[:])}, true
}

func (c cookieCredentials) issue(*http.Request) (resolved, string, error) {
	var tok [tokenLen]byte
	if _, err := io.ReadFull(c.rand, tok[:]); err != nil {
		return resolved{}, "", fmt.Errorf("random token: %w", err)
	}
	key := base64.RawURLEncoding.EncodeToString(tok[:])
	return resolved{secret: tok[:], id: hashID(tok[:])}, key, nil
}

func (c cookieCredentials) hand(w http.ResponseWriter, r *http.Request, key string) {
	http.SetCookie(w, c.cookie(r, key))
}

func (c cookieCredentials) drop(w http.ResponseWriter, r *http.Request) {
	if c.presented(r) != "" {
		ck := c.cookie(r, "")
		ck.MaxAge = -1
		http.SetCookie(w, ck)
	}
}

// appCredentials are the application's own sessions: Logout keeps a
// deadline per application session ID and issues no cookie.
type appCredentials struct{ app AppSessions }

func (a appCredentials) presented(r *http.Request) string { return a.app.SessionID(r) }

func (a appCredentials) sessionID(key string) (id [idLen]byte, ok bool) {
	if key == "" {
		return id, false
	}
	sumAppID(key, &id)
	return id, true
}

func (a appCredentials) resolve(key string) (resolved, bool) {
	if key == "" {
		return resolved{}, false
	}
	var id [idLen]byte
	sumAppID(key, &id)
	return resolved{secret: []byte(key), id: string(id[:])}, true
}

func (a appCredentials) issue(r *http.Request) (resolved, string, error) {
	key := a.app.SessionID(r)
	if key == "" {
		return resolved{}, "", errors.New("the application's session has no ID")
	}
	c, _ := a.resolve(key)
	return c, key, nil
}

func (appCredentials) hand(http.ResponseWriter, *http.Request, string) {}

func (a appCredentials) drop(w http.ResponseWriter, r *http.Request) { a.app.EndSession(w, r) }

// newCredentials picks the credentials of opts, once.
func newCredentials(opts Options) credentials {
	if opts.App != nil {
		return appCredentials{opts.App}
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	return cookieCredentials{name: opts.CookieName, secureName: SecureCookieName(opts.CookieName, true), secure: opts.Secure, rand: rnd}
}
