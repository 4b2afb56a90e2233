package backend_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	validatorerrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

// apiEnv is an App on the memory store (whose lists sort and filter as
// the API needs) with a read and a write token, whose API answers are
// checked against the OpenAPI description served.
type apiEnv struct {
	*env
	read, write string
	store       *logout.MemoryStore
	check       *openAPICheck
}

func startAPI(t *testing.T, edit func(*backend.Config)) *apiEnv {
	t.Helper()
	return startAPIOn(t, true, edit)
}

// startAPIOn is startAPI on the memory store, or else on the data
// directory's SQLite store.
func startAPIOn(t *testing.T, memory bool, edit func(*backend.Config)) *apiEnv {
	t.Helper()
	var store *logout.MemoryStore
	if memory {
		store = logout.NewMemoryStore()
	}
	e := startWith(t, false, func(cfg *backend.Config) {
		if store != nil {
			cfg.Store = store
		}
		if edit != nil {
			edit(cfg)
		}
	})
	ae := &apiEnv{env: e, store: store}
	var err error
	if _, ae.read, err = e.app.CreateToken(t.Context(), "reader", backend.ScopeRead, 0); err != nil {
		t.Fatal(err)
	}
	if _, ae.write, err = e.app.CreateToken(t.Context(), "writer", backend.ScopeWrite, 0); err != nil {
		t.Fatal(err)
	}
	ae.check = newOpenAPICheck(t, e.srv.URL+"/backend/api/openapi.json")
	return ae
}

// call sends a request to the API (path below /backend/api/v1) with the
// token (none when ""), and checks the exchange against the description
// unless the path and method are not in it.
func (e *apiEnv) call(method, path, token, body string, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/backend/api/v1"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{res, string(b)}
	e.check.exchange(e.t, req, body, r)
	if mt := res.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") || res.Header.Get("Cache-Control") != "no-store" {
		e.t.Errorf("%s %s: Content-Type %q, Cache-Control %q; want application/json, no-store", method, path, mt, res.Header.Get("Cache-Control"))
	}
	if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
		e.t.Errorf("%s %s: the API set cookies: %q", method, path, c)
	}
	return r
}

// signIn starts a session of u from the user agent and address.
func (e *apiEnv) signIn(u logout.User, agent, addr string) logout.Session {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/backend/auth/signin", nil)
	req.Header.Set("User-Agent", agent)
	req.RemoteAddr = addr + ":40000"
	s, err := e.app.Manager().SignIn(httptest.NewRecorder(), req, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%s %s: %v\n%s", r.Request.Method, r.Request.URL, err, r.body)
	}
	return v
}

type sessionPage struct {
	Sessions []backend.SessionJSON `json:"sessions"`
	Total    int                   `json:"total"`
	Next     string                `json:"next"`
}

