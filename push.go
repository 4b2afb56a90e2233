package logout

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// The push endpoint (GET …/events) streams a session's changes to its
// browser as server-sent events. Each stream is one HTTP handler's
// goroutine that sleeps on its subscriber's wake channel; the engine
// wakes the subscribers of a session when it ends, all of them when the
// settings change, and all of them on each beat of [Manager.Run] for
// pings (and, without a Watcher, to reread the store; engine_hub.go). A
// woken stream decides on its session as a passive status request does
// and writes what changed: no timers per stream, no activity.

// DefaultPushPing is the default of [Options.PushPing].
const DefaultPushPing = 25 * time.Second

// pushRetry is the reconnection delay the stream asks the browser for.
const pushRetry = "retry: 2000\n\n"

// servers are the HTTP servers whose shutdown closes the push streams:
// [http.Server.Shutdown] waits for responses to finish, and a stream does
// not finish by itself. The zero value is ready.
type servers struct {
	mu   sync.Mutex
	seen map[*http.Server]bool
}

// watch makes srv's shutdown call closeAll, once per server.
func (s *servers) watch(srv *http.Server, closeAll func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[*http.Server]bool)
	}
	if !s.seen[srv] {
		s.seen[srv] = true
		srv.RegisterOnShutdown(closeAll)
	}
}

// signedInJSON is the status JSON of a signed-in session: the body of
// GET …/status, of a push stream's status events and the start of
// [Manager.WriteSignedIn]'s.
func signedInJSON(st Status) statusJSON {
	return statusJSON{
		SignedIn: true, Deadline: st.Session.Deadline.UnixMilli(), ServerTime: st.ServerTime.UnixMilli(),
		Lifetime: secs(st.Lifetime), WarningLead: secs(st.WarningLead), ShowCounter: st.ShowCounter,
	}
}

// endedJSON is the body of a 401 of …/status for a script: why the
// session ended (0: no session) and where to sign in again.
func (m *Manager) endedJSON(r *http.Request, reason Reason) statusJSON {
	v := statusJSON{ServerTime: m.eng.now().UnixMilli(), Message: "Please sign in.", SignInURL: m.SignInURL(reason, scriptReturn(r))}
	if reason.Valid() {
		v.Reason, v.Message = reason.String(), m.message(r, reason)
	}
	return v
}

// serveEvents serves GET …/events; see [Manager.Endpoints].
func (m *Manager) serveEvents(w http.ResponseWriter, r *http.Request) {
	rs := stateOf(r)
	if rs == nil {
		m.Unauthorized(w, r, 0)
		return
	}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		m.servers.watch(srv, m.eng.closeStreams)
	}
	sub, done, ok := m.eng.subscribe(rs.sessionID())
	if !ok {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", "30")
		http.Error(w, "logout: too many push streams for this session", http.StatusTooManyRequests)
		return
	}
	gone := true // the browser went away: its last stream closing starts the grace
	defer func() { m.eng.unsubscribe(sub, gone) }()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout; not every writer supports it
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	last := signedInJSON(rs.h.status(rs.session(), rs.now))
	if _, err := w.Write([]byte(pushRetry)); err != nil || writeEvent(w, "status", last) != nil || rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			gone = false // shutting down: the browser reconnects elsewhere
			return
		case <-sub.woken():
		}
		var err error
		if ev := sub.endedBy(); ev != nil {
			gone = false
			_ = writeEvent(w, "ended", m.endedJSON(r, ev.Reason))
			_ = rc.Flush()
			return
		}
		h, now, derr := m.eng.decide(ctx, visit{key: rs.key, backend: true, passive: true})
		var ended *EndedError
		switch {
		case derr == nil:
			if st := signedInJSON(h.status(h.session(), now)); !sameStatus(st, last) {
				last = st
				err = writeEvent(w, "status", st)
			}
		case errors.As(derr, &ended):
			gone = false
			_ = writeEvent(w, "ended", m.endedJSON(r, ended.Reason))
			_ = rc.Flush()
			return
		case errors.Is(derr, ErrNoSession):
			gone = false
			_ = writeEvent(w, "ended", m.endedJSON(r, 0))
			_ = rc.Flush()
			return
		default:
			// The store fails: say nothing; the session is kept, and the
			// next wake looks again.
		}
		if err == nil && sub.takePing() {
			_, err = w.Write([]byte(": ping\n\n"))
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

// sameStatus reports whether two status answers differ only in their
// server time.
func sameStatus(a, b statusJSON) bool {
	a.ServerTime, b.ServerTime = 0, 0
	return a == b
}

// writeEvent writes one server-sent event whose data is v as JSON (one
// line: encoding/json escapes newlines in strings).
func writeEvent(w http.ResponseWriter, name string, v statusJSON) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(name)+len(b)+16)
	buf = append(buf, "event: "...)
	buf = append(buf, name...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	_, err = w.Write(buf)
	return err
}
