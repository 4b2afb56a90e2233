package backend

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string // X-Forwarded-For lines
		fwd     []string // Forwarded lines
		want    string
	}{
		{"no proxy", proxy, "192.0.2.1:1234", nil, nil, "192.0.2.1"},
		{"IPv6 peer", proxy, "[2001:db8::1]:1234", nil, nil, "2001:db8::1"},
		{"IPv4-mapped peer", proxy, "[::ffff:192.0.2.1]:1234", nil, nil, "192.0.2.1"},
		{"zone dropped", proxy, "[fe80::1%eth0]:1234", nil, nil, "fe80::1"},
		{"unix socket", proxy, "@", []string{"192.0.2.9"}, nil, "invalid IP"},
		{"untrusted peer's X-Forwarded-For ignored", proxy, "192.0.2.1:1234", []string{"198.51.100.7"}, nil, "192.0.2.1"},
		{"untrusted peer's Forwarded ignored", proxy, "192.0.2.1:1234", nil, []string{"for=198.51.100.7"}, "192.0.2.1"},
		{"no trusted proxies", nil, "10.0.0.1:1234", []string{"198.51.100.7"}, nil, "10.0.0.1"},
		{"trusted peer's X-Forwarded-For used", proxy, "10.0.0.1:1234", []string{"198.51.100.7"}, nil, "198.51.100.7"},
		{"trusted peer without headers", proxy, "10.0.0.1:1234", nil, nil, "10.0.0.1"},
		{"spoofed left-most entries ignored", proxy, "10.0.0.1:1234", []string{"203.0.113.66, 198.51.100.7"}, nil, "198.51.100.7"},
		{"trusted hops skipped", proxy, "10.0.0.1:1234", []string{"203.0.113.66, 198.51.100.7, 10.1.1.1,10.2.2.2"}, nil, "198.51.100.7"},
		{"lines walked from the last", proxy, "10.0.0.1:1234", []string{"203.0.113.66", "198.51.100.7, 10.1.1.1"}, nil, "198.51.100.7"},
		{"every entry trusted", proxy, "10.0.0.1:1234", []string{"10.9.9.9, 10.1.1.1"}, nil, "10.9.9.9"},
		{"entry with a port", proxy, "10.0.0.1:1234", []string{"198.51.100.7:5555"}, nil, "198.51.100.7"},
		{"IPv6 entry", proxy, "10.0.0.1:1234", []string{"2001:db8::7"}, nil, "2001:db8::7"},
		{"bracketed IPv6 entry", proxy, "10.0.0.1:1234", []string{"[2001:db8::7]"}, nil, "2001:db8::7"},
		{"IPv6 proxy", proxy, "[2001:db8:ffff::1]:443", []string{"198.51.100.7"}, nil, "198.51.100.7"},
		{"malformed entry", proxy, "10.0.0.1:1234", []string{"unknown"}, nil, "10.0.0.1"},
		{"empty entry", proxy, "10.0.0.1:1234", []string{"198.51.100.7, "}, nil, "10.0.0.1"},
		{"malformed entry left of the client", proxy, "10.0.0.1:1234", []string{"garbage, 198.51.100.7"}, nil, "198.51.100.7"},
		{"malformed entry right of the client", proxy, "10.0.0.1:1234", []string{"198.51.100.7, garbage"}, nil, "10.0.0.1"},
		{"Forwarded", proxy, "10.0.0.1:1234", nil, []string{"for=198.51.100.7;proto=https;by=10.0.0.1"}, "198.51.100.7"},
		{"Forwarded quoted IPv6 with port", proxy, "10.0.0.1:1234", nil, []string{`for="[2001:db8::7]:4711"`}, "2001:db8::7"},
		{"Forwarded case and spaces", proxy, "10.0.0.1:1234", nil, []string{`proto=http;For="198.51.100.9" , FOR=198.51.100.7`}, "198.51.100.7"},
		{"Forwarded spoofed left-most", proxy, "10.0.0.1:1234", nil, []string{"for=203.0.113.66", "for=198.51.100.7, for=10.3.3.3"}, "198.51.100.7"},
		{"Forwarded escaped quote", proxy, "10.0.0.1:1234", nil, []string{`for="198.51.100.7";x="a\"b,c"`}, "198.51.100.7"},
		{"Forwarded obfuscated node", proxy, "10.0.0.1:1234", nil, []string{"for=_hidden"}, "10.0.0.1"},
		{"Forwarded without for", proxy, "10.0.0.1:1234", nil, []string{"proto=https"}, "10.0.0.1"},
		{"Forwarded with two for", proxy, "10.0.0.1:1234", nil, []string{"for=198.51.100.7;for=198.51.100.8"}, "10.0.0.1"},
		{"Forwarded unterminated quote", proxy, "10.0.0.1:1234", nil, []string{`for="198.51.100.7`}, "10.0.0.1"},
		{"Forwarded junk", proxy, "10.0.0.1:1234", nil, []string{"for=198.51.100.7 junk"}, "10.0.0.1"},
		{"both headers agree", proxy, "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"for=198.51.100.7"}, "198.51.100.7"},
		{"both headers disagree", proxy, "10.0.0.1:1234", []string{"198.51.100.7"}, []string{"for=203.0.113.66"}, "10.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.fwd {
				r.Header.Add("Forwarded", v)
			}
			if got := clientAddr(r, tt.trusted).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAddrKey(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"", "unknown"},
	} {
		var a netip.Addr
		if tt.addr != "" {
			a = netip.MustParseAddr(tt.addr)
		}
		if got := addrKey(a); got != tt.want {
			t.Errorf("addrKey(%q): got %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// FuzzClientAddr feeds clientAddr arbitrary headers from a trusted
// proxy. It must not panic, must return a valid, normalised address, and
// when it names a client, whatever the client itself wrote to the left of
// the proxies' entries (spoof) must not change it.
func FuzzClientAddr(f *testing.F) {
	for _, s := range [][3]string{
		{"198.51.100.7", "", "203.0.113.66"},
		{"203.0.113.66, 198.51.100.7, 10.1.1.1", "", ""},
		{"[2001:db8::7]:80", "", "unknown"},
		{"unknown", "", "1.2.3.4"},
		{"", "for=198.51.100.7;proto=https", `for="`},
		{"", `for="[2001:db8::7]:4711", for=10.0.0.2`, "for=203.0.113.66"},
		{"", `for="a\"b";by=x`, ""},
		{"198.51.100.7", "for=198.51.100.7", "for=1.1.1.1, 2.2.2.2"},
		{"1.2.3.4", `for="`, ","},
		{"::ffff:198.51.100.7, fe80::1%eth0", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	addr := func(xff, fwd []string) netip.Addr {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:1234"
		r.Header["X-Forwarded-For"] = xff
		r.Header["Forwarded"] = fwd
		return clientAddr(r, proxy)
	}
	f.Fuzz(func(t *testing.T, xff, fwd, spoof string) {
		var xffs, fwds, xffs2, fwds2 []string
		if xff != "" {
			xffs, xffs2 = []string{xff}, []string{spoof + "," + xff}
		}
		if fwd != "" {
			fwds, fwds2 = []string{fwd}, []string{spoof, fwd}
		}
		got := addr(xffs, fwds)
		switch {
		case !got.IsValid():
			t.Fatalf("X-Forwarded-For %q, Forwarded %q: no address", xff, fwd)
		case got.Zone() != "" || got.Is4In6():
			t.Fatalf("X-Forwarded-For %q, Forwarded %q: got %s, not normalised", xff, fwd, got)
		case got == peer || inPrefixes(got, proxy):
			return // fell back, or every entry was trusted
		}
		if again := addr(xffs2, fwds2); again != got {
			t.Fatalf("X-Forwarded-For %q, Forwarded %q: got %s; with %q written left of them by the client: %s", xff, fwd, got, spoof, again)
		}
	})
}
