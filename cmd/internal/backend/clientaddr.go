package backend

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientAddr returns the address of the client that sent r, for sign-in
// throttling; the zero Addr when r.RemoteAddr is not an IP address (a Unix
// socket).
//
// A request from an address outside trusted is the client's own: its
// X-Forwarded-For and Forwarded headers are ignored, as anyone can send
// them. A request from a trusted proxy names the client in those headers:
// each is walked from the right (the entries the trusted proxies
// appended), skipping trusted addresses, to the first address that is not
// trusted; the entries further left came from the client and may be
// forged. It fails closed to the connection's address when the entry it
// reaches is malformed or names no address ("unknown", an obfuscated
// node), and when both headers are present and disagree (one proxy keeps
// one of them, and the client may have sent the other). When every entry
// is trusted, the left-most is the client.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseNode(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	xff, xffOK := walkHeader(r.Header.Values("X-Forwarded-For"), splitXFF, trusted)
	fwd, fwdOK := walkHeader(r.Header.Values("Forwarded"), splitForwarded, trusted)
	switch {
	case !xffOK || !fwdOK:
		return peer
	case xff.IsValid() && fwd.IsValid() && xff != fwd:
		return peer
	case xff.IsValid():
		return xff
	case fwd.IsValid():
		return fwd
	}
	return peer
}

// walkHeader walks the header's lines from the last to the first, and
// each line's entries from the right, to the first address not in
// trusted. It returns the zero Addr and true when there are no lines, and
// false when it reaches a malformed line or entry.
func walkHeader(lines []string, split func(string) ([]string, bool), trusted []netip.Prefix) (netip.Addr, bool) {
	var client netip.Addr
	for _, line := range slices.Backward(lines) {
		nodes, ok := split(line)
		if !ok {
			return netip.Addr{}, false
		}
		for _, n := range slices.Backward(nodes) {
			client = parseNode(n)
			if !client.IsValid() {
				return netip.Addr{}, false
			}
			if !inPrefixes(client, trusted) {
				return client, true
			}
		}
	}
	return client, true
}

// splitXFF splits an X-Forwarded-For line into its addresses.
func splitXFF(line string) ([]string, bool) {
	nodes := strings.Split(line, ",")
	for i, n := range nodes {
		nodes[i] = strings.TrimSpace(n)
	}
	return nodes, true
}

// splitForwarded returns the "for" node of each element of a Forwarded
// line (RFC 7239): elements are separated by commas, their name=value
// pairs by semicolons, and a value is a token or a quoted string. It
// reports false when the line does not parse, or an element has no "for"
// or two: the proxy that wrote it did not say whom it forwarded for.
func splitForwarded(line string) ([]string, bool) {
	var nodes []string
	s := line
	for {
		node, seen := "", false
		for {
			s = strings.TrimLeft(s, " \t")
			name := s[:len(s)-len(strings.TrimLeftFunc(s, isTokenChar))]
			if name == "" || len(s) == len(name) || s[len(name)] != '=' {
				return nil, false
			}
			val, rest, ok := forwardedValue(s[len(name)+1:])
			if !ok {
				return nil, false
			}
			if strings.EqualFold(name, "for") {
				if seen {
					return nil, false
				}
				node, seen = val, true
			}
			s = strings.TrimLeft(rest, " \t")
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return nil, false
			}
			s = s[1:]
		}
		if !seen {
			return nil, false
		}
		nodes = append(nodes, node)
		if s == "" {
			return nodes, true
		}
		s = s[1:]
	}
}

// forwardedValue reads a Forwarded value, a quoted string or a token, at
// the start of s, and returns it and the rest of s. Tokens may hold ':',
// '[' and ']', which RFC 7239 wants quoted, as proxies write them so.
func forwardedValue(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ";, \t\"")
		if end < 0 {
			end = len(s)
		}
		return s[:end], s[end:], end > 0
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c rune) bool {
	return c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.ContainsRune("!#$%&'*+-.^_`|~", c))
}

// parseNode parses an address as X-Forwarded-For, Forwarded and
// RemoteAddr write it: "192.0.2.1", "192.0.2.1:8080", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:8080". IPv4-mapped IPv6 addresses
// become IPv4, and zones are dropped. It returns the zero Addr for
// anything else.
func parseNode(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(s); err2 == nil {
			a, err = ap.Addr(), nil
		} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrKey returns the throttle's key for a client address: an IPv4
// address as it is, an IPv6 address by its /64 network, which one client
// commonly holds whole; "unknown" for the zero Addr.
func addrKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}
