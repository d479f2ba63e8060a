package proxy

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// Load shedding: a bound on the requests in flight, globally
// (proxy.max_inflight) and per service (baton.max_inflight), so that ten
// times the load a backend can take costs baton a bounded number of
// goroutines, buffers and upstream connections instead of a queue that grows
// until memory runs out. Beyond the bound a request is answered at once with
// 503 and Retry-After (RFC 9110 §15.6.4, §10.2.3), as nginx's limit_conn
// does; counted as baton_requests_shed_total{reason}. Held requests (a
// Compose recreate, baton.hold) are in flight too: the bound covers them.
//
// The cost on the hot path is one atomic add and one atomic subtract per
// bound that is set: no lock, nothing when no bound is configured.

// Shed reasons, the values of baton_requests_shed_total's reason label.
const (
	ShedGlobal  = "global"  // proxy.max_inflight
	ShedService = "service" // baton.max_inflight
)

// ShedCounter counts shed requests by reason (ShedGlobal, ShedService).
type ShedCounter interface {
	Shed(reason string)
}

type nopShed struct{}

func (nopShed) Shed(string) {}

// inflightLimit is a bound on requests in flight; the zero max is no bound.
type inflightLimit struct {
	max int64
	n   *atomic.Int64
}

// acquire takes a place, or reports that the bound is reached. A caller that
// got true must release.
func (l inflightLimit) acquire() bool {
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
		return false
	}
	return true
}

func (l inflightLimit) release() { l.n.Add(-1) }

// shedMessage is the body of a shed answer: it names the setting that bounds it.
func shedMessage(what, setting string, max int64) string {
	return "too many requests in flight" + what + " (" + setting + " " + strconv.FormatInt(max, 10) + "); retry shortly"
}

// shed answers a request beyond a bound: 503 with Retry-After (writeError).
func shed(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusServiceUnavailable, msg)
}
