package backend_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignInScript runs the sign-in contract of the widget's lock in
// place: the form's token and the answers as JSON, from the same checks
// as the HTML form.
func TestSignInScript(t *testing.T) {
	e := start(t, "", nil)
	c := e.client()
	c.header.Set("Accept", "application/json")
	read := func(r response) map[string]any {
		t.Helper()
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s: Content-Type %q, want JSON\n%s", r.Request.URL.Path, ct, r.body)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return v
	}
	page := c.get("/backend/auth/signin")
	wantStatus(t, page, http.StatusOK)
	tok, _ := read(page)["csrf_token"].(string)
	if tok == "" {
		t.Fatalf("token: got %s", page.body)
	}
	form := func(token, password string) url.Values {
		return url.Values{"csrf_token": {token}, "username": {"admin"}, "password": {password}}
	}

	for _, tt := range []struct {
		name    string
		form    url.Values
		advance time.Duration
		code    int
		error   string
		retry   float64
	}{
		{"wrong token", form("x", adminPassword), 0, http.StatusForbidden, "The sign-in form has expired. Please try again.", 0},
		{"wrong password 1", form(tok, "wrong"), 0, http.StatusUnauthorized, "Wrong user name or password.", 0},
		{"wrong password 2", form(tok, "wrong"), 0, http.StatusUnauthorized, "Wrong user name or password.", 0},
		{"wrong password 3", form(tok, "wrong"), 0, http.StatusUnauthorized, "Wrong user name or password.", 0},
		{"wrong password 4", form(tok, "wrong"), 0, http.StatusUnauthorized, "Wrong user name or password.", 0},
		{"wrong password 5", form(tok, "wrong"), 0, http.StatusUnauthorized, "Wrong user name or password.", 0},
		{"throttled", form(tok, adminPassword), 0, http.StatusTooManyRequests, "Too many failed attempts. Please wait a moment and try again.", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			r := c.post("/backend/auth/signin", tt.form)
			v := read(r)
			if r.StatusCode != tt.code || v["error"] != tt.error {
				t.Errorf("got %d %v, want %d with error %q", r.StatusCode, v, tt.code, tt.error)
			}
			if got, _ := v["retry_after"].(float64); got != tt.retry {
				t.Errorf("retry_after: got %v, want %v", v["retry_after"], tt.retry)
			}
		})
	}

	t.Run("malformed", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/backend/auth/signin", strings.NewReader("username=%zz"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := c.do(req)
		if v := read(r); r.StatusCode != http.StatusBadRequest || v["error"] == "" {
			t.Errorf("got %d %v, want 400 with an error", r.StatusCode, v)
		}
	})

	t.Run("signed in", func(t *testing.T) {
		e.clock.Advance(time.Second)
		r := c.post("/backend/auth/signin", form(tok, adminPassword))
		wantStatus(t, r, http.StatusOK)
		v := read(r)
		if v["signed_in"] != true || v["user"] != "1" || v["start_url"] != "/backend" || v["deadline"] == nil || v["lifetime"] == nil {
			t.Errorf("answer: got %v", v)
		}
		c.header.Del("Accept")
		if got := c.token(); v["csrf_token"] != got {
			t.Errorf("csrf_token: got %v, want the new session's %q", v["csrf_token"], got)
		}
		// Signed in (a preview of the lock), the token is still given.
		c.header.Set("Accept", "application/json")
		if r := c.get("/backend/auth/signin"); r.StatusCode != http.StatusOK || read(r)["csrf_token"] == "" {
			t.Errorf("token while signed in: got %d %s", r.StatusCode, r.body)
		}
	})
}
