package metrics

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gologout/logout"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a [Collector]. The zero Options are useful: every
// field states its default.
type Options struct {
	// CountEvery is how long the count of active sessions is reused
	// before a scrape asks the store again, so that scrapes never hammer
	// the store. Default 5 s.
	CountEvery time.Duration
	// CountTimeout bounds the store's count of active sessions. Default
	// 2 s.
	CountTimeout time.Duration
	// Buckets are the upper bounds, in seconds, of the store call
	// histogram. Default 0.5 ms to 4 s, doubling.
	Buckets []float64
	// SweepBuckets are the upper bounds, in seconds, of the sweep
	// histogram. Default 1 ms to 32 s, doubling.
	SweepBuckets []float64
	// Logger receives a warning when the count of active sessions fails.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the count's cache. Default time.Now.
	Now func() time.Time
}

// A Collector counts what [logout.Manager]s do, as a [logout.Observer],
// and exports it to Prometheus, as a [prometheus.Collector]: set it as
// [logout.Options.Observer] and register it in the application's own
// registry. Create one with [New]; it is safe for concurrent use.
//
// No metric has a session ID, token or user name among its labels: the
// only labels are a sign-out's reason and a store call's operation, each
// of a fixed, small set exported in full from the first scrape, and those
// of logout_build_info, a single series.
type Collector struct {
	opts Options
	log  *slog.Logger

	signIns     prometheus.Counter
	signOuts    *prometheus.CounterVec
	storeCalls  *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
	coalesced   prometheus.Counter
	sweeps      prometheus.Counter
	sweepErrors prometheus.Counter
	sweepTime   prometheus.Histogram
	push        prometheus.Gauge
	build       *prometheus.GaugeVec
	activeDesc  *prometheus.Desc

	mu      sync.Mutex // held while counting, so that concurrent scrapes count once
	manager *logout.Manager
	counted time.Time // when active was counted; zero before the first count
	active  int
	countOK bool // the last count succeeded
}

// Compile-time checks that a Collector is both.
var (
	_ logout.Observer      = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// New returns a Collector with the given options.
func New(opts Options) *Collector {
	if opts.CountEvery <= 0 {
		opts.CountEvery = 5 * time.Second
	}
	if opts.CountTimeout <= 0 {
		opts.CountTimeout = 2 * time.Second
	}
	if len(opts.Buckets) == 0 {
		opts.Buckets = prometheus.ExponentialBuckets(0.0005, 2, 14) // 0.5 ms … 4.1 s
	}
	if len(opts.SweepBuckets) == 0 {
		opts.SweepBuckets = prometheus.ExponentialBuckets(0.001, 2, 16) // 1 ms … 32.8 s
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Collector{
		opts: opts,
		log:  opts.Logger,
		signIns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logout_sign_ins_total", Help: "Sessions started by a sign-in.",
		}),
		signOuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logout_sign_outs_total", Help: "Sessions ended, by reason.",
		}, []string{"reason"}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logout_store_call_duration_seconds", Help: "Duration of session store calls, by operation.", Buckets: opts.Buckets,
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logout_store_errors_total", Help: "Session store calls that failed, by operation (not found and conflict are answers, not failures).",
		}, []string{"op"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logout_store_writes_coalesced_total", Help: "Session activity not written to the store because a write within the touch interval covers it.",
		}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logout_sweeps_total", Help: "Sweeps run: expired sessions ended, deadlines refreshed, the sign-out log pruned.",
		}),
		sweepErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logout_sweep_errors_total", Help: "Sweeps that failed.",
		}),
		sweepTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "logout_sweep_duration_seconds", Help: "Duration of sweeps.", Buckets: opts.SweepBuckets,
		}),
		push: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logout_push_subscribers", Help: "Clients subscribed to pushed session changes.",
		}),
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logout_build_info", Help: "Always 1; its labels are Logout's version, the commit and the Go release the program was built from.",
		}, []string{"version", "revision", "goversion"}),
		activeDesc: prometheus.NewDesc("logout_active_sessions",
			"Sessions in the store, including expired ones no sweep has ended yet; counted at most once per count interval.", nil, nil),
	}
	// Every known label value from 0, so that a rate reads 0, not "no
	// data", from the first scrape.
	for r := logout.ReasonIdle; r.Valid(); r++ {
		c.signOuts.WithLabelValues(r.String())
	}
	for _, op := range logout.StoreOps() {
		c.storeCalls.WithLabelValues(op)
		c.storeErrors.WithLabelValues(op)
	}
	info, _ := debug.ReadBuildInfo()
	c.build.WithLabelValues(buildLabels(info)...).Set(1)
	return c
}

