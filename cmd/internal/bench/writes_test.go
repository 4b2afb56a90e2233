package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gologout/logout/internal/fakeclock"
)

// writeSpan is the time over which one session makes its 1000 requests
// in BenchmarkStoreWrites: one request every 60 ms, a busy script.
const writeSpan = time.Minute

// BenchmarkStoreWrites counts the store writes that 1000 requests of one
// session cause, and the store reads, reported per 1000 requests. Each
// operation signs in a new session and makes 1000 requests over loopback
// HTTP, spread evenly over writeSpan, one after another:
//
//   - backend-*: the reference backend's stats endpoint on a fake clock
//     that moves writeSpan/1000 before each request. Writes are
//     CreateSession and TouchSession calls; Logout's target is one per
//     touch interval (5 s at the default 900 s lifetime): 12 in a minute,
//     plus the sign-in's. The count includes the final [logout.Manager.Flush]
//     of the session's pending activity, which a shutdown or the
//     sweeper's eviction would write.
//   - scs-*: scs's LoadAndSave with an IdleTimeout, on the real clock
//     (scs takes none; its writes do not depend on it). Writes are
//     Commit calls.
func BenchmarkStoreWrites(b *testing.B) {
	const requests = 1000
	for _, k := range kinds {
		b.Run("backend-"+k.name, func(b *testing.B) {
			store, c := count(k.newLogout(b))
			clk := fakeclock.At(time.Now())
			app, srv := backendServer(b, store, clk)
			for b.Loop() {
				cookie := signInBackend(b, srv.URL)
				for range requests {
					clk.Advance(writeSpan / requests)
					get(b, srv.URL+statsPath, cookie)
				}
				// What a shutdown or the sweeper's eviction writes later.
				if err := app.Manager().Flush(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			report(b, c.writes.Load(), c.reads.Load())
		})
	}
	for _, k := range kinds {
		b.Run("scs-"+k.name, func(b *testing.B) {
			c := &countingSCS{Store: k.newSCS(b)}
			h, signIn := scsJSON(b, c)
			srv := httptest.NewServer(h)
			defer srv.Close()
			for b.Loop() {
				cookie := signIn()
				for range requests {
					get(b, srv.URL+statsPath, cookie)
				}
			}
			report(b, c.writes.Load(), c.reads.Load())
		})
	}
}

func report(b *testing.B, writes, reads int64) {
	b.ReportMetric(float64(writes)/float64(b.N), "writes/1000req")
	b.ReportMetric(float64(reads)/float64(b.N), "reads/1000req")
}

func get(b *testing.B, url, cookie string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", url, res.Status)
	}
}
