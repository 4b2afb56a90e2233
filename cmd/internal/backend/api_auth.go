package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// An apiHandler serves a request authenticated by an API token.
type apiHandler func(http.ResponseWriter, *http.Request, Token)

// The realm of the API's bearer tokens.
const bearerRealm = `Bearer realm="logout"`

// bearer serves h for a request with a valid token of scope (a write
// token may also read). A request without a token gets 401; one with a
// wrong, revoked or expired token gets the same 401 with
// error="invalid_token" and nothing to tell which; a read token on a
// write path 403. Token guesses are throttled by client address as
// sign-in attempts are: each token checked counts, a valid one is taken
// back, and an address over its count gets 429 without its token being
// checked.
func (a *App) bearer(scope string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", bearerRealm)
			apiError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		ctx := r.Context()
		ip := addrKey(clientAddr(r, a.cfg.TrustedProxies))
		wait, err := a.limit.reserveToken(ctx, a.now(), ip)
		if err != nil {
			a.apiInternal(w, r, err)
			return
		}
		if wait > 0 {
			secs := int64((wait + time.Second - 1) / time.Second)
			a.log.LogAttrs(ctx, slog.LevelWarn, "backend: API token throttled", slog.String("ip", ip), slog.Int64("retry_after", secs))
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			apiError(w, http.StatusTooManyRequests, "too many wrong tokens from this address; try again later")
			return
		}
		tok, err := a.users.tokenBy(ctx, token, a.now())
		if errors.Is(err, errNoUser) {
			a.log.LogAttrs(ctx, slog.LevelWarn, "backend: API token refused", slog.String("ip", ip), slog.String("path", r.URL.Path))
			w.Header().Set("WWW-Authenticate", bearerRealm+`, error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if err != nil {
			a.apiInternal(w, r, err)
			return
		}
		if err := a.limit.tokenSucceeded(ctx, ip); err != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "backend: API token throttle", slog.String("error", err.Error()))
		}
		if scope == ScopeWrite && tok.Scope != ScopeWrite {
			w.Header().Set("WWW-Authenticate", bearerRealm+`, error="insufficient_scope", scope="write"`)
			apiError(w, http.StatusForbidden, "this token may only read")
			return
		}
		h(w, r, tok)
	})
}

// bearerToken returns the token of the request's one Authorization
// header of the Bearer scheme.
func bearerToken(r *http.Request) (string, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(hs[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// tokenCounters are the throttle's counters of token guesses from one
// address: apart from the sign-in counts, with the rule of an address's
// sign-ins (20 at once, then waits from 1 s, one forgiven every 5 min).
func (t *throttle) tokenCounters(addr string) []throttleCounter {
	return []throttleCounter{{"tok:" + addr, t.addr}}
}

// reserveToken counts a token check from addr, or returns how long until
// the address may check one.
func (t *throttle) reserveToken(ctx context.Context, now time.Time, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	wait, err := t.store.reserve(ctx, now, t.tokenCounters(addr))
	if err != nil {
		return 0, fmt.Errorf("backend: token throttle: %w: %w", logout.ErrUnavailable, err)
	}
	return wait, nil
}

// tokenSucceeded takes a valid token's check back.
func (t *throttle) tokenSucceeded(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	if err := t.store.forgive(ctx, t.tokenCounters(addr), nil); err != nil {
		return fmt.Errorf("backend: token throttle: %w", err)
	}
	return nil
}
