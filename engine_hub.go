package logout

import (
	"sync"
	"sync/atomic"
	"time"
)

// The push streams (push.go) sleep on their subscriber's wake channel;
// the hub wakes the subscribers of a session when it ends, all of them
// when the settings change, and all of them on each beat of
// [engine.beat] for pings (and, without a Watcher, to reread the store).

// hub is the engine's registry of push subscribers and of the sessions
// whose last push connection closed (engine_close.go). Its zero value is
// ready.
type hub struct {
	mu   sync.Mutex
	subs map[string][]*subscriber // by session ID
	done chan struct{}            // closed by closeAll; then replaced
	n    atomic.Int64             // subscribers

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

// changed passes a Watcher's announcement to the streams.
func (h *hub) changed(c Change) {
	if c.All || c.Settings {
		h.wakeAll(false)
		return
	}
	h.wake(c.Ended...)
}

// subscribe registers a push stream of session id, as [hub.subscribe]
// does, and reports it to the Observer.
func (eng *engine) subscribe(id string) (*subscriber, <-chan struct{}, bool) {
	sub, done, ok := eng.hub.subscribe(id)
	if ok && eng.opts.Observer != nil {
		eng.opts.Observer.PushSubscribersChanged(1)
	}
	return sub, done, ok
}

// unsubscribe removes the push stream sub. gone reports that the browser
// went away (rather than the stream ending with its session or the
// server): the close of a session's last stream then starts its close
// grace (engine_close.go).
func (eng *engine) unsubscribe(sub *subscriber, gone bool) {
	if eng.opts.Observer != nil {
		eng.opts.Observer.PushSubscribersChanged(-1)
	}
	if eng.hub.unsubscribe(sub) && gone {
		eng.closed(sub.id)
	}
}

// subscribers returns how many push streams are open.
func (eng *engine) subscribers() int { return int(eng.hub.n.Load()) }

// closeStreams ends every open push stream; later streams are served
// as usual.
func (eng *engine) closeStreams() { eng.hub.closeAll() }

// woken returns the channel that wakes the stream.
func (s *subscriber) woken() <-chan struct{} { return s.wake }

// endedBy returns the event of the stream's session's end, or nil while
// it has not ended.
func (s *subscriber) endedBy() *Event { return s.ended.Load() }

// takePing reports whether a ping is due, and clears it.
func (s *subscriber) takePing() bool { return s.ping.Swap(false) }