// module is the path of Logout's root module.
const module = "github.com/gologout/logout"

// buildLabels returns the labels of logout_build_info from the build
// information of the program (nil when it has none): the version of
// Logout in it (the program's own when it is one of Logout's commands,
// else that of the module it requires, "(devel)" for a local
// replacement), the commit it was built from (the version control's
// revision, which the go command records when it builds a main package
// in a repository) and the Go release that built it. A value not
// recorded is "unknown".
func buildLabels(info *debug.BuildInfo) []string {
	version, revision := "", ""
	if info != nil {
		if info.Main.Path == module || strings.HasPrefix(info.Main.Path, module+"/") {
			version = info.Main.Version
		}
		for _, d := range info.Deps {
			if d.Path == module && version == "" {
				version = d.Version
				if d.Replace != nil {
					version = cmp.Or(d.Replace.Version, "(devel)")
				}
			}
		}
		for _, kv := range info.Settings {
			if kv.Key == "vcs.revision" {
				revision = kv.Value
			}
		}
	}
	return []string{cmp.Or(version, "unknown"), cmp.Or(revision, "unknown"), runtime.Version()}
}

// Track makes the Collector export logout_active_sessions, the number of
// sessions in m's store ([logout.Manager.CountSessions]), counted on a
// scrape at most once per [Options.CountEvery]. The last call wins; until
// the first, the metric is not exported. Several Managers on one store
// (as in a proxy beside its admin pages) need only one of them tracked.
func (c *Collector) Track(m *logout.Manager) {
	c.mu.Lock()
	c.manager = m
	c.counted = time.Time{}
	c.mu.Unlock()
}

// StoreCall implements [logout.Observer].
func (c *Collector) StoreCall(op string, d time.Duration, err error) {
	c.storeCalls.WithLabelValues(op).Observe(d.Seconds())
	if err != nil && !errors.Is(err, logout.ErrNotFound) && !errors.Is(err, logout.ErrConflict) {
		c.storeErrors.WithLabelValues(op).Inc()
	}
}

// SessionStarted implements [logout.Observer].
func (c *Collector) SessionStarted() { c.signIns.Inc() }

// SessionsEnded implements [logout.Observer].
func (c *Collector) SessionsEnded(reason logout.Reason, n int) {
	c.signOuts.WithLabelValues(reason.String()).Add(float64(n))
}

// WriteCoalesced implements [logout.Observer].
func (c *Collector) WriteCoalesced() { c.coalesced.Inc() }

// SweepFinished implements [logout.Observer].
func (c *Collector) SweepFinished(d time.Duration, _ int, err error) {
	c.sweeps.Inc()
	c.sweepTime.Observe(d.Seconds())
	if err != nil {
		c.sweepErrors.Inc()
	}
}

// PushSubscribersChanged implements [logout.Observer].
func (c *Collector) PushSubscribersChanged(delta int) { c.push.Add(float64(delta)) }

// Describe implements [prometheus.Collector].
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors() {
		m.Describe(ch)
	}
	ch <- c.activeDesc
}

// Collect implements [prometheus.Collector]. It counts the active
// sessions when the last count is older than [Options.CountEvery]; while
// the count fails, logout_active_sessions is left out of the scrape (the
// failure shows in logout_store_errors_total{op="count_sessions"}).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// Count first, so that the count's own store call is in this scrape.
	if n, ok := c.count(); ok {
		ch <- prometheus.MustNewConstMetric(c.activeDesc, prometheus.GaugeValue, float64(n))
	}
	for _, m := range c.collectors() {
		m.Collect(ch)
	}
}

func (c *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.signIns, c.signOuts, c.storeCalls, c.storeErrors, c.coalesced,
		c.sweeps, c.sweepErrors, c.sweepTime, c.push, c.build}
}

// count returns the cached count of active sessions, counting again when
// it is older than CountEvery; a failed count is cached as long, so that
// an outage costs the store one call per interval.
func (c *Collector) count() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.manager == nil {
		return 0, false
	}
	now := c.opts.Now()
	if age := now.Sub(c.counted); !c.counted.IsZero() && age >= 0 && age < c.opts.CountEvery {
		return c.active, c.countOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.CountTimeout)
	defer cancel()
	n, err := c.manager.CountSessions(ctx, logout.ListOptions{})
	c.counted, c.active, c.countOK = now, n, err == nil
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "metrics: count active sessions", slog.String("error", err.Error()))
	}
	return c.active, c.countOK
}
