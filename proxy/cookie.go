package proxy

import (
	"fmt"
	"net/http"
	"strings"
)

// A Pattern matches cookie names: an exact name such as "sessionid", or a
// prefix ending in one "*", such as "wordpress_logged_in_*", for names
// that carry a per-site suffix. The zero Pattern matches nothing.
type Pattern struct {
	name   string
	prefix bool
}

// ParsePattern parses a cookie name pattern. It refuses an empty
// pattern, a "*" anywhere but at the end, a lone "*", and characters that
// may not appear in a cookie name (RFC 6265 token characters only).
func ParsePattern(s string) (Pattern, error) {
	name, prefix := strings.CutSuffix(s, "*")
	switch {
	case name == "":
		return Pattern{}, fmt.Errorf("proxy: cookie pattern %q: want a name such as sessionid, or a prefix such as wordpress_logged_in_*", s)
	case !isToken(name):
		return Pattern{}, fmt.Errorf("proxy: cookie pattern %q: a cookie name holds only letters, digits and !#$%%&'+-.^_`|~", s)
	}
	return Pattern{name: name, prefix: prefix}, nil
}

// MustPattern is ParsePattern for built-in profiles; it panics on an
// invalid pattern, which is a programming error.
func mustPattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether the cookie name matches p.
func (p Pattern) Match(name string) bool {
	if p.prefix {
		return len(name) > len(p.name) && strings.HasPrefix(name, p.name)
	}
	return p.name != "" && name == p.name
}

// String returns the pattern as ParsePattern reads it.
func (p Pattern) String() string {
	if p.prefix {
		return p.name + "*"
	}
	return p.name
}

// MarshalText implements encoding.TextMarshaler.
func (p Pattern) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePattern.
func (p *Pattern) UnmarshalText(b []byte) error {
	q, err := ParsePattern(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// isToken reports whether s is a non-empty RFC 7230 token, the set of
// characters allowed in a cookie name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 && c != '*':
		default:
			return false
		}
	}
	return true
}

// matchAny reports whether name matches one of ps.
func matchAny(ps []Pattern, name string) bool {
	for _, p := range ps {
		if p.Match(name) {
			return true
		}
	}
	return false
}

// cookieKey returns what keys a session by the session cookie name with
// value: the value itself, or, with Options.LaravelKey, the session ID it
// decrypts to ("" when it does not, an anonymous visitor).
func (p *Proxy) cookieKey(name, value string) string {
	if p.opts.LaravelKey == nil {
		return value
	}
	id, ok := p.opts.LaravelKey.DecryptCookie(name, value)
	if !ok {
		return ""
	}
	return id
}

// requestKey returns the key (see cookieKey) of the first non-empty
// cookie of r matching the profile's SessionCookies, in the order the
// browser sent them (the most specific path first), or "".
func (p *Proxy) requestKey(r *http.Request) string {
	for _, c := range r.Cookies() {
		if matchAny(p.prof.SessionCookies, c.Name) && c.Value != "" {
			return p.cookieKey(c.Name, c.Value)
		}
	}
	return ""
}

// stripCookies removes from h's Cookie headers every cookie whose name
// matches one of ps, keeping the others byte for byte. It reports whether
// it removed any.
func stripCookies(h http.Header, ps []Pattern) bool {
	lines := h["Cookie"]
	if len(lines) == 0 || len(ps) == 0 {
		return false
	}
	var kept []string
	removed := false
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if matchAny(ps, name) {
				removed = true
				continue
			}
			if p := strings.TrimSpace(part); p != "" {
				kept = append(kept, p)
			}
		}
	}
	if !removed {
		return false
	}
	if len(kept) == 0 {
		h.Del("Cookie")
	} else {
		h["Cookie"] = []string{strings.Join(kept, "; ")}
	}
	return true
}
