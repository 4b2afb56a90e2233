package logout

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The push endpoint (GET …/events) streams a session's changes to its
// browser as server-sent events. Each stream is one HTTP handler's
// goroutine that sleeps on its subscriber's wake channel; the hub wakes
// the subscribers of a session when it ends, all of them when the
// settings change, and all of them on each beat of [Manager.tend] for
// pings (and, without a Watcher, to reread the store). A woken stream
// decides on its session as a passive status request does and writes
// what changed: no timers per stream, no activity.

// DefaultPushPing is the default of [Options.PushPing].
const DefaultPushPing = 25 * time.Second

// pushRetry is the reconnection delay the stream asks the browser for.
const pushRetry = "retry: 2000\n\n"

// hub is the Manager's registry of push subscribers and of the sessions
// whose last push connection closed (closing.go). Its zero value is
// ready.
type hub struct {
	mu      sync.Mutex
	subs    map[string][]*subscriber // by session ID
	done    chan struct{}            // closed by closeAll; then replaced
	servers map[*http.Server]bool    // those whose shutdown closes the streams
	n       atomic.Int64             // subscribers

	closing  map[string]time.Time // by session ID: when its last push connection closed
	nClosing atomic.Int64
}

// A subscriber is one open push stream of a session.
type subscriber struct {
	id    string
	wake  chan struct{} // capacity 1: wakes coalesce
	ping  atomic.Bool   // write a ping comment when woken
	ended atomic.Pointer[Event]
}

func (s *subscriber) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maxStreams bounds the open push streams of one session. The widget
// keeps one per browser (in its leader tab), so a session never needs
// many; past the bound each stream would hold a file descriptor and
// memory for the session's whole life. A bound per client address would
// refuse everyone behind one load balancer or office NAT, and a stream
// needs a live session, whose count per user the session limit bounds.
const maxStreams = 8

// subscribe registers a stream of session id and cancels its pending
// sign-out on close. It returns the channel that closeAll closes, or
// false when the session has maxStreams open already.
func (h *hub) subscribe(id string) (*subscriber, <-chan struct{}, bool) {
	s := &subscriber{id: id, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[id]) >= maxStreams {
		return nil, nil, false
	}
	if h.subs == nil {
		h.subs = make(map[string][]*subscriber)
	}
	if h.done == nil {
		h.done = make(chan struct{})
	}
	h.subs[id] = append(h.subs[id], s)
	h.n.Add(1)
	h.cancelCloseLocked(id)
	return s, h.done, true
}

// unsubscribe removes s. It reports whether s was its session's last
// stream.
func (h *hub) unsubscribe(s *subscriber) (last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.subs[s.id]
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			h.n.Add(-1)
			break
		}
	}
	if len(list) == 0 {
		delete(h.subs, s.id)
		return true
	}
	h.subs[s.id] = list
	return false
}

// has reports whether session id has an open stream.
func (h *hub) has(id string) bool {
	if h.n.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[id]) > 0
}

// end tells the streams of ev's session that it ended.
func (h *hub) end(ev Event) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	for _, s := range h.subs[ev.SessionID] {
		s.ended.CompareAndSwap(nil, &ev)
		s.poke()
	}
	h.mu.Unlock()
}

// wake wakes the streams of the sessions ids, to look at them again.
func (h *hub) wake(ids ...string) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	for _, id := range ids {
		for _, s := range h.subs[id] {
			s.poke()
		}
	}
	h.mu.Unlock()
}

// wakeAll wakes every stream, with a ping when ping is set.
func (h *hub) wakeAll(ping bool) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	for _, list := range h.subs {
		for _, s := range list {
			if ping {
				s.ping.Store(true)
			}
			s.poke()
		}
	}
	h.mu.Unlock()
}

// closeAll ends every open stream; later streams are served as usual.
func (h *hub) closeAll() {
	h.mu.Lock()
	if h.done != nil {
		close(h.done)
		h.done = nil
	}
	h.mu.Unlock()
}

