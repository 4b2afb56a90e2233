package backend

import (
	"net/netip"
	"testing"
	"time"
)

func TestKeepAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		mode AddressMode
		want string
	}{
		{"192.0.2.17", AddressFull, "192.0.2.17"},
		{"192.0.2.17", AddressTruncated, "192.0.2.0"},
		{"192.0.2.17", AddressNone, ""},
		{"192.0.2.255", AddressTruncated, "192.0.2.0"},
		{"::ffff:192.0.2.17", AddressFull, "192.0.2.17"},
		{"::ffff:192.0.2.17", AddressTruncated, "192.0.2.0"},
		{"2001:db8:1:2:3:4:5:6", AddressFull, "2001:db8:1:2:3:4:5:6"},
		{"2001:db8:1:2:3:4:5:6", AddressTruncated, "2001:db8:1::"},
		{"2001:db8:1:ffff::1", AddressTruncated, "2001:db8:1::"},
		{"2001:db8:1:2:3:4:5:6", AddressNone, ""},
		{"fe80::1%eth0", AddressFull, "fe80::1"},
		{"fe80::1%eth0", AddressTruncated, "fe80::"},
		{"::1", AddressTruncated, "::"},
		{"127.0.0.1", AddressTruncated, "127.0.0.0"},
		{"", AddressFull, ""},
		{"", AddressTruncated, ""},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := keepAddress(a, tc.mode); got != tc.want {
			t.Errorf("keepAddress(%q, %s) = %q, want %q", tc.addr, tc.mode, got, tc.want)
		}
	}
}

func TestParseBrowser(t *testing.T) {
	start := time.Now()
	for _, tc := range []struct {
		ua   string
		want browserInfo
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", browserInfo{"Firefox 128", "Windows", "desktop"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", browserInfo{"Safari 17", "iOS", "mobile"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", browserInfo{"Chrome 126", "macOS", "desktop"}},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", browserInfo{"Safari 17", "iOS", "tablet"}},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", browserInfo{"Chrome 126", "Android", "mobile"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", browserInfo{"Edge 126", "Windows", "desktop"}},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", browserInfo{"Firefox 128", "Linux", "desktop"}},
		{"curl/8.5.0", browserInfo{}},
		{"", browserInfo{}},
		{"   ", browserInfo{}},
	} {
		if got := parseBrowser(tc.ua); got != tc.want {
			t.Errorf("parseBrowser(%q) = %+v, want %+v", tc.ua, got, tc.want)
		}
	}
	t.Logf("parsed in %v, the parser built at the first", time.Since(start))
}

func TestFilterAddress(t *testing.T) {
	for _, tc := range []struct {
		typed string
		mode  AddressMode
		want  string
		ok    bool
	}{
		{"192.0.2.77", AddressTruncated, "192.0.2.0", true},
		{" 192.0.2.77 ", AddressFull, "192.0.2.77", true},
		{"[2001:db8:1:2::1]", AddressTruncated, "2001:db8:1::", true},
		{"192.0.2.77:443", AddressFull, "192.0.2.77", true},
		{"example.com", AddressTruncated, "", false},
		{"192.0.2", AddressTruncated, "", false},
		{"", AddressFull, "", false},
	} {
		got, ok := filterAddress(tc.typed, tc.mode)
		if got != tc.want || ok != tc.ok {
			t.Errorf("filterAddress(%q, %s) = %q, %v; want %q, %v", tc.typed, tc.mode, got, ok, tc.want, tc.ok)
		}
	}
	for _, s := range []string{"", "full", "truncated", "none"} {
		if _, err := ParseAddressMode(s); err != nil {
			t.Errorf("ParseAddressMode(%q): %v", s, err)
		}
	}
	if m, _ := ParseAddressMode(""); m != AddressTruncated {
		t.Errorf(`ParseAddressMode(""): got %q, want truncated`, m)
	}
	if _, err := ParseAddressMode("Full"); err == nil {
		t.Error(`ParseAddressMode("Full"): no error`)
	}
}
