package backend_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestFavicon: every page links the favicon, and /favicon.ico, which
// browsers ask for anyway, answers with it rather than a 404.
func TestFavicon(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	for _, path := range []string{"/", "/backend/auth/signin"} {
		r := c.get(path)
		if !strings.Contains(r.body, `<link rel="icon" href="/assets/app/favicon.svg?v=`) {
			t.Errorf("%s links no favicon", path)
		}
	}
	r := c.get("/favicon.ico")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.HasPrefix(r.body, "<svg") {
		t.Errorf("/favicon.ico: Content-Type %q, body %.20q", ct, r.body)
	}
}
