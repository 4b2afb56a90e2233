package proxy

import (
	"container/list"
	"io"
	"regexp"
	"sync"
	"time"
)

// Sign-out nonces ([SignOut.NoncePattern]) are scraped from the backend
// pages that stream through the proxy and kept per session in a
// nonceCache: in this process's memory, at most maxNonces of them, each
// for nonceLife. They are not written to the session store because the
// core's Store has no place for per-session data and a nonce is cheap to
// learn again: the next backend page of the session brings it. A proxy
// instance that never saw a page of the session (several instances on one
// store), or a session whose nonce has been evicted, falls back to
// blocking the credential and expiring it in the browser.
//
// A nonce is no credential: the panel accepts it only with the session's
// own cookies, and it can do no more than sign that session out.
const (
	// maxNonces bounds the cache: about 200 bytes an entry, 2 MB in all.
	// Beyond it the nonce captured longest ago is forgotten.
	maxNonces = 10000
	// nonceLife is how long a nonce is kept after it was last seen:
	// WordPress's nonces are valid for a day at most.
	nonceLife = 24 * time.Hour
	// maxNonceMatch bounds the length of a match of the nonce pattern
	// that spans two reads of a page; a match of one read may be longer.
	maxNonceMatch = 512
	// maxNonceLen bounds the nonce itself.
	maxNonceLen = 256
)

// nonceCache maps session IDs to their latest sign-out nonce, least
// recently captured first out. It is safe for concurrent use.
type nonceCache struct {
	mu    sync.Mutex
	byID  map[string]*list.Element // of *nonceEntry
	order list.List                // front: the latest captured
}

type nonceEntry struct {
	id, nonce string
	at        time.Time
}

func newNonceCache() *nonceCache {
	return &nonceCache{byID: make(map[string]*list.Element)}
}

// put records nonce as the session's latest, at now.
func (c *nonceCache) put(id, nonce string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		e := el.Value.(*nonceEntry)
		e.nonce, e.at = nonce, now
		c.order.MoveToFront(el)
	} else {
		c.byID[id] = c.order.PushFront(&nonceEntry{id: id, nonce: nonce, at: now})
	}
	// Drop the oldest while the cache is full or they have expired.
	for back := c.order.Back(); back != nil; back = c.order.Back() {
		e := back.Value.(*nonceEntry)
		if len(c.byID) <= maxNonces && now.Sub(e.at) < nonceLife {
			break
		}
		c.order.Remove(back)
		delete(c.byID, e.id)
	}
}

// take removes the session's nonce and returns it, if one younger than
// nonceLife is known.
func (c *nonceCache) take(id string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return "", false
	}
	c.order.Remove(el)
	delete(c.byID, id)
	e := el.Value.(*nonceEntry)
	return e.nonce, now.Sub(e.at) < nonceLife
}

// len returns the number of nonces kept.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// A nonceReader passes a page through unchanged and hands the first
// match of re's first group to found. It looks at each read, and at the
// seam between two reads (maxNonceMatch bytes either side), so that a
// match cut by a read boundary is found too; after the first match it
// only copies. It allocates nothing per read unless re matches.
type nonceReader struct {
	src   io.ReadCloser
	re    *regexp.Regexp
	found func(nonce string)
	done  bool
	carry [maxNonceMatch]byte // the end of what was read before
	nc    int                 // bytes of carry in use
	seam  [2 * maxNonceMatch]byte
}

func (n *nonceReader) Read(p []byte) (int, error) {
	k, err := n.src.Read(p)
	if k > 0 && !n.done {
		n.scan(p[:k])
	}
	if err == io.EOF && !n.done && n.nc > 0 {
		n.try(n.carry[:n.nc], true) // a match that ends the page
	}
	return k, err
}

func (n *nonceReader) Close() error { return n.src.Close() }

func (n *nonceReader) scan(b []byte) {
	w := append(n.seam[:0], n.carry[:n.nc]...)
	w = append(w, b[:min(len(b), maxNonceMatch)]...)
	if (n.nc > 0 && n.try(w, false)) || n.try(b, false) {
		return
	}
	if len(b) >= maxNonceMatch {
		n.nc = copy(n.carry[:], b[len(b)-maxNonceMatch:])
	} else { // w is all of carry and b
		n.nc = copy(n.carry[:], w[max(0, len(w)-maxNonceMatch):])
	}
}

// try reports whether b holds a valid nonce, and hands it on. Unless b
// ends the page, a match that ends with b may be cut short ("abcdef" of
// "abcdef1234"): it is left for the seam with the next read.
func (n *nonceReader) try(b []byte, final bool) bool {
	m := n.re.FindSubmatchIndex(b)
	if m == nil || m[2] < 0 || (m[1] == len(b) && !final) || !validNonce(b[m[2]:m[3]]) {
		return false
	}
	n.done = true
	n.found(string(b[m[2]:m[3]]))
	return true
}

// validNonce accepts 1 to maxNonceLen visible ASCII characters.
func validNonce(b []byte) bool {
	if len(b) == 0 || len(b) > maxNonceLen {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
