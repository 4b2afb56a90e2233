package logout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
)

// tokenLen is the size of a session token: 256 random bits.
const tokenLen = 32

// encodedTokenLen is the length of a token in a cookie (base64url, no
// padding).
const encodedTokenLen = (8*tokenLen + 5) / 6

// tokenEncoding reads tokens: Strict, so that only the canonical
// encoding of a token is one (a tampered cookie is no session).
var tokenEncoding = base64.RawURLEncoding.Strict()

// idLen is the length of a session ID: a hex SHA-256.
const idLen = 2 * sha256.Size

// hashID returns the session ID of a secret: its hex SHA-256.
func hashID(secret []byte) string {
	var id [idLen]byte
	sumID(secret, &id)
	return string(id[:])
}

// sumID writes the session ID of a secret to id.
func sumID(secret []byte, id *[idLen]byte) {
	sum := sha256.Sum256(secret)
	// hex.Encode, two digits at a time from a table and without bounds
	// checks: a third of its instructions, on every request's path.
	for i, b := range sum {
		binary.LittleEndian.PutUint16(id[2*i:], hexPairs[b])
	}
}

// hexPairs holds the two lower-case hex digits of every byte, the first
// in the low byte.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for b := range t {
		t[b] = uint16(digits[b>>4]) | uint16(digits[b&0x0f])<<8
	}
	return t
}()

// appIDDomain is hashed before an application's session key
// ([AppSessions]), so that the session IDs of application sessions and
// of the Manager's own tokens are two key spaces that share a store and
// never meet: a 32-byte application key base64url-encoded is a valid
// token, and without it would name the same session.
const appIDDomain = "logout app session v1\x00"

// sumAppID writes the session ID of an application's session key to id.
func sumAppID(key string, id *[idLen]byte) {
	var buf [128]byte // []byte(key) would allocate (BenchmarkRequest/app)
	sumID(append(append(buf[:0], appIDDomain...), key...), id)
}

// cookieValue returns the value of the named cookie in h without
// allocating, or "" when there is none. It is on every request's path,
// where r.Cookie would allocate twice (BenchmarkRequest: 7 allocations
// instead of 5).
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && strings.TrimSpace(k) == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// decodeToken decodes a cookie value into a token without allocating.
// Anything but exactly the 43 characters of a canonical encoding is
// refused.
func decodeToken(v string, tok *[tokenLen]byte) bool {
	var src [encodedTokenLen]byte // []byte(v) would allocate
	if len(v) != len(src) {
		return false
	}
	copy(src[:], v)
	n, err := tokenEncoding.Decode(tok[:], src[:])
	return err == nil && n == tokenLen // n is less if v held a line break, which Decode skips
}

// csrfToken derives the CSRF token of a session from its secret, so it
// needs no storage and dies with the session.
func csrfToken(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("logout csrf v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// SafeReturnPath reports whether s is a same-origin path that is safe to
// redirect to after sign-in, and returns it cleaned of nothing but
// surrounding spaces. It refuses absolute and scheme-relative URLs
// ("https://evil.example", "//evil.example"), backslash tricks
// ("/\evil.example"), their percent-encoded forms, and control characters.
func SafeReturnPath(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] != '/' || len(s) > 2048 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// A path that decodes to a scheme-relative or backslash form is
	// refused too: some servers and browsers decode before redirecting.
	if dec, err := url.PathUnescape(u.EscapedPath()); err != nil ||
		strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00\r\n\t") {
		return "", false
	}
	if strings.Contains(strings.ToLower(s), "%5c") {
		return "", false
	}
	return s, true
}