func (e *apiEnv) count() int {
	e.t.Helper()
	n, err := e.app.Manager().CountSessions(e.t.Context(), logout.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *apiEnv) settings() logout.Settings {
	e.t.Helper()
	s, err := e.app.Manager().Settings(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestAPI(t *testing.T) {
	for _, memory := range []bool{true, false} {
		name := "SQLite"
		if memory {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) { testAPI(t, startAPIOn(t, memory, nil)) })
	}
}

func testAPI(t *testing.T, e *apiEnv) {
	admin := logout.User{ID: "1", Name: "admin", Roles: []string{"admin"}}
	editor := logout.User{ID: "2", Name: "editor", Roles: []string{"editor"}}
	a1 := e.signIn(admin, "Firefox", "192.0.2.1")
	e.clock.Advance(time.Second)
	a2 := e.signIn(admin, "Safari", "198.51.100.2")
	e.clock.Advance(time.Second)
	ed := e.signIn(editor, "Chrome", "192.0.2.9")

	t.Run("list", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			want  []string // session IDs in order
			total int
		}{
			{"", []string{a1.ID, a2.ID, ed.ID}, 3},
			{"?order=newest", []string{ed.ID, a2.ID, a1.ID}, 3},
			{"?user=admin", []string{a1.ID, a2.ID}, 2},
			{"?user=2", []string{ed.ID}, 1},
			{"?address=192.0.2.0&order=newest", []string{ed.ID, a1.ID}, 2}, // the backend keeps /24 networks (Config.SessionAddress)
			{"?limit=2", []string{a1.ID, a2.ID}, 3},
			{"?user=nobody", nil, 0},
		} {
			for _, tok := range []string{e.read, e.write} {
				r := e.call("GET", "/sessions"+tt.query, tok, "")
				wantStatus(t, r, http.StatusOK)
				p := decode[sessionPage](t, r)
				var got []string
				for _, s := range p.Sessions {
					got = append(got, s.ID)
				}
				if !slices.Equal(got, tt.want) || p.Total != tt.total {
					t.Errorf("GET /sessions%s: got %q total %d, want %q total %d", tt.query, got, p.Total, tt.want, tt.total)
				}
			}
		}
		p := decode[sessionPage](t, e.call("GET", "/sessions?limit=2", e.read, ""))
		if p.Next == "" {
			t.Fatal("a full page has no next")
		}
		s := p.Sessions[0]
		if s.User != "admin" || s.UserAgent != "Firefox" || s.Address != "192.0.2.0" || s.ID != a1.ID || !s.Created.Equal(a1.Created) || s.Deadline.IsZero() {
			t.Errorf("session: %+v", s)
		}
		p = decode[sessionPage](t, e.call("GET", "/sessions?limit=2&after="+url.QueryEscape(p.Next), e.read, ""))
		if len(p.Sessions) != 1 || p.Sessions[0].ID != ed.ID || p.Next != "" {
			t.Errorf("second page: %+v", p)
		}
	})

	t.Run("refused", func(t *testing.T) {
		before, settings := e.count(), e.settings()
		for _, tt := range []struct {
			name, method, path, token, body string
			header                          []string
			code                            int
			want                            string
		}{
			{"no token", "GET", "/sessions", "", "", nil, 401, "bearer token"},
			{"a cookie but no token", "GET", "/sessions", "", "", []string{"Cookie", "logout_session=" + strings.Repeat("a", 43)}, 401, "bearer token"},
			{"wrong token", "GET", "/sessions", "lgo_" + strings.Repeat("A", 43), "", nil, 401, "bearer token"},
			{"not a token", "GET", "/sessions", "secret", "", nil, 401, "bearer token"},
			{"basic auth", "GET", "/sessions", "", "", []string{"Authorization", "Basic YWRtaW46YWRtaW4="}, 401, "bearer token"},
			{"read token ends sessions", "POST", "/sessions/end", e.read, `{"all":true}`, nil, 403, "may only read"},
			{"read token saves settings", "PUT", "/settings", e.read, `{"version":0,"lifetime":60,"absolute_lifetime":0,"warning_lead":10}`, nil, 403, "may only read"},
			{"malformed JSON", "POST", "/sessions/end", e.write, `{"all":true`, nil, 400, "malformed JSON"},
			{"unknown field", "POST", "/sessions/end", e.write, `{"all":true,"everyone":true}`, nil, 400, "unknown field"},
			{"two values", "POST", "/sessions/end", e.write, `{"all":true}{"all":true}`, nil, 400, "after the JSON value"},
			{"no selector", "POST", "/sessions/end", e.write, `{}`, nil, 400, "exactly one"},
			{"two selectors", "POST", "/sessions/end", e.write, `{"all":true,"user":"admin"}`, nil, 400, "exactly one"},
			{"bad reason", "POST", "/sessions/end", e.write, `{"all":true,"reason":"idle"}`, nil, 400, "want forced"},
			{"wrong type", "POST", "/sessions/end", e.write, `{"all":"yes"}`, nil, 400, "malformed JSON"},
			{"not JSON", "POST", "/sessions/end", e.write, `all=true`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
			{"settings without version", "PUT", "/settings", e.write, `{"lifetime":60,"absolute_lifetime":0,"warning_lead":10}`, nil, 400, "version is required"},
			{"settings out of range", "PUT", "/settings", e.write, `{"version":0,"lifetime":-5,"absolute_lifetime":0,"warning_lead":10}`, nil, 400, "must not be negative"},
			{"settings missing a field", "PUT", "/settings", e.write, `{"version":0,"lifetime":60,"warning_lead":10}`, nil, 400, "absolute_lifetime"},
			{"settings warning too long", "PUT", "/settings", e.write, `{"version":0,"lifetime":60,"absolute_lifetime":0,"warning_lead":60}`, nil, 400, `"code":"warning"`},
			{"settings unknown role", "PUT", "/settings", e.write, `{"version":0,"lifetime":60,"absolute_lifetime":0,"warning_lead":10,"role_lifetimes":{"root":30}}`, nil, 400, "unknown role"},
			{"settings fraction", "PUT", "/settings", e.write, `{"version":0,"lifetime":60.5,"absolute_lifetime":0,"warning_lead":10}`, nil, 400, "malformed JSON"},
			{"settings old version", "PUT", "/settings", e.write, `{"version":7,"lifetime":60,"absolute_lifetime":0,"warning_lead":10}`, nil, 409, "changed since"},
			{"bad order", "GET", "/sessions?order=random", e.read, "", nil, 400, "want oldest"},
			{"page too large", "GET", "/sessions?limit=501", e.read, "", nil, 400, "1 to 500"},
			{"bad cursor", "GET", "/sessions?after=xyz", e.read, "", nil, 400, "malformed cursor"},
			{"unknown parameter", "GET", "/sessions?usr=admin", e.read, "", nil, 400, "unknown parameter"},
			{"bad event date", "GET", "/events?since=yesterday", e.read, "", nil, 400, `"field":"since"`},
			{"bad event reason", "GET", "/events?reason=sleepy", e.read, "", nil, 400, `"field":"reason"`},
			{"history by user", "GET", "/settings/history?user=admin", e.read, "", nil, 400, "unknown parameter"},
			{"wrong method", "DELETE", "/sessions", e.write, "", nil, 405, "not allowed"},
			{"wrong method for end", "GET", "/sessions/end", e.write, "", nil, 405, "not allowed"},
			{"unknown path", "GET", "/users", e.write, "", nil, 404, "no such"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.call(tt.method, tt.path, tt.token, tt.body, tt.header...)
				wantStatus(t, r, tt.code)
				if !strings.Contains(r.body, tt.want) {
					t.Errorf("body lacks %q: %s", tt.want, r.body)
				}
				if decode[map[string]any](t, r)["error"] == nil {
					t.Errorf("no error in %s", r.body)
				}
				switch tt.code {
				case 401:
					want := `Bearer realm="logout"`
					if tt.token != "" {
						want += `, error="invalid_token"`
					}
					if got := r.Header.Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate %q, want %q", got, want)
					}
				case 405:
					if r.Header.Get("Allow") == "" {
						t.Error("405 without Allow")
					}
				}
			})
		}
		if e.count() != before || !e.settings().Equal(settings) || e.settings().Version != settings.Version {
			t.Errorf("a refused request changed something: %d sessions (was %d), settings %+v", e.count(), before, e.settings())
		}
		if r := e.call("GET", "/sessions/end", e.write, ""); r.Header.Get("Allow") != "POST" {
			t.Errorf("Allow %q, want POST", r.Header.Get("Allow"))
		}
		if r := e.call("POST", "/settings", e.write, "{}"); r.Header.Get("Allow") != "GET, HEAD, PUT" {
			t.Errorf("Allow %q, want GET, HEAD, PUT", r.Header.Get("Allow"))
		}
	})

	t.Run("settings", func(t *testing.T) {
		r := e.call("GET", "/settings", e.read, "")
		wantStatus(t, r, 200)
		s := decode[map[string]any](t, r)
		if s["lifetime"] != 900.0 || s["version"] != 0.0 || s["policy"] != "custom" {
			t.Errorf("settings: %v", s)
		}
		r = e.call("PUT", "/settings", e.write, `{"version":0,"lifetime":600,"absolute_lifetime":3600,"warning_lead":30,"show_counter":true,
			"role_lifetimes":{"editor":300},"user_lifetimes":{"admin":1200},"max_sessions":3,"retention_days":30}`)
		wantStatus(t, r, 200)
		got := e.settings()
		if got.Version != 1 || got.Lifetime != 600*time.Second || got.UserLifetimes["1"] != 1200*time.Second || got.RoleLifetimes["editor"] != 300*time.Second ||
			got.MaxSessions != 3 || got.ChangedBy != "API token writer" {
			t.Errorf("saved: %+v", got)
		}
		s = decode[map[string]any](t, r)
		if s["version"] != 1.0 || s["changed_by"] != "API token writer" || s["user_lifetimes"].(map[string]any)["admin"] != 1200.0 {
			t.Errorf("answer: %v", s)
		}
		// The history and the log.
		h := decode[struct {
			Changes []struct {
				By      string `json:"by"`
				Version int64  `json:"version"`
			} `json:"changes"`
		}](t, e.call("GET", "/settings/history", e.read, ""))
		if len(h.Changes) != 1 || h.Changes[0].By != "API token writer" || h.Changes[0].Version != 1 {
			t.Errorf("history: %+v", h)
		}
		wantStatus(t, e.call("GET", "/settings/history?since=2026-01-01&limit=1&after=5", e.read, ""), 200)
	})

	t.Run("end", func(t *testing.T) {
		for _, tt := range []struct {
			body  string
			ended int
			left  int
		}{
			{`{"session":"` + strings.Repeat("0", 64) + `"}`, 0, 3},
			{`{"session":"` + a2.ID + `"}`, 1, 2},
			{`{"user":"nobody"}`, 0, 2},
			{`{"all":true,"except":"` + a1.ID + `","reason":"manual"}`, 1, 1},
			{`{"user":"admin"}`, 1, 0},
		} {
			r := e.call("POST", "/sessions/end", e.write, tt.body)
			wantStatus(t, r, 200)
			if got := decode[map[string]int](t, r)["ended"]; got != tt.ended || e.count() != tt.left {
				t.Errorf("%s: ended %d, %d left; want %d, %d", tt.body, got, e.count(), tt.ended, tt.left)
			}
		}
		ev := decode[struct {
			Events []struct {
				UserID    string `json:"user_id"`
				User      string `json:"user"`
				Reason    string `json:"reason"`
				SessionID string `json:"session_id"`
			} `json:"events"`
			Next string `json:"next"`
		}](t, e.call("GET", "/events?limit=2", e.read, ""))
		if len(ev.Events) != 2 || ev.Next == "" || ev.Events[0].Reason != "forced" || ev.Events[0].SessionID != a1.ID || ev.Events[1].Reason != "manual" || ev.Events[1].User != "editor" {
			t.Errorf("events: %+v", ev)
		}
		r := e.call("GET", "/events?limit=2&after="+url.QueryEscape(ev.Next), e.read, "")
		if p := decode[map[string]any](t, r); len(p["events"].([]any)) != 1 {
			t.Errorf("second page of events: %s", r.body)
		}
		wantStatus(t, e.call("GET", "/events?user=admin&reason=forced&since=2026-01-01&until=2026-12-31", e.read, ""), 200)
	})

	t.Run("revoked and expired tokens", func(t *testing.T) {
		_, revoked, err := e.app.CreateToken(t.Context(), "old", backend.ScopeWrite, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, expiring, err := e.app.CreateToken(t.Context(), "short", backend.ScopeWrite, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.call("GET", "/settings", revoked, ""), 200)
		wantStatus(t, e.call("GET", "/settings", expiring, ""), 200)
		if _, err := e.app.RevokeToken(t.Context(), "old"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour) // the last subtest: the sessions are past their deadlines now
		for _, tok := range []string{revoked, expiring} {
			r := e.call("POST", "/sessions/end", tok, `{"all":true}`)
			wantStatus(t, r, 401)
			if r.body != `{"error":"a valid bearer token is required"}`+"\n" {
				t.Errorf("401 body %q", r.body)
			}
		}
		if e.count() != 0 {
			t.Errorf("%d sessions, want 0", e.count())
		}
	})

	t.Run("description", func(t *testing.T) {
		// Readable without a token; the served server URL has the prefix.
		r := e.client().get("/backend/api/openapi.json")
		wantStatus(t, r, 200)
		if !strings.Contains(r.body, `"url":"/backend/api/v1"`) || len(r.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("description: %.200s", r.body)
		}
	})
	e.check.covered(t)
}

