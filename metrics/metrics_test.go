package metrics_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// failingStore fails every call below while down is set, as a store
// outage does.
type failingStore struct {
	logout.Store
	down atomic.Bool
}

var errDown = errors.New("connection refused")

// call fails while the store is down, and calls the store otherwise.
func call[T any](s *failingStore, f func() (T, error)) (T, error) {
	if s.down.Load() {
		var zero T
		return zero, errDown
	}
	return f()
}

func (s *failingStore) Settings(ctx context.Context) (logout.Settings, error) {
	return call(s, func() (logout.Settings, error) { return s.Store.Settings(ctx) })
}

func (s *failingStore) CountSessions(ctx context.Context, opts logout.ListOptions) (int, error) {
	return call(s, func() (int, error) { return s.Store.CountSessions(ctx, opts) })
}

func (s *failingStore) Session(ctx context.Context, id string) (logout.Session, error) {
	return call(s, func() (logout.Session, error) { return s.Store.Session(ctx, id) })
}

// app is a Manager behind its middleware, with a sign-in handler, and a
// metrics endpoint on a server of its own.
type app struct {
	t       *testing.T
	clock   *fakeclock.Clock
	store   *failingStore
	m       *logout.Manager
	h       http.Handler
	metrics *httptest.Server
	ids     []string // the IDs of every session started
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{t: t, clock: fakeclock.New(), store: &failingStore{Store: logout.NewMemoryStore()}}
	discard := slog.New(slog.DiscardHandler)
	col := metrics.New(metrics.Options{Now: a.clock.Now, Logger: discard})
	m, err := logout.New(a.store, logout.Options{Observer: col, Clock: a.clock, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	col.Track(m)
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	a.m = m
	a.metrics = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(a.metrics.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backend/auth/signin", func(w http.ResponseWriter, r *http.Request) {
		s, err := m.SignIn(w, r, logout.User{ID: r.FormValue("user")})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		a.ids = append(a.ids, s.ID)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	a.h = m.Handler(mux)
	return a
}

// signIn signs user in and returns the session cookie.
func (a *app) signIn(user string) *http.Cookie {
	a.t.Helper()
	r := httptest.NewRequest("POST", "http://app.example/backend/auth/signin", strings.NewReader("user="+user))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		a.t.Fatalf("sign in %s: got %d, want 200", user, w.Code)
	}
	return w.Result().Cookies()[0]
}

// get requests a backend page with the session cookie c.
func (a *app) get(c *http.Cookie) int {
	r := httptest.NewRequest("GET", "http://app.example/backend", nil)
	r.AddCookie(c)
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Code
}

// scrape returns the metrics endpoint's text and its samples by series,
// such as `logout_sign_outs_total{reason="idle"}`.
func (a *app) scrape() (string, map[string]float64) {
	a.t.Helper()
	res, err := http.Get(a.metrics.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		a.t.Fatalf("scrape: %d %v", res.StatusCode, err)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			a.t.Fatalf("scrape: line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return string(b), samples
}

const absent = -1 // a want for a series that must not be in the scrape

func TestScrape(t *testing.T) {
	a := newApp(t)
	var alice, bob *http.Cookie
	steps := []struct {
		name string
		do   func(t *testing.T)
		want map[string]float64
	}{
		{
			name: "before any sign-in",
			do:   func(t *testing.T) {},
			want: map[string]float64{
				"logout_sign_ins_total": 0, "logout_active_sessions": 0, `logout_sign_outs_total{reason="idle"}`: 0,
				`logout_sign_outs_total{reason="replaced"}`: 0, "logout_sweeps_total": 0, "logout_push_subscribers": 0,
			},
		},
		{
			name: "three sign-ins, the count cached",
			do: func(t *testing.T) {
				alice, bob = a.signIn("alice"), a.signIn("bob")
				a.signIn("carol")
				a.clock.Advance(5 * time.Second) // the count of the first scrape is stale
			},
			want: map[string]float64{
				"logout_sign_ins_total": 3, "logout_active_sessions": 3,
				`logout_store_call_duration_seconds_count{op="create_session"}`: 3,
				`logout_store_call_duration_seconds_count{op="count_sessions"}`: 2,
			},
		},
		{
			name: "a second scrape within the count interval does not ask the store",
			do:   func(t *testing.T) {},
			want: map[string]float64{`logout_store_call_duration_seconds_count{op="count_sessions"}`: 2},
		},
		{
			name: "activity within the touch interval is coalesced",
			do: func(t *testing.T) {
				for range 3 { // the first writes: the last write was over 5 s ago
					a.clock.Advance(time.Second)
					if code := a.get(alice); code != 200 {
						t.Fatalf("got %d, want 200", code)
					}
				}
			},
			want: map[string]float64{"logout_store_writes_coalesced_total": 2},
		},
		{
			name: "forced sign-out",
			do: func(t *testing.T) {
				if _, err := a.m.ForceSignOut(t.Context(), logout.Selector{UserID: "carol"}); err != nil {
					t.Fatal(err)
				}
				a.clock.Advance(5 * time.Second)
			},
			want: map[string]float64{`logout_sign_outs_total{reason="forced"}`: 1, "logout_active_sessions": 2},
		},
		{
			name: "idle timeout: a request and a sweep",
			do: func(t *testing.T) {
				a.clock.Advance(901 * time.Second)
				if code := a.get(bob); code != http.StatusSeeOther {
					t.Fatalf("bob after the idle timeout: got %d, want 303", code)
				}
				if err := a.m.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]float64{
				`logout_sign_outs_total{reason="idle"}`: 2, "logout_active_sessions": 0,
				"logout_sweeps_total": 1, "logout_sweep_errors_total": 0, "logout_sweep_duration_seconds_count": 1,
			},
		},
		{
			name: "store outage",
			do: func(t *testing.T) {
				a.store.down.Store(true)
				a.clock.Advance(5 * time.Second)
				if err := a.m.Sweep(t.Context()); err == nil {
					t.Fatal("sweep in an outage: got nil, want an error")
				}
			},
			want: map[string]float64{
				"logout_active_sessions": absent, "logout_sweeps_total": 2, "logout_sweep_errors_total": 1,
				`logout_store_errors_total{op="count_sessions"}`: 1, `logout_store_errors_total{op="settings"}`: 1,
			},
		},
		{
			name: "a failed count is cached too",
			do:   func(t *testing.T) {},
			want: map[string]float64{`logout_store_errors_total{op="count_sessions"}`: 1},
		},
		{
			name: "the store answers again",
			do: func(t *testing.T) {
				a.store.down.Store(false)
				a.clock.Advance(5 * time.Second)
				a.signIn("alice")
			},
			want: map[string]float64{"logout_active_sessions": 1, "logout_sign_ins_total": 4, `logout_store_errors_total{op="count_sessions"}`: 1},
		},
	}
	for _, op := range logout.StoreOps() { // every op from the first scrape
		steps[0].want[`logout_store_errors_total{op="`+op+`"}`] = 0
		steps[0].want[`logout_store_call_duration_seconds_count{op="`+op+`"}`] = 0
	}
	steps[0].want[`logout_store_call_duration_seconds_count{op="count_sessions"}`] = 1 // the scrape's own count
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.do(t)
			_, got := a.scrape()
			for series, want := range step.want {
				v, ok := got[series]
				switch {
				case want == absent && ok:
					t.Errorf("%s: got %v, want it absent", series, v)
				case want != absent && !ok:
					t.Errorf("%s: absent, want %v", series, want)
				case want != absent && v != want:
					t.Errorf("%s: got %v, want %v", series, v, want)
				}
			}
		})
	}
	t.Run("one logout_build_info", func(t *testing.T) {
		_, got := a.scrape()
		var series []string
		for k, v := range got {
			if strings.HasPrefix(k, "logout_build_info{") && v == 1 {
				series = append(series, k)
			}
		}
		if want := `goversion="` + runtime.Version() + `"`; len(series) != 1 || !strings.Contains(series[0], want) {
			t.Errorf("got %q, want one series of value 1 with %s", series, want)
		}
	})
	t.Run("no session IDs or user names", func(t *testing.T) {
		body, _ := a.scrape()
		for _, s := range append([]string{"alice", "bob", "carol"}, a.ids...) {
			if strings.Contains(body, s) {
				t.Errorf("the scrape holds %q", s)
			}
		}
		for _, c := range []*http.Cookie{alice, bob} {
			if strings.Contains(body, c.Value) {
				t.Errorf("the scrape holds a session token")
			}
		}
	})
}

func TestPushSubscribers(t *testing.T) {
	col := metrics.New(metrics.Options{})
	for _, d := range []int{1, 1, 1, -1} {
		col.PushSubscribersChanged(d)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "logout_active_sessions" {
			t.Error("logout_active_sessions exported without a tracked Manager")
		}
		if mf.GetName() == "logout_push_subscribers" {
			if got := mf.GetMetric()[0].GetGauge().GetValue(); got != 2 {
				t.Errorf("got %v, want 2", got)
			}
		}
	}
}

func TestBuildLabels(t *testing.T) {
	const logout = "github.com/gologout/logout"
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "4db46c7a"}, {Key: "vcs.modified", Value: "false"}}
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		want []string // version, revision; goversion is runtime.Version()
	}{
		{"no build information", nil, []string{"unknown", "unknown"}},
		{"one of Logout's commands, from a tag", &debug.BuildInfo{
			Main: debug.Module{Path: logout + "/cmd", Version: "v1.4.0"}, Settings: vcs,
		}, []string{"v1.4.0", "4db46c7a"}},
		{"one of Logout's commands, from a work tree", &debug.BuildInfo{
			Main: debug.Module{Path: logout + "/cmd", Version: "(devel)"},
		}, []string{"(devel)", "unknown"}},
		{"an application that requires Logout", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app", Version: "v0.2.0"}, Settings: vcs,
			Deps: []*debug.Module{{Path: "example.com/other", Version: "v9.0.0"}, {Path: logout, Version: "v1.3.2"}, {Path: logout + "/metrics", Version: "v1.3.1"}},
		}, []string{"v1.3.2", "4db46c7a"}},
		{"an application that replaces Logout by a directory", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: logout, Version: "v1.3.2", Replace: &debug.Module{Path: "../logout"}}},
		}, []string{"(devel)", "unknown"}},
		{"an application that replaces Logout by a fork", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: logout, Version: "v1.3.2", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.3.3"}}},
		}, []string{"v1.3.3", "unknown"}},
		{"a program without Logout's root module", &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app"}, Deps: []*debug.Module{{Path: logout + "x", Version: "v1.0.0"}},
		}, []string{"unknown", "unknown"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := append(tt.want, runtime.Version())
			if got := metrics.BuildLabels(tt.info); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
