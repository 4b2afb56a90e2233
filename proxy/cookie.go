package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"time"
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

// stripCookies removes from h's Cookie headers every cookie that a
// panel's runtime may read under a name matching one of ps (see
// runtimeNames), keeping the others byte for byte. It reports whether it
// removed any.
func stripCookies(h http.Header, ps []Pattern) bool {
	if len(ps) == 0 {
		return false
	}
	return filterCookies(h, func(name, _ string) bool { return readAs(ps, name) })
}

// filterCookies removes from h's Cookie headers every cookie whose raw
// name (without the spaces before it, which every runtime skips) and
// value drop reports, keeping the others byte for byte and in order. It
// reports whether it removed any.
//
// It is the proxy's one reader of a raw Cookie header, which it reads as
// PHP and Python do (runtimeNames; FuzzCookieNames holds it to their
// emulators), because net/http's Request.Cookies skips the parts it finds
// invalid that those runtimes read. Everything else in the proxy reads
// the cookies as net/http parses them (request.cookies), once dropAliases
// has removed every credential that the two readings would not agree on.
func filterCookies(h http.Header, drop func(name, value string) bool) bool {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return false
	}
	var kept []string
	removed := false
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			name, value, _ := strings.Cut(part, "=")
			if drop(strings.TrimLeft(name, " \t"), value) {
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

// dropAliases removes from h's Cookie headers the cookies that a panel's
// runtime reads as a credential (patterns ps) under another name than
// their own, those whose value Go's parser refuses (the proxy would not
// see them, the panel might), and every credential cookie but the first
// of its name, so that the panel reads exactly the credentials the proxy
// reads: PHP keeps the first cookie of a name and Django the last, while
// the proxy keys a session by the first.
func dropAliases(h http.Header, ps []Pattern) bool {
	var seen map[string]bool
	return filterCookies(h, func(name, value string) bool {
		if !readAs(ps, name) {
			return false
		}
		if alias(ps, name) || seen[name] {
			return true
		}
		if _, err := http.ParseCookie(name + "=" + strings.TrimRight(value, " \t")); err != nil {
			return true
		}
		if seen == nil {
			seen = make(map[string]bool, 2)
		}
		seen[name] = true
		return false
	})
}

// readAs reports whether a panel's runtime may read the cookie of raw
// name under a name that matches one of ps.
func readAs(ps []Pattern, raw string) bool {
	for _, n := range runtimeNames(raw) {
		if n != "" && matchAny(ps, n) {
			return true
		}
	}
	return false
}

// alias reports whether the cookie of raw name is read by some runtime
// under a name matching one of ps that is not its own: "wordpress.logged
// in_x" is PHP's wordpress_logged_in_x, " sessionid " is Python's and
// Go's sessionid.
func alias(ps []Pattern, raw string) bool {
	for _, n := range runtimeNames(raw) {
		if n != raw && n != "" && matchAny(ps, n) {
			return true
		}
	}
	return false
}

// runtimeNames returns the names under which the runtimes of the panels
// behind the proxy read a cookie of raw name (the text before "=" in one
// part of a Cookie header): Go's and Python's (Django's parse_cookie,
// which strips whitespace including Latin-1's), and PHP's, which also
// turns " ", "." and an unclosed "[" into "_", reads "a[b]" as the array a,
// and before PHP 7.4.11 URL-decoded the name first.
func runtimeNames(raw string) [3]string {
	return [3]string{trimPython(raw), phpName(raw), phpName(phpURLDecode(raw))}
}

// trimPython removes from both ends of s the bytes that Python's
// str.strip removes from a header decoded as Latin-1, as WSGI decodes it.
func trimPython(s string) string {
	for len(s) > 0 && isPythonSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isPythonSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isPythonSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0:
		return true
	}
	return false
}

// phpName returns the key under which PHP registers a cookie of raw name
// in $_COOKIE (php_default_treat_data and php_register_variable_ex):
// leading whitespace skipped, cut at a NUL byte, " " and "." turned into
// "_", and at the first "[" either the array's name (a "]" follows) or
// "_" with the rest's " ", "." and "[" turned into "_" too.
func phpName(raw string) string {
	s := strings.TrimLeft(raw, " \t\n\r\v\f")
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if !strings.ContainsAny(s, " .[") {
		return s // no allocation on every request's path
	}
	b := []byte(s)
	for i, c := range b {
		switch c {
		case ' ', '.':
			b[i] = '_'
		case '[':
			if strings.IndexByte(s[i+1:], ']') >= 0 {
				return string(b[:i])
			}
			for j := i; j < len(b); j++ {
				if b[j] == ' ' || b[j] == '.' || b[j] == '[' {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return string(b)
}

// phpURLDecode decodes s as PHP's urldecode does: "+" is a space, and a
// "%" followed by two hex digits is that byte; anything else is kept.
func phpURLDecode(s string) string { return decodePercent(s, true) }

// percentDecode decodes s as PHP's rawurldecode decodes a cookie's value:
// as phpURLDecode, but "+" is kept.
func percentDecode(s string) string { return decodePercent(s, false) }

func decodePercent(s string, plus bool) string {
	if !strings.Contains(s, "%") && (!plus || !strings.Contains(s, "+")) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// cookieGone reports whether a Set-Cookie from the panel deletes its
// cookie as a browser would take it at now: an empty value, a negative
// Max-Age, or an Expires in the past.
func cookieGone(c *http.Cookie, now time.Time) bool {
	return c.Value == "" || c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(now))
}