// watchServer makes srv's shutdown close the streams, once per server:
// [http.Server.Shutdown] waits for responses to finish, and a stream
// does not finish by itself.
func (h *hub) watchServer(srv *http.Server) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.servers == nil {
		h.servers = make(map[*http.Server]bool)
	}
	if !h.servers[srv] {
		h.servers[srv] = true
		srv.RegisterOnShutdown(h.closeAll)
	}
}

// changed passes a Watcher's announcement to the streams.
func (h *hub) changed(c Change) {
	if c.All || c.Settings {
		h.wakeAll(false)
		return
	}
	h.wake(c.Ended...)
}

// signedInJSON is the status JSON of a signed-in session: the body of
// GET …/status, of a push stream's status events and the start of
// [Manager.WriteSignedIn]'s.
func signedInJSON(s Session, set *Settings, now time.Time) statusJSON {
	return statusJSON{
		SignedIn: true, Deadline: s.Deadline.UnixMilli(), ServerTime: now.UnixMilli(),
		Lifetime: secs(set.IdleLifetime(s.UserID, s.Roles)), WarningLead: secs(set.WarningLead), ShowCounter: set.ShowCounter,
	}
}

// endedJSON is the body of a 401 of …/status for a script: why the
// session ended (0: no session) and where to sign in again.
func (m *Manager) endedJSON(r *http.Request, reason Reason) statusJSON {
	v := statusJSON{ServerTime: m.now().UnixMilli(), Message: "Please sign in.", SignInURL: m.SignInURL(reason, scriptReturn(r))}
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
		m.push.watchServer(srv)
	}
	sub, done, ok := m.push.subscribe(rs.sess.ID)
	if !ok {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", "30")
		http.Error(w, "logout: too many push streams for this session", http.StatusTooManyRequests)
		return
	}
	obs := m.opts.Observer
	if obs != nil {
		obs.PushSubscribersChanged(1)
	}
	gone := true // the browser went away: its last stream closing starts the grace
	defer func() {
		if obs != nil {
			obs.PushSubscribersChanged(-1)
		}
		if m.push.unsubscribe(sub) && gone {
			m.closed(sub.id)
		}
	}()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout; not every writer supports it
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	last := signedInJSON(rs.sess, rs.set, rs.now)
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
		case <-sub.wake:
		}
		var err error
		if ev := sub.ended.Load(); ev != nil {
			gone = false
			_ = writeEvent(w, "ended", m.endedJSON(r, ev.Reason))
			_ = rc.Flush()
			return
		}
		e, set, now, derr := m.decide(ctx, visit{key: rs.key, backend: true, passive: true})
		var ended *EndedError
		switch {
		case derr == nil:
			s, _ := e.session(set)
			if st := signedInJSON(s, set, now); !sameStatus(st, last) {
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
		if err == nil && sub.ping.Swap(false) {
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

// tend is the Manager's beat while [Manager.Run] runs: every
// [Options.SyncInterval] (at most 1 s, at least as often as
// [Options.PushPing]) it writes the activity of requests in flight,
// ends the sessions whose close grace is over, and wakes the push
// streams: each [Options.PushPing] with a ping, and on every beat when
// the store is no [Watcher], so that they reread it. One goroutine and
// one ticker whatever the number of streams. When ctx is done it closes
// the streams.
func (m *Manager) tend(ctx context.Context) {
	beat := min(m.opts.SyncInterval, m.opts.PushPing, time.Second)
	pingEvery := max(int(m.opts.PushPing/beat), 1)
	_, watched := m.store.(Watcher)
	t := time.NewTicker(beat)
	defer t.Stop()
	defer m.push.closeAll()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := m.now()
		if err := errors.Join(m.writeBusy(ctx, now), m.closeDue(ctx, now)); err != nil && ctx.Err() == nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "logout: beat", slog.String("error", err.Error()))
		}
		ping := n%pingEvery == 0
		if ping || !watched {
			m.push.wakeAll(ping)
		}
	}
}
