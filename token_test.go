package logout

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeToken checks the cookie decoder against encoding/base64: it
// accepts exactly the canonical 43-character encodings of 32 bytes.
func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{"", "A", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
		"_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-A", "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/A", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var tok [tokenLen]byte
		ok := decodeToken(s, &tok)
		want, err := base64.RawURLEncoding.Strict().DecodeString(s)
		// Decode skips line breaks; no cookie value holds one.
		wantOK := err == nil && len(want) == tokenLen && !strings.ContainsAny(s, "\r\n")
		if ok != wantOK {
			t.Fatalf("decodeToken(%q) = %v, base64 says %v (%v)", s, ok, wantOK, err)
		}
		if ok && !bytes.Equal(tok[:], want) {
			t.Fatalf("decodeToken(%q) = %x, want %x", s, tok, want)
		}
	})
}

// FuzzCookieValue checks that the cookie scanner agrees with net/http on
// well-formed headers and never panics on any.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"logout_session=abc", "a=b; logout_session=xyz; c=d", "logout_session=\"q\"", ";;;", "logout_session", "=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		h := http.Header{"Cookie": {line}}
		got := cookieValue(h, "logout_session")
		r := &http.Request{Header: h}
		if c, err := r.Cookie("logout_session"); err == nil && c.Value != "" && got != c.Value {
			// net/http drops invalid pairs that we may keep; a value it
			// accepts must be the one we read.
			t.Fatalf("cookieValue(%q) = %q, net/http says %q", line, got, c.Value)
		}
	})
}

func TestDecodeTokenAllocs(t *testing.T) {
	v := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, tokenLen))
	h := http.Header{"Cookie": {"a=b; logout_session=" + v}}
	var tok [tokenLen]byte
	if n := testing.AllocsPerRun(100, func() { decodeToken(cookieValue(h, "logout_session"), &tok) }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

// TestPresentedAllocs: reading the cookie a request presents, on every
// request's path, allocates nothing, over TLS (the __Host- name) too,
// with a name too long for the compiler's stack buffer for a concatenation.
func TestPresentedAllocs(t *testing.T) {
	const name = "example_admin_console_session"
	v := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, tokenLen))
	c := newCredentials(Options{CookieName: name}).(cookieCredentials)
	for _, secure := range []bool{false, true} {
		r := &http.Request{Header: http.Header{"Cookie": {"a=b; " + SecureCookieName(name, secure) + "=" + v}}}
		if secure {
			r.TLS = new(tls.ConnectionState)
		}
		if got := c.presented(r); got != v {
			t.Fatalf("TLS %v: presented %q, want %q", secure, got, v)
		}
		if n := testing.AllocsPerRun(100, func() { c.presented(r) }); n != 0 {
			t.Fatalf("TLS %v: %v allocations, want 0", secure, n)
		}
	}
}

// TestSumID: a session ID is the hex SHA-256 of its secret, as
// hex.EncodeToString writes it.
func TestSumID(t *testing.T) {
	for _, secret := range []string{"", "a", strings.Repeat("\xff\x00\x7f", 40)} {
		sum := sha256.Sum256([]byte(secret))
		if got, want := hashID([]byte(secret)), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("hashID(%q) = %s, want %s", secret, got, want)
		}
	}
}
