package serve_test

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gologout/logout/cmd/internal/serve"
)

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", nil, ""},
		{"address and networks", "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,", []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}, ""},
		{"not an address", "proxy.example", nil, "want an IP address"},
		{"host bits", "10.0.0.1/8", nil, "did you mean 10.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serve.ParsePrefixes(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			var want []netip.Prefix
			for _, s := range tt.want {
				want = append(want, netip.MustParsePrefix(s))
			}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("got %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", false, "http://localhost:8080"},
		{"[::]:8443", true, "https://localhost:8443"},
		{"[::1]:8080", false, "http://[::1]:8080"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := serve.BaseURL(addr, tt.tls); got != tt.want {
			t.Errorf("BaseURL(%s, %v) = %q, want %q", tt.addr, tt.tls, got, tt.want)
		}
	}
}
