package backend_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
)

// setCookieRecorder records the name of every cookie the server sets.
type setCookieRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	names map[string]bool
}

func (s *setCookieRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err == nil {
		s.mu.Lock()
		for _, c := range resp.Cookies() {
			s.names[c.Name] = true
		}
		s.mu.Unlock()
	}
	return resp, err
}

// TestCookieNames: App.CookieNames names every cookie the admin pages
// set, over TLS and without, so that logout-proxy, which strips those
// names from what it forwards to the panel, follows a renamed or added
// cookie.
func TestCookieNames(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "tls"}[tls], func(t *testing.T) {
			e := startWith(t, tls, nil)
			c := e.client()
			rec := &setCookieRecorder{base: e.srv.Client().Transport, names: map[string]bool{}}
			c.http.Transport = rec
			c.mustSignIn("admin", adminPassword)
			c.get("/backend")
			names := e.app.CookieNames()
			if len(rec.names) < 3 {
				t.Fatalf("cookies set: got %v, want the session's, the sign-in form's and the device's", rec.names)
			}
			for n := range rec.names {
				if !slices.Contains(names, n) {
					t.Errorf("the admin pages set cookie %q, which CookieNames %v does not name", n, names)
				}
			}
		})
	}
}
