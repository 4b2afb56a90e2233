package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// EventBackChannelLogout is the member of a logout token's events claim
// that makes it one.
const EventBackChannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// MaxLogoutToken is the longest logout token accepted, in bytes.
const MaxLogoutToken = 16 << 10

// ErrInvalidToken is wrapped by every error of [RP.VerifyLogoutToken]:
// the token is refused and changes nothing.
var ErrInvalidToken = errors.New("oidc: invalid logout token")

// A LogoutToken is a verified logout token of OpenID Connect Back-Channel
// Logout 1.0: the provider says that its session SessionID, or every
// session of Subject when SessionID is "", ended.
type LogoutToken struct {
	// Issuer is the provider (iss).
	Issuer string
	// Audience lists the clients the token is for (aud); it holds the
	// RP's client ID.
	Audience []string
	// Subject is the provider's user (sub); "" when the token names a
	// session only.
	Subject string
	// SessionID is the provider's session (sid); "" when the token names
	// a subject only.
	SessionID string
	// ID is the token's unique ID (jti).
	ID string
	// IssuedAt is when the provider issued the token (iat).
	IssuedAt time.Time
	// Expiry is when it expires (exp); zero when the token has none.
	Expiry time.Time
}

// invalid returns an error wrapping ErrInvalidToken that says why, for
// the log.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// VerifyLogoutToken verifies raw as OpenID Connect Back-Channel Logout 1.0
// section 2.6 says, and returns its claims. It refuses, with an error
// wrapping [ErrInvalidToken]:
//   - a token that is not a compact JWS with one signature, is longer than
//     [MaxLogoutToken], uses an algorithm not in [Options.Algorithms]
//     ("none" and HMAC never are), or whose signature none of the
//     provider's keys verify;
//   - a typ header other than "logout+jwt", "application/logout+jwt" or
//     the generic "JWT" (which Hydra, among others, sends);
//   - iss other than [Options.Issuer], exactly; aud without
//     [Options.ClientID];
//   - iat missing, more than [Options.MaxTokenAge] in the past or in the
//     future (each with [Options.Leeway]); exp, when present, in the past;
//   - an events claim without the member [EventBackChannelLogout] whose
//     value is a JSON object;
//   - neither sub nor sid, either of them not a string, a nonce claim (of
//     any value: an ID token is not a logout token), or no jti.
//
// It does not check that jti is new: [RP.BackChannel] does, through the
// [ReplayCache]. Times are judged by [Options.Now].
func (rp *RP) VerifyLogoutToken(ctx context.Context, raw string) (LogoutToken, error) {
	if len(raw) > MaxLogoutToken {
		return LogoutToken{}, invalid("longer than %d bytes", MaxLogoutToken)
	}
	algs := make([]jose.SignatureAlgorithm, len(rp.algs))
	for i, a := range rp.algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil {
		return LogoutToken{}, invalid("not a JWS with an accepted algorithm: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return LogoutToken{}, invalid("%d signatures, want 1", len(jws.Signatures))
	}
	if typ, ok := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; ok {
		s, _ := typ.(string)
		switch strings.ToLower(s) {
		case "logout+jwt", "application/logout+jwt", "jwt":
		default:
			return LogoutToken{}, invalid("typ %q", s)
		}
	}
	payload, err := rp.keys.VerifySignature(ctx, raw)
	if err != nil {
		return LogoutToken{}, invalid("signature: %v", err)
	}
	return rp.checkClaims(payload)
}

// checkClaims checks the claims of a logout token whose signature was
// verified.
func (rp *RP) checkClaims(payload []byte) (LogoutToken, error) {
	var c map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(payload))
	if err := d.Decode(&c); err != nil || c == nil || d.More() {
		return LogoutToken{}, invalid("claims are not a JSON object")
	}
	var t LogoutToken
	str := func(name string, dst *string) error {
		v, ok := c[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return invalid("%s is not a string", name)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"iss", &t.Issuer}, {"sub", &t.Subject}, {"sid", &t.SessionID}, {"jti", &t.ID}} {
		if err := str(f.name, f.dst); err != nil {
			return LogoutToken{}, err
		}
	}
	if t.Issuer != rp.opts.Issuer {
		return LogoutToken{}, invalid("iss %q, want %q", t.Issuer, rp.opts.Issuer)
	}
	if aud, ok := c["aud"]; ok {
		var one string
		if json.Unmarshal(aud, &one) == nil {
			t.Audience = []string{one}
		} else if json.Unmarshal(aud, &t.Audience) != nil {
			return LogoutToken{}, invalid("aud is neither a string nor an array of strings")
		}
	}
	if !slices.Contains(t.Audience, rp.opts.ClientID) {
		return LogoutToken{}, invalid("aud %q does not hold the client ID", t.Audience)
	}
	now := rp.now()
	iat, ok, err := numericDate(c, "iat")
	switch {
	case err != nil:
		return LogoutToken{}, err
	case !ok:
		return LogoutToken{}, invalid("no iat")
	case iat.After(now.Add(rp.opts.Leeway)):
		return LogoutToken{}, invalid("iat %v is in the future", iat)
	case iat.Before(now.Add(-rp.opts.MaxTokenAge - rp.opts.Leeway)):
		return LogoutToken{}, invalid("iat %v is more than %v old", iat, rp.opts.MaxTokenAge)
	}
	t.IssuedAt = iat
	exp, ok, err := numericDate(c, "exp")
	if err != nil {
		return LogoutToken{}, err
	}
	if ok {
		if !now.Before(exp.Add(rp.opts.Leeway)) {
			return LogoutToken{}, invalid("expired at %v", exp)
		}
		t.Expiry = exp
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(c["events"], &events); err != nil || events == nil {
		return LogoutToken{}, invalid("events is not a JSON object")
	}
	var ev map[string]json.RawMessage
	if v, ok := events[EventBackChannelLogout]; !ok || json.Unmarshal(v, &ev) != nil || ev == nil {
		return LogoutToken{}, invalid("events has no %s object", EventBackChannelLogout)
	}
	if _, ok := c["nonce"]; ok {
		return LogoutToken{}, invalid("has a nonce claim")
	}
	if t.Subject == "" && t.SessionID == "" {
		return LogoutToken{}, invalid("neither sub nor sid")
	}
	if t.ID == "" {
		return LogoutToken{}, invalid("no jti")
	}
	if len(t.ID) > 256 || len(t.SessionID) > 1024 || len(t.Subject) > 1024 {
		return LogoutToken{}, invalid("jti, sid or sub too long")
	}
	return t, nil
}

// numericDate reads the NumericDate claim name, and reports whether it is
// there.
func numericDate(c map[string]json.RawMessage, name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f < 0 || f > math.MaxInt32*64 || math.IsNaN(f) {
		return time.Time{}, false, invalid("%s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
