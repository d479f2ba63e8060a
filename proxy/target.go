package proxy

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/internal/upstreamconn"
)

// Target is one upstream address. A Target outlives the tables that point at it, so
// its keep-alive pool survives route changes; when it leaves for good, Close drops
// its idle connections.
type Target struct {
	ID      string // container ID, or "static:" + address
	Addr    string // host:port
	Version string // release fingerprint it serves, if known

	tracker  TargetTracker
	client   *upstreamconn.Client
	inflight atomic.Int64
	// refusedUntil is a unix-nano instant before which round-robin skips this
	// target because it refused a connection; zero means healthy.
	refusedUntil atomic.Int64

	stickyOnce sync.Once
	sticky     string
}

// TransportOptions tune the per-target upstream connection pool: DialTimeout
// (default 5s), ResponseHeaderTimeout (60s), IdleConnTimeout (90s),
// MaxIdleConns (512).
type TransportOptions = upstreamconn.Options

// NewTarget creates a target with its own connection pool. tracker may be nil.
func NewTarget(id, addr string, tracker TargetTracker, o TransportOptions) *Target {
	if tracker == nil {
		tracker = nopTracker{}
	}
	return &Target{
		ID:      id,
		Addr:    addr,
		tracker: tracker,
		client:  upstreamconn.New(addr, o),
	}
}

// SetTracker replaces the tracker; the drain package takes a target over this way.
// It must be called before the target is put in a table.
func (t *Target) SetTracker(tr TargetTracker) { t.tracker = tr }

// InFlight is the number of requests the proxy has sent to the target and not finished.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Close drops the target's idle upstream connections. In-flight requests finish.
func (t *Target) Close() { t.client.CloseIdle() }

func (t *Target) begin(cancel context.CancelCauseFunc) uint64 {
	t.inflight.Add(1)
	return t.tracker.Begin(cancel)
}

func (t *Target) finish(token uint64) {
	t.tracker.Finish(token)
	t.inflight.Add(-1)
}

// stickyValue is the opaque cookie value that pins a session to this target.
func (t *Target) stickyValue() string {
	t.stickyOnce.Do(func() {
		sum := fnv.New64a()
		sum.Write([]byte(t.ID))
		t.sticky = strconv.FormatUint(sum.Sum64(), 36)
	})
	return t.sticky
}

// refusedBackoff is how long a target that refused a connection is skipped.
const refusedBackoff = time.Second

func (t *Target) markRefused(now time.Time) {
	t.refusedUntil.Store(now.Add(refusedBackoff).UnixNano())
}

func (t *Target) available(nowNano int64) bool {
	u := t.refusedUntil.Load()
	return u == 0 || nowNano >= u
}

// Targets is a registry that hands out one Target per id, so that tables built
// at different times share pools and in-flight accounting.
type Targets struct {
	mu      sync.Mutex
	byID    map[string]*Target
	options TransportOptions
}

// NewTargets returns an empty registry whose targets use o.
func NewTargets(o TransportOptions) *Targets {
	return &Targets{byID: make(map[string]*Target), options: o}
}

// Get returns the target for id, creating it at addr if needed. A known id whose
// address changed (a container reconnected to another network) gets a new Target.
func (r *Targets) Get(id, addr string, tracker func() TargetTracker) *Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.byID[id]; ok && t.Addr == addr {
		return t
	}
	var tr TargetTracker
	if tracker != nil {
		tr = tracker()
	}
	t := NewTarget(id, addr, tr, r.options)
	r.byID[id] = t
	return t
}

// Remove forgets id and closes its idle connections.
func (r *Targets) Remove(id string) {
	r.mu.Lock()
	t, ok := r.byID[id]
	delete(r.byID, id)
	r.mu.Unlock()
	if ok {
		t.Close()
	}
}

// Each calls fn for every known target (metrics scrape).
func (r *Targets) Each(fn func(*Target)) {
	r.mu.Lock()
	ts := make([]*Target, 0, len(r.byID))
	for _, t := range r.byID {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	for _, t := range ts {
		fn(t)
	}
}
