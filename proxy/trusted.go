package proxy

import (
	"fmt"
	"net/netip"
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
