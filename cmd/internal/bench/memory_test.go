package bench

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// BenchmarkMemory reports the live heap per session (after runtime.GC)
// that scs keeps in its memstore at 100k and 1M sessions, each signed in
// as scs's sign-in does (Load, Put "user", Commit) with one of n/2 users,
// as the root module's BenchmarkMemory does for Logout. One iteration
// fills the store once; run it once:
//
//	go test -run '^$' -bench Memory -benchtime 1x -count 1
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("scs-memstore/"+strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			var per float64
			for range b.N {
				per = measureSCS(b, n)
			}
			b.ReportMetric(per, "store-B/session")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func measureSCS(b *testing.B, n int) float64 {
	b.Helper()
	h0 := liveHeap()
	store := memstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = 15 * time.Minute
	sm.Lifetime = 24 * time.Hour
	for i := range n {
		ctx, err := sm.Load(context.Background(), "")
		if err != nil {
			b.Fatal(err)
		}
		sm.Put(ctx, "user", "user"+strconv.Itoa(i/2))
		if _, _, err := sm.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	h1 := liveHeap()
	runtime.KeepAlive(store)
	runtime.KeepAlive(sm)
	return float64(h1-h0) / float64(n)
}
