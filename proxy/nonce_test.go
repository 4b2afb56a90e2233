package proxy

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestNonceReader(t *testing.T) {
	re, err := compileNonce(WordPress().SignOut.NoncePattern)
	if err != nil {
		t.Fatal(err)
	}
	link := `<a href="/wp-login.php?action=logout&amp;_wpnonce=abcdef1234">Log Out</a>`
	tests := []struct {
		name string
		page string
		want string
	}{
		{"link", "<body>" + link, "abcdef1234"},
		{"raw &", "<body>wp-login.php?action=logout&_wpnonce=0a1b2c3d4e", "0a1b2c3d4e"},
		{"&#038;", "<body>wp-login.php?action=logout&#038;_wpnonce=0a1b2c3d4e", "0a1b2c3d4e"},
		{"far down", "<body>" + strings.Repeat("x", 100<<10) + link, "abcdef1234"},
		{"first of two", "<body>" + link + strings.Replace(link, "abcdef1234", "ffffffffff", 1), "abcdef1234"},
		{"none", "<body>wp-login.php?action=logout", ""},
		{"not hex", "<body>wp-login.php?action=logout&_wpnonce=zzzzzzzzzz", ""},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			for _, buf := range []int{7, 600, 32 << 10} {
				t.Run(tt.name+"/"+rd.name+"/"+strconv.Itoa(buf), func(t *testing.T) {
					var got []string
					nr := &nonceReader{src: io.NopCloser(rd.wrap(strings.NewReader(tt.page))), re: re,
						found: func(n string) { got = append(got, n) }}
					var out bytes.Buffer
					if _, err := io.CopyBuffer(struct{ io.Writer }{&out}, struct{ io.Reader }{nr}, make([]byte, buf)); err != nil {
						t.Fatal(err)
					}
					if out.String() != tt.page {
						t.Fatal("the page was changed")
					}
					want := []string{tt.want}
					if tt.want == "" {
						want = nil
					}
					if strings.Join(got, ",") != strings.Join(want, ",") {
						t.Fatalf("got %q, want %q", got, want)
					}
				})
			}
		}
	}
}

func TestNonceCache(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("latest wins, taken once", func(t *testing.T) {
		c := newNonceCache()
		c.put("s1", "old", t0)
		c.put("s1", "new", t0.Add(time.Minute))
		if n, ok := c.take("s1", t0.Add(time.Hour)); !ok || n != "new" {
			t.Fatalf("got %q, %v; want new, true", n, ok)
		}
		if _, ok := c.take("s1", t0.Add(time.Hour)); ok {
			t.Fatal("taken twice")
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := newNonceCache()
		c.put("s1", "n", t0)
		if _, ok := c.take("s1", t0.Add(nonceLife)); ok {
			t.Fatal("a nonce older than nonceLife was returned")
		}
		c.put("s2", "n", t0)
		c.put("s3", "n", t0.Add(nonceLife)) // drops s2 on the way
		if got := c.len(); got != 1 {
			t.Fatalf("got %d entries, want 1", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newNonceCache()
		for i := range maxNonces + 10 {
			c.put(strconv.Itoa(i), "n", t0.Add(time.Duration(i)*time.Millisecond))
		}
		if got := c.len(); got != maxNonces {
			t.Fatalf("got %d entries, want %d", got, maxNonces)
		}
		if _, ok := c.take("0", t0.Add(time.Minute)); ok {
			t.Fatal("the oldest nonce was kept beyond the bound")
		}
		if _, ok := c.take(strconv.Itoa(maxNonces+9), t0.Add(time.Minute)); !ok {
			t.Fatal("the latest nonce was dropped")
		}
	})
}

func TestNonceProfile(t *testing.T) {
	base := func(so *SignOut) Profile {
		p := Django()
		p.SignOut = so
		return p
	}
	tests := []struct {
		name string
		so   *SignOut
		want string // in the error; "" for valid
	}{
		{"wordpress", WordPress().SignOut, ""},
		{"nonce in a POST path", &SignOut{Method: "POST", Path: "/out/{nonce}", NoncePattern: `n=(\w+)`}, ""},
		{"no group", &SignOut{Method: "GET", Path: "/out?n={nonce}", NoncePattern: `n=\w+`}, "no group"},
		{"bad regexp", &SignOut{Method: "GET", Path: "/out?n={nonce}", NoncePattern: `n=(\w+`}, "nonce_pattern"},
		{"slot without pattern", &SignOut{Method: "GET", Path: "/out?n={nonce}"}, "nonce_pattern is empty"},
		{"pattern without slot", &SignOut{Method: "GET", Path: "/out", NoncePattern: `n=(\w+)`}, "where the nonce goes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := base(tt.so).Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
