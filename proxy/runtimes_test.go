package proxy

import (
	"net/http"
	"strconv"
	"strings"
)

// The panels' runtimes, written from their parsers for the tests: each
// returns the cookies as the panel's code sees them, name to value.

// phpCookies is $_COOKIE: parts split at ";", leading whitespace skipped,
// the first cookie of a name kept, names normalised as
// php_register_variable_ex does (see phpKey).
func phpCookies(header string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(header, ";") {
		name, val, _ := strings.Cut(part, "=")
		for len(name) > 0 && strings.IndexByte(" \t\n\r\v\f", name[0]) >= 0 {
			name = name[1:]
		}
		key, ok := phpKey(name)
		if !ok {
			continue
		}
		if _, dup := out[key]; !dup {
			out[key] = val
		}
	}
	return out
}

// phpKey is the top-level key of a variable name in PHP: a NUL ends it,
// " " and "." become "_", "a[b]" is the array a, and an unclosed "["
// becomes "_" with the rest's " ", "." and "[" too. An empty name is none.
func phpKey(name string) (string, bool) {
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '[' {
			if strings.Contains(name[i+1:], "]") {
				break
			}
			rest := strings.NewReplacer(" ", "_", ".", "_", "[", "_").Replace(name[i:])
			b.WriteString(rest)
			break
		}
		if c == ' ' || c == '.' {
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String(), b.Len() > 0
}

// oldPHPCookies is $_COOKIE before PHP 7.4.11, which URL-decoded names.
func oldPHPCookies(header string) map[string]string {
	var parts []string
	for part := range strings.SplitSeq(header, ";") {
		name, val, ok := strings.Cut(part, "=")
		name = testURLDecode(strings.TrimLeft(name, " \t"))
		if ok {
			name += "=" + val
		}
		parts = append(parts, name)
	}
	return phpCookies(strings.Join(parts, ";"))
}

// djangoCookies is Django's parse_cookie: parts split at ";", key and
// value stripped of Python's whitespace (the header decoded as Latin-1),
// the last cookie of a name kept.
func djangoCookies(header string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(header, ";") {
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			key, val = "", part
		}
		key = pyStrip(key)
		if key != "" || val != "" {
			out[key] = strings.TrimSpace(val)
		}
	}
	return out
}

// goFirst is the proxy's own reading: the first cookie of each name that
// Go's parser accepts.
func goFirst(header string) map[string]string {
	r := &http.Request{Header: http.Header{"Cookie": {header}}}
	out := map[string]string{}
	for _, c := range r.Cookies() {
		if _, dup := out[c.Name]; !dup {
			out[c.Name] = c.Value
		}
	}
	return out
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return strings.TrimSpace(v)
}

// testURLDecode is PHP's urldecode: "+" is a space, "%" and two hex
// digits that byte.
func testURLDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			c = ' '
		} else if c == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				c = byte(n)
				i += 2
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pyStrip is Python's str.strip of a Latin-1 string.
func pyStrip(s string) string {
	const ws = " \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0"
	for len(s) > 0 && strings.IndexByte(ws, s[0]) >= 0 {
		s = s[1:]
	}
	for len(s) > 0 && strings.IndexByte(ws, s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}
