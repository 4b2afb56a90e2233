package logout_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
)

// BenchmarkMemory reports the live heap per tracked session, after
// runtime.GC, at 100k and 1M sessions:
//
//   - store-B/session: a MemoryStore filled with the sessions directly;
//   - manager-B/session: what a Manager adds on top of that store once
//     it has every session cached, each seen once through
//     Manager.Handler (read from the store, as after a restart);
//   - signin-B/session: the same when each session was signed in through
//     Manager.SignIn, then seen once;
//   - unshared-B/session: as manager-B/session for a store that returns
//     strings of its own on each read, as the SQL and Redis stores do,
//     so that the Manager shares no memory with it: all a Manager keeps.
//
// Each session belongs to one of n/2 users (two devices each) and has one
// role. One iteration fills everything once; run it once:
//
//	go test -run '^$' -bench Memory -benchtime 1x -count 1
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			var store, manager, signin, unshared float64
			for range b.N {
				store, manager = measureManager(b, n, fillStore, false)
				_, unshared = measureManager(b, n, fillStore, true)
				_, signin = measureManager(b, n, nil, false)
				signin -= store // the store holds the same sessions
			}
			b.ReportMetric(store, "store-B/session")
			b.ReportMetric(manager, "manager-B/session")
			b.ReportMetric(signin, "signin-B/session")
			b.ReportMetric(unshared, "unshared-B/session")
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

// memToken returns the token of the i-th session.
func memToken(i int) (tok [32]byte) {
	binary.LittleEndian.PutUint64(tok[:], uint64(i)+1)
	return tok
}

// memUser returns the session's user: two sessions per user.
func memUser(i int) logout.User {
	return logout.User{ID: "user" + strconv.Itoa(i/2), Roles: []string{"editor"}}
}

// tokenReader hands out the tokens memToken(0), memToken(1), … as
// Options.Rand, so that the sessions that SignIn starts have cookies
// known in advance.
type tokenReader struct{ next int }

func (t *tokenReader) Read(p []byte) (int, error) {
	tok := memToken(t.next)
	t.next++
	return copy(p, tok[:]), nil
}

// fillStore creates the sessions in st directly.
func fillStore(b *testing.B, st logout.Store, n int, t0 time.Time) {
	roles := memUser(0).Roles
	for i := range n {
		tok := memToken(i)
		sum := sha256.Sum256(tok[:])
		created := t0.Add(time.Duration(i) * time.Microsecond)
		s := logout.Session{
			ID: hex.EncodeToString(sum[:]), UserID: memUser(i).ID, Roles: roles,
			Created: created, LastSeen: created, Deadline: created.Add(time.Hour),
		}
		if err := st.CreateSession(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}

// copyingStore returns strings of its own on each read, as a database
// driver does.
type copyingStore struct{ logout.Store }

func (s copyingStore) Session(ctx context.Context, id string) (logout.Session, error) {
	v, err := s.Store.Session(ctx, id)
	v.ID = string([]byte(v.ID))
	v.UserID = string([]byte(v.UserID))
	v.Roles = slices.Clone(v.Roles)
	for i, r := range v.Roles {
		v.Roles[i] = string([]byte(r))
	}
	return v, err
}

// measureManager fills a MemoryStore with n sessions, with fill or, when
// fill is nil, by signing each in through the Manager; has the Manager
// cache each of them; and returns the live heap per session of the store
// and of the Manager on top of it (when fill is nil, of both).
func measureManager(b *testing.B, n int, fill func(*testing.B, logout.Store, int, time.Time), copying bool) (store, manager float64) {
	b.Helper()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cookies := make([]string, n) // made before measuring
	for i := range n {
		tok := memToken(i)
		cookies[i] = "logout_session=" + base64.RawURLEncoding.EncodeToString(tok[:])
	}
	r := httptest.NewRequest("GET", "/backend/", nil)
	d := &discard{h: make(http.Header)}

	h0 := liveHeap()
	st := logout.NewMemoryStore()
	if fill != nil {
		fill(b, st, n, t0)
	}
	h1 := liveHeap()

	var s logout.Store = st
	if copying {
		s = copyingStore{st}
	}
	clock := fakeclock.At(t0.Add(time.Minute))
	m, err := logout.New(s, logout.Options{Logger: slog.New(slog.DiscardHandler), Clock: clock, Rand: &tokenReader{}})
	if err != nil {
		b.Fatal(err)
	}
	if fill == nil {
		for i := range n {
			clear(d.h)
			if _, err := m.SignIn(d, r, memUser(i)); err != nil {
				b.Fatal(err)
			}
			clock.Advance(time.Microsecond) // CreateSession keeps its index in sign-in order
		}
	}
	seen := 0
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := logout.FromContext(r.Context()); ok {
			seen++
		}
	}))
	for i := range n {
		r.Header["Cookie"] = cookies[i : i+1 : i+1]
		clear(d.h)
		h.ServeHTTP(d, r)
	}
	if seen != n {
		b.Fatalf("%d of %d requests signed in", seen, n)
	}
	r.Header["Cookie"] = nil
	h2 := liveHeap()
	runtime.KeepAlive(m)
	runtime.KeepAlive(st)
	runtime.KeepAlive(cookies)
	return float64(h1-h0) / float64(n), float64(h2-h1) / float64(n)
}
