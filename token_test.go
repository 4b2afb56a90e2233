package logout

import (
	"bytes"
	"crypto/sha256"
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
