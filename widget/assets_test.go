package widget

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// sizeBudget is the most the JavaScript and the CSS may weigh together,
// each gzipped as a server would send it. It was 4 KiB; it is 6 KiB since
// the widget locks the page in place and signs in again there (the lock
// and its restore, the sign-in form, the retry of refused requests), holds
// one push stream per browser and previews a timeout: about 2.2 KiB more
// that a page cannot do without, in readable code with its comments. It
// is 8 KiB since the widget keeps itself across panels that swap their
// body and locks in place behind logout-proxy.
const sizeBudget = 8 << 10

func TestSizeBudget(t *testing.T) {
	total := 0
	for _, name := range []string{"assets/logout.js", "assets/logout.css"} {
		data, err := static.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes, %d gzipped", name, len(data), b.Len())
		total += b.Len()
	}
	t.Logf("total gzipped: %d of %d bytes", total, sizeBudget)
	if total > sizeBudget {
		t.Errorf("gzipped JS and CSS: got %d bytes, want at most %d", total, sizeBudget)
	}
}

// TestServedEqualsEmbedded fetches the URLs that Script renders from
// Handler and compares the bodies with the embedded files.
func TestServedEqualsEmbedded(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/assets/logout", Handler()))
	defer srv.Close()
	tags := string(Config{AssetsPrefix: "/assets/logout/"}.Script())
	for _, tc := range []struct{ file, attr, ctype string }{
		{"assets/logout.js", "src", "text/javascript; charset=utf-8"},
		{"assets/logout.css", "href", "text/css; charset=utf-8"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := regexp.MustCompile(tc.attr + `="(/assets/logout/logout-[0-9a-f]{8}\.(?:js|css))"`).FindStringSubmatch(tags)
			if m == nil {
				t.Fatalf("no %s URL in %s", tc.attr, tags)
			}
			res, err := http.Get(srv.URL + m[1])
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			want, err := static.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("GET %s: got %d with %d bytes, want 200 with the %d embedded bytes", m[1], res.StatusCode, len(got), len(want))
			}
			if ct := res.Header.Get("Content-Type"); ct != tc.ctype {
				t.Errorf("Content-Type: got %q, want %q", ct, tc.ctype)
			}
		})
	}
}
