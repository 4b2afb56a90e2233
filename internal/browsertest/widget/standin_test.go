package widget_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/gologout/logout"
)

// Stand-ins for the Manager's push stream and WriteSignedIn, built to the
// shared contract, until the library has them.

var (
	endMu sync.Mutex
	endCh = map[*backend]chan struct{}{}
)

func (b *backend) endChan() chan struct{} {
	endMu.Lock()
	defer endMu.Unlock()
	if endCh[b] == nil {
		endCh[b] = make(chan struct{})
	}
	return endCh[b]
}

func (b *backend) ended() {
	endMu.Lock()
	defer endMu.Unlock()
	if endCh[b] != nil {
		close(endCh[b])
	}
	endCh[b] = make(chan struct{})
}

func statusOf(st logout.Status) map[string]any {
	return map[string]any{"signed_in": true, "deadline": st.Session.Deadline.UnixMilli(), "server_time": st.ServerTime.UnixMilli(),
		"lifetime": int64(st.Lifetime.Seconds()), "warning_lead": int64(st.WarningLead.Seconds()), "show_counter": st.ShowCounter}
}

func (b *backend) serveEvents(w http.ResponseWriter, r *http.Request) {
	st, ok := b.m.Status(r)
	if !ok {
		b.m.Unauthorized(w, r, 0)
		return
	}
	end := b.endChan()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	j, _ := json.Marshal(statusOf(st))
	fmt.Fprintf(w, "retry: 2000\n\nevent: status\ndata: %s\n\n", j)
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-end:
		fmt.Fprintf(w, "event: ended\ndata: %s\n\n", `{"signed_in":false,"reason":"forced","message":"You have been logged out by an administrator.","sign_in_url":"/backend/auth/signin?reason=forced"}`)
		w.(http.Flusher).Flush()
	}
}

func (b *backend) writeSignedIn(w http.ResponseWriter, r *http.Request, s logout.Session, start string) {
	r2 := httptest.NewRequest("GET", "/backend/", nil)
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		r2.AddCookie(c)
	}
	var st logout.Status
	var tok string
	b.m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		st, _ = b.m.Status(r)
		tok = b.m.CSRFToken(r)
	})).ServeHTTP(httptest.NewRecorder(), r2)
	v := statusOf(st)
	v["user"], v["csrf_token"], v["start_url"] = s.UserID, tok, start
	json.NewEncoder(w).Encode(v)
}
