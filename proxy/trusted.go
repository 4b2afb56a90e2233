package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// TrustedPrefixes returns the reverse proxies ps as the proxy and the
// admin pages compare client addresses with them: each copied and masked,
// and an IPv4-mapped prefix (::ffff:10.0.0.1) as the IPv4 one, since
// client addresses are compared unmapped. It is the one home of that
// rule, so that the admin pages and the proxy in one process trust the
// same clients. An invalid prefix is an error naming its place.
func TrustedPrefixes(ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("trusted proxy %d: invalid prefix %q", i+1, p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out[i] = p.Masked()
	}
	return out, nil
}

// clientAddrHeaders are the headers other than X-Forwarded-For and
// Forwarded by which proxies and CDNs tell a client's address: from a
// client that is no trusted proxy they are a lie, and are not forwarded.
var clientAddrHeaders = []string{"X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip",
	"X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Forwarded-For", "Client-Ip", "X-Forwarded"}

// trusted reports whether r comes from one of Options.TrustedProxies.
func (p *Proxy) trusted(r *http.Request) bool {
	if len(p.opts.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pre := range p.opts.TrustedProxies {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientOrigin is the origin the browser sees: scheme and host, taken
// from X-Forwarded-Proto and -Host only from a trusted proxy.
func (p *Proxy) clientOrigin(r *http.Request, trusted bool) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if trusted {
		if v := r.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			scheme = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" && !strings.ContainsAny(v, "/ ,") {
			host = v
		}
	}
	return scheme + "://" + host
}

func originOf(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }
