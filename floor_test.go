package logout

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The floor of a request: the least that any middleware with the
// Manager's duties does for a signed-in backend request, built from the
// same parts as [Manager.Handler] (the cookie's session ID, the response
// headers) but with no settings, no store, no decisions. It is the
// yardstick of BenchmarkRequestFloor: what the middleware costs above
// it is what its rules cost.

// Stages of the floor, each doing what the one before does and more.
const (
	FloorIdentify = iota // find the cookie, hash it to the session ID, look the session up under a lock
	FloorClock           // read the clock once, record it as the session's activity
	FloorHeaders         // the request's state (one allocation), the deadline, server-time and no-store headers
	FloorContext         // hand the state to the handler in the request's context (r.WithContext)
	FloorCut             // a cancellable context, registered while the request runs, to cut it when its session ends
)

// FloorStages names the stages, in order.
var FloorStages = []string{"identify", "clock", "headers", "context", "cut"}

type floorSession struct {
	seen atomic.Int64
}

type floorState struct {
	context.Context
	s   *floorSession
	now time.Time
	hdr [3]string
}

type floorKey struct{}

func (st *floorState) Value(key any) any {
	if key == (floorKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// FloorSignedIn reports whether a request served by the floor's
// middleware carries its session.
func FloorSignedIn(r *http.Request) bool {
	st, _ := r.Context().Value(floorKey{}).(*floorState)
	return st != nil && st.s != nil
}

// Floor returns the floor's middleware at stage in front of next, and
// the cookie of its one session.
func Floor(stage int, next http.Handler) (http.Handler, *http.Cookie) {
	var tok [tokenLen]byte
	for i := range tok {
		tok[i] = byte(i*7 + 1)
	}
	var id [idLen]byte
	sumID(tok[:], &id)
	var mu sync.Mutex
	sessions := map[string]*floorSession{string(id[:]): {}}
	cuts := make(map[*floorState]context.CancelCauseFunc)
	const name = "logout"
	cookie := &http.Cookie{Name: name, Value: tokenEncoding.EncodeToString(tok[:])}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tok [tokenLen]byte
		var id [idLen]byte
		if !decodeToken(cookieValue(r.Header, name), &tok) {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		sumID(tok[:], &id)
		mu.Lock()
		s := sessions[string(id[:])]
		mu.Unlock()
		if s == nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		if stage < FloorClock {
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		s.seen.Store(now.UnixMicro())
		if stage < FloorHeaders {
			next.ServeHTTP(w, r)
			return
		}
		st := &floorState{Context: r.Context(), s: s, now: now}
		setBackendHeaders(w.Header(), &st.hdr, now.Add(15*time.Minute), now)
		switch stage {
		case FloorHeaders:
			next.ServeHTTP(w, r)
		case FloorContext:
			next.ServeHTTP(w, r.WithContext(st))
		default:
			ctx, cancel := context.WithCancelCause(st)
			mu.Lock()
			cuts[st] = cancel
			mu.Unlock()
			defer func() {
				mu.Lock()
				delete(cuts, st)
				mu.Unlock()
				cancel(nil)
			}()
			next.ServeHTTP(w, r.WithContext(ctx))
		}
	}), cookie
}
