package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func injectAll(t testing.TB, doc string, chunk int) string {
	src := io.NopCloser(strings.NewReader(doc))
	var r io.Reader = newInjector(src, []byte("[X]"), make([]byte, chunk), nil)
	b, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInjector(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"after body", `<html><head></head><body class="a">hi</body>`, `<html><head></head><body class="a">[X]hi</body>`},
		{"upper case", `<HTML><BODY>hi`, `<HTML><BODY>[X]hi`},
		{"body in comment", `<!-- <body> --><body>x`, `<!-- <body> --><body>[X]x`},
		{"body in script", `<script>var s="<body>";</script><body>x`, `<script>var s="<body>";</script><body>[X]x`},
		{"body in title", `<title><body></title><body>x`, `<title><body></title><body>[X]x`},
		{"quoted >", `<body data-x="a>b">x`, `<body data-x="a>b">[X]x`},
		{"single quoted", `<body data-x='<body>'>x`, `<body data-x='<body>'>[X]x`},
		{"bodyx is not body", `<bodyx><body>x`, `<bodyx><body>[X]x`},
		{"no body: at the end", `<html><p>hi`, `<html><p>hi[X]`},
		{"not html: untouched", `just text`, `just text`},
		{"empty", ``, ``},
		{"only first body", `<body><body>`, `<body>[X]<body>`},
		{"doctype", `<!DOCTYPE html><body>`, `<!DOCTYPE html><body>[X]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 4096} {
				if got := injectAll(t, tt.in, chunk); got != tt.want {
					t.Fatalf("chunk %d: got %q, want %q", chunk, got, tt.want)
				}
			}
		})
	}
}

// TestInjectorMemory: a page far larger than the buffer streams through
// with the buffer's memory only.
func TestInjectorMemory(t *testing.T) {
	big := strings.Repeat("<p>filler</p>", 1<<20/13)
	allocs := func(n int) float64 {
		doc := "<html><body>" + strings.Repeat(big, n)
		buf := make([]byte, chunkSize)
		return testing.AllocsPerRun(3, func() {
			j := newInjector(io.NopCloser(strings.NewReader(doc)), []byte("[X]"), buf, nil)
			io.CopyBuffer(io.Discard, struct{ io.Reader }{j}, make([]byte, chunkSize))
		})
	}
	if a1, a8 := allocs(1), allocs(8); a8 > a1+2 {
		t.Fatalf("allocations grow with the page: %v for 1 MiB, %v for 8 MiB", a1, a8)
	}
}

func FuzzInjector(f *testing.F) {
	for _, s := range []string{`<body>`, `<!-- <body> --><BODY a='>'>`, `<script></script><body>`, `<textarea></TEXTAREA ><body>`, `x`, `<`} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, doc string, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1 + (chunk&0xff+0x100)%64
		}
		out := injectAll(t, doc, chunk)
		// The output is the input with the snippet inserted at most once.
		i := strings.Index(out, "[X]")
		if i < 0 {
			if out != doc {
				t.Fatalf("changed without inserting: %q -> %q", doc, out)
			}
			return
		}
		if out[:i]+out[i+3:] != doc {
			t.Fatalf("not an insertion: %q -> %q", doc, out)
		}
		if got := injectAll(t, doc, 1<<16); got != out {
			t.Fatalf("chunk size changes the result: %q vs %q", out, got)
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"sessionid", "wordpress_logged_in_*", "*", "a*b", "", "a b"} {
		f.Add(s, "wordpress_logged_in_abc")
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		p, err := ParsePattern(pat)
		if err != nil {
			if p.Match(name) {
				t.Fatal("a refused pattern matches")
			}
			return
		}
		q, err := ParsePattern(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip: %q -> %q, %v", pat, p.String(), err)
		}
		if p.Match(name) && !strings.HasPrefix(name, strings.TrimSuffix(pat, "*")) {
			t.Fatalf("%q matches %q", pat, name)
		}
	})
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(`{"name":"x","prefix":"/admin","sign_in_path":"/admin/login/","session_cookies":["sessionid"]}`))
	f.Add([]byte(`{"name":"x","prefix":"/","sign_in_path":"//evil","session_cookies":["*"],"sign_out":{"method":"PUT"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseProfile accepted an invalid profile: %v", err)
		}
		if _, err := New(nil, Options{Upstream: mustURL("http://127.0.0.1:1"), Profile: p}); err != nil && !strings.Contains(err.Error(), "logout:") {
			t.Fatalf("New refused a valid profile: %v", err)
		}
	})
}

func FuzzCSP(f *testing.F) {
	for _, s := range []string{"script-src 'self'", "default-src 'none'", "script-src 'nonce-abc' 'strict-dynamic'", "", ";;,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, csp string) {
		nonce, ok := cspAllows([]string{csp})
		if !ok && nonce != "" {
			t.Fatal("a nonce without permission")
		}
		if bytes.ContainsAny([]byte(nonce), "'") {
			t.Fatalf("nonce %q holds a quote", nonce)
		}
	})
}
