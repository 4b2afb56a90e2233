package backend

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"

	"github.com/gologout/logout/proxy"
)

// An AddressMode is how much of the client's address a new session keeps
// ([logout.Session.Address]), to show on the sessions pages.
type AddressMode string

// The address modes of [Config.SessionAddress] and the commands'
// --session-address.
const (
	// AddressFull keeps the whole address: 192.0.2.17, 2001:db8:1:2::17.
	AddressFull AddressMode = "full"
	// AddressTruncated keeps the network only, an IPv4 address's /24 and
	// an IPv6 address's /48: 192.0.2.0, 2001:db8:1::. Enough to tell the
	// office from home, not to name one household. The default.
	AddressTruncated AddressMode = "truncated"
	// AddressNone keeps no address; the pages show none.
	AddressNone AddressMode = "none"
)

// ParseAddressMode reads "full", "truncated" or "none"; "" is the
// default, AddressTruncated.
func ParseAddressMode(s string) (AddressMode, error) {
	switch m := AddressMode(s); m {
	case "":
		return AddressTruncated, nil
	case AddressFull, AddressTruncated, AddressNone:
		return m, nil
	}
	return "", fmt.Errorf("session address %q: want full, truncated or none", s)
}

// keepAddress returns a as a session keeps it under mode: whole, its
// network (IPv4 /24, IPv6 /48) or "". The zero Addr (a client on a Unix
// socket) is "". An IPv4-mapped address is kept as IPv4.
func keepAddress(a netip.Addr, mode AddressMode) string {
	if !a.IsValid() || mode == AddressNone {
		return ""
	}
	a = a.Unmap().WithZone("")
	if mode == AddressFull {
		return a.String()
	}
	bits := 24
	if a.Is6() {
		bits = 48
	}
	return netip.PrefixFrom(a, bits).Masked().Addr().String()
}

// SessionAddr returns the [logout.Options.ClientAddr] of the admin pages:
// the client's address by the rule of sign-in throttling (X-Forwarded-For
// and Forwarded are read only from the trusted proxies, see
// [Config.TrustedProxies]), kept as mode says. logout-proxy gives it to
// the panel's Manager too, so that both keep addresses alike.
func SessionAddr(trusted []netip.Prefix, mode AddressMode) (func(*http.Request) string, error) {
	mode, err := ParseAddressMode(string(mode))
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	if mode == AddressNone {
		return func(*http.Request) string { return "" }, nil
	}
	// As New compares addresses, and as logout-proxy does.
	if trusted, err = proxy.TrustedPrefixes(trusted); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	return func(r *http.Request) string { return keepAddress(clientAddr(r, trusted), mode) }, nil
}

// filterAddress reads an address typed in the sessions page's filter as
// sessions keep it under mode, so that 192.0.2.77 finds the sessions of
// 192.0.2.0 when addresses are truncated. It reports false for anything
// that is not an IP address.
func filterAddress(typed string, mode AddressMode) (string, bool) {
	a := parseNode(strings.TrimSpace(typed))
	if !a.IsValid() {
		return "", false
	}
	return keepAddress(a, mode), true
}

// A browserInfo is a session's browser and system, as the sessions pages name
// them, read from its User-Agent: empty fields where it tells nothing.
type browserInfo struct {
	Browser string // name and major version: "Firefox 128"
	OS      string // "Windows", "macOS", "iOS"
	Kind    string // "desktop", "mobile", "tablet" or ""
}

// uaParser is the User-Agent parser, built at its first use.
var uaParser = sync.OnceValue(useragent.NewParser)

// parseBrowser reads a User-Agent header with go-useragent's parser.
func parseBrowser(ua string) browserInfo {
	if strings.TrimSpace(ua) == "" {
		return browserInfo{}
	}
	p := uaParser().Parse(ua)
	var d browserInfo
	if b := p.Browser(); b != "" {
		d.Browser = string(b)
		if v := p.BrowserVersionMajor(); v != "" {
			d.Browser += " " + v
		}
	}
	switch o := p.OS(); o {
	case agents.OSMacOS:
		d.OS = "macOS"
	default:
		d.OS = string(o)
	}
	switch p.Device() {
	case agents.DeviceDesktop:
		d.Kind = "desktop"
	case agents.DeviceMobile:
		d.Kind = "mobile"
	case agents.DeviceTablet:
		d.Kind = "tablet"
	}
	return d
}
