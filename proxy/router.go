package proxy

import (
	"context"
	"sync"
	"sync/atomic"
)

// Router holds the current Table behind one atomic pointer: a reader loads it once
// per request, a writer (a reload, a Docker event, a cutover) builds a whole new
// table and stores it. Nothing on the request path locks.
type Router struct {
	table atomic.Pointer[Table]

	// changed is closed and replaced on every Store, so requests holding for a
	// ready target (a Compose recreate) wake up as soon as a table has one.
	mu      sync.Mutex
	changed chan struct{}

	metrics Metrics

	// inflight is each bounded service's count of requests in flight
	// (Route.MaxInflight). It outlives tables: a request counted in one
	// table is released into the same count after the next Store.
	inflight map[string]*atomic.Int64
}

// NewRouter returns a router serving an empty table. m may be nil.
func NewRouter(m Metrics) *Router {
	r := &Router{changed: make(chan struct{}), metrics: m}
	empty, _ := NewTable(nil)
	r.table.Store(empty)
	return r
}

// Table returns the table in force.
func (r *Router) Table() *Table { return r.table.Load() }

// Store makes t the table in force for every request that starts after it.
func (r *Router) Store(t *Table) {
	if r.metrics != nil {
		for _, rt := range t.routes {
			rt.observer = r.metrics.Route(rt.Service, rt.Host, rt.Path)
		}
	}
	r.mu.Lock()
	counts := make(map[string]*atomic.Int64, len(r.inflight))
	for _, rt := range t.routes {
		if rt.MaxInflight <= 0 {
			continue
		}
		n := counts[rt.Service]
		if n == nil {
			if n = r.inflight[rt.Service]; n == nil {
				n = new(atomic.Int64)
			}
			counts[rt.Service] = n
		}
		rt.inflight = inflightLimit{max: rt.MaxInflight, n: n}
	}
	r.inflight = counts
	r.mu.Unlock()
	r.table.Store(t)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// waitChange blocks until the next Store or until ctx ends.
func (r *Router) waitChange(ctx context.Context, seen *Table) bool {
	r.mu.Lock()
	ch := r.changed
	r.mu.Unlock()
	if r.table.Load() != seen {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// Changed returns a channel closed by the next Store. Take it before reading
// the table, so that no Store between the two is missed.
func (r *Router) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}