// TestAPIThrottle: wrong tokens from one address are throttled as
// passwords are, and while throttled even a right token is not checked;
// another address is not held back.
func TestAPIThrottle(t *testing.T) {
	e := startAPI(t, func(cfg *backend.Config) { cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	wrong := "lgo_" + strings.Repeat("B", 43)
	for i := range 20 {
		if r := e.call("GET", "/settings", wrong, "", from("198.51.100.7")...); r.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
	}
	// Valid tokens are taken back: they never add up.
	for range 30 {
		wantStatus(t, e.call("GET", "/settings", e.read, "", from("198.51.100.8")...), 200)
	}
	for _, tok := range []string{wrong, e.read} {
		r := e.call("GET", "/settings", tok, "", from("198.51.100.7")...)
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	wantStatus(t, e.call("GET", "/settings", e.read, "", from("198.51.100.9")...), 200)
	e.clock.Advance(time.Hour)
	wantStatus(t, e.call("GET", "/settings", e.read, "", from("198.51.100.7")...), 200)
}

// TestAPISettingsLocked: a settings file that locks the settings locks
// them for the API too.
func TestAPISettingsLocked(t *testing.T) {
	src, err := backend.LoadSettings("", func(k string) string {
		if k == "LOGOUT_SETTINGS_LIFETIME" {
			return "600"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	e := startAPI(t, func(cfg *backend.Config) { cfg.Settings, cfg.SettingsLocked = src, true })
	r := e.call("PUT", "/settings", e.write, `{"version":1,"lifetime":60,"absolute_lifetime":0,"warning_lead":10}`)
	wantStatus(t, r, 403)
	if s := decode[map[string]any](t, e.call("GET", "/settings", e.read, "")); s["locked"] != true || s["lifetime"] != 600.0 {
		t.Errorf("settings: %v", s)
	}
}

// TestAPIListMany lists 100,000 sessions through the API in pages of 500:
// each exactly once, every page at most 500, the total on each.
func TestAPIListMany(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 sessions")
	}
	e := startAPI(t, nil)
	const n = 100_000
	base := e.clock.Now()
	for i := range n {
		id := fmt.Sprintf("%064x", i)
		if err := e.store.CreateSession(t.Context(), logout.Session{ID: id, UserID: fmt.Sprint(i % 50), Created: base.Add(time.Duration(i/10) * time.Microsecond), // in order: the memory store appends
			LastSeen: base, Deadline: base.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[string]bool, n)
	after, pages := "", 0
	for {
		path := "/sessions?limit=500"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		r := e.call("GET", path, e.read, "")
		wantStatus(t, r, 200)
		p := decode[sessionPage](t, r)
		if len(p.Sessions) > 500 || p.Total != n || len(r.body) > 500*400 {
			t.Fatalf("page %d: %d sessions, total %d, %d bytes", pages, len(p.Sessions), p.Total, len(r.body))
		}
		for _, s := range p.Sessions {
			if seen[s.ID] {
				t.Fatalf("session %s twice", s.ID)
			}
			seen[s.ID] = true
		}
		pages++
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(seen) != n || pages != n/500+1 {
		t.Errorf("read %d sessions in %d pages, want %d in %d", len(seen), pages, n, n/500+1)
	}
}

// openAPICheck validates the API's exchanges against the OpenAPI
// description that the App serves, and records which of its operations
// were exercised.
type openAPICheck struct {
	v    validator.Validator
	ops  map[string]bool // "GET /sessions": exercised
	mu   sync.Mutex
	base string
}

func newOpenAPICheck(t *testing.T, docURL string) *openAPICheck {
	t.Helper()
	res, err := http.Get(docURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	spec, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("description: %d %v", res.StatusCode, err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	if v := model.Model.Info.Version; v == "" || !strings.HasPrefix(doc.GetVersion(), "3.1") {
		t.Fatalf("want an OpenAPI 3.1 document, got %q", doc.GetVersion())
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("description: %s (%s)", e.Message, e.Reason)
		}
		t.FailNow()
	}
	c := &openAPICheck{v: v, ops: map[string]bool{}}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			c.ops[strings.ToUpper(method)+" "+path] = false
		}
	}
	if len(c.ops) == 0 {
		t.Fatal("the description has no operations")
	}
	return c
}

// exchange validates a request (with its body) and its response, when
// the description has the operation.
func (c *openAPICheck) exchange(t *testing.T, req *http.Request, body string, r response) {
	t.Helper()
	path := strings.TrimPrefix(req.URL.Path, "/backend/api/v1")
	op := req.Method + " " + path
	c.mu.Lock()
	_, ok := c.ops[op]
	if ok {
		c.ops[op] = true
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	req2 := req.Clone(req.Context())
	req2.Body = io.NopCloser(strings.NewReader(body))
	res := *r.Response
	res.Body = io.NopCloser(bytes.NewReader([]byte(r.body)))
	// Requests that the API refuses are meant to break the description;
	// every answer must follow it.
	var ok2 bool
	var errs []*validatorerrors.ValidationError
	if r.StatusCode < 300 {
		ok2, errs = c.v.ValidateHttpRequestResponse(req2, &res)
	} else {
		ok2, errs = c.v.ValidateHttpResponse(req2, &res)
	}
	if !ok2 {
		for _, e := range errs {
			t.Errorf("%s %s → %d: %s: %s %v", req.Method, req.URL.RequestURI(), r.StatusCode, e.Message, e.Reason, e.SchemaValidationErrors)
		}
	}
}

// covered fails the test for each operation of the description that no
// request exercised.
func (c *openAPICheck) covered(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for op, done := range c.ops {
		if !done {
			t.Errorf("the description's %s was never exercised", op)
		}
	}
}

// TestTokensPage: an administrator makes a token on the page, which shows
// it once; the token works on the API, the signed-in browser's cookie
// does not; revoking it on the page refuses it.
func TestTokensPage(t *testing.T) {
	e := startAPI(t, nil)
	admin := e.client()
	admin.mustSignIn("admin", adminPassword)
	r := admin.get("/backend/system/api-tokens")
	wantStatus(t, r, 200)
	wantContains(t, r.body, "reader", "writer", "/backend/api/v1")
	// Not without the CSRF token; not with a bad scope.
	wantStatus(t, admin.post("/backend/system/api-tokens", url.Values{"name": {"ci"}, "scope": {"read"}, "expires": {"30"}}), 403)
	csrfToken := csrf(t, r.body)
	wantStatus(t, admin.post("/backend/system/api-tokens", url.Values{"csrf_token": {csrfToken}, "name": {"ci"}, "scope": {"root"}, "expires": {"30"}}), 400)
	r = admin.post("/backend/system/api-tokens", url.Values{"csrf_token": {csrfToken}, "name": {"ci"}, "scope": {"write"}, "expires": {"30"}})
	wantStatus(t, r, 200)
	secret := regexp.MustCompile(`lgo_[A-Za-z0-9_-]{43}`).FindString(r.body)
	if secret == "" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("no token shown, or cached:\n%s", r.body)
	}
	if again := admin.get("/backend/system/api-tokens"); strings.Contains(again.body, secret) {
		t.Error("the token is shown again")
	}
	wantStatus(t, admin.post("/backend/system/api-tokens", url.Values{"csrf_token": {csrfToken}, "name": {"CI"}, "scope": {"read"}, "expires": {"0"}}), 422)
	wantStatus(t, e.call("POST", "/sessions/end", secret, `{"user":"nobody"}`), 200)

	// The session cookie opens no API.
	if r := admin.get("/backend/api/v1/sessions"); r.StatusCode != 401 || len(r.Header.Values("Set-Cookie")) > 0 {
		t.Errorf("the API with the session cookie: %d %q", r.StatusCode, r.Header.Values("Set-Cookie"))
	}
	// An editor has neither permission.
	editor := e.client()
	editor.mustSignIn("editor", editorPassword)
	wantStatus(t, editor.get("/backend/system/api-tokens"), 403)

	var id string
	list, err := e.app.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		if tok.Name == "ci" {
			id = tok.ID
			if tok.Scope != backend.ScopeWrite || !tok.Expires.Equal(e.clock.Now().Add(30*24*time.Hour).Truncate(time.Second)) || tok.LastUsed.IsZero() {
				t.Errorf("token: %+v", tok)
			}
		}
	}
	r = admin.post("/backend/system/api-tokens/revoke", url.Values{"csrf_token": {csrfToken}, "id": {id}})
	wantStatus(t, r, 303)
	wantContains(t, admin.follow(r).body, "Token revoked.")
	wantStatus(t, e.call("GET", "/sessions", secret, ""), 401)
	wantStatus(t, admin.post("/backend/system/api-tokens/revoke", url.Values{"csrf_token": {csrfToken}, "id": {id}}), 404)
}
