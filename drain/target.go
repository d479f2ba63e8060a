// Package drain accounts for the traffic each target serves (in-flight
// requests, upgraded connections) and retires a target without cutting it:
// wait for in-flight work up to a bound, cancel what outlives it with a clear
// cause, end WebSockets with 1001, then run the pre-stop hook, SIGTERM, grace,
// SIGKILL.
package drain

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// ErrDraining is the cause in-flight requests are cancelled with at the drain
// bound; the proxy answers them 503.
var ErrDraining = proxy.ErrDraining

// shards spread the cancel registry of one target over several locks, so that
// many concurrent requests to one target rarely contend.
const shards = 16

type shard struct {
	mu   sync.Mutex
	reqs map[uint64]context.CancelCauseFunc
	_    [40]byte // keep shards on separate cache lines
}

// Target is one target's traffic accounting. It implements proxy.TargetTracker.
type Target struct {
	ID string

	inflight atomic.Int64
	seq      atomic.Uint64
	shards   [shards]shard

	upMu     sync.Mutex
	upgrades map[*upgrade]struct{}

	draining atomic.Bool
	wake     chan struct{} // poked when work ends while draining
}

type upgrade struct{ conn proxy.LongLived }

var _ proxy.TargetTracker = (*Target)(nil)

func newTarget(id string) *Target {
	t := &Target{ID: id, upgrades: map[*upgrade]struct{}{}, wake: make(chan struct{}, 1)}
	for i := range t.shards {
		t.shards[i].reqs = map[uint64]context.CancelCauseFunc{}
	}
	return t
}

// Begin records a request about to be sent to the target.
func (t *Target) Begin(cancel context.CancelCauseFunc) uint64 {
	t.inflight.Add(1)
	tok := t.seq.Add(1)
	s := &t.shards[tok%shards]
	s.mu.Lock()
	s.reqs[tok] = cancel
	s.mu.Unlock()
	return tok
}

// Finish records the end of the request Begin returned tok for.
func (t *Target) Finish(tok uint64) {
	s := &t.shards[tok%shards]
	s.mu.Lock()
	delete(s.reqs, tok)
	s.mu.Unlock()
	t.inflight.Add(-1)
	if t.draining.Load() {
		t.poke()
	}
}

// Upgraded registers a relayed upgraded connection.
func (t *Target) Upgraded(c proxy.LongLived) func() {
	u := &upgrade{conn: c}
	t.upMu.Lock()
	t.upgrades[u] = struct{}{}
	t.upMu.Unlock()
	return func() {
		t.upMu.Lock()
		delete(t.upgrades, u)
		t.upMu.Unlock()
		if t.draining.Load() {
			t.poke()
		}
	}
}

func (t *Target) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// InFlight is the number of requests in flight.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Upgrades is the number of open upgraded connections.
func (t *Target) Upgrades() int {
	t.upMu.Lock()
	defer t.upMu.Unlock()
	return len(t.upgrades)
}

// Report says how a drain went.
type Report struct {
	Waited         time.Duration
	Finished       int // requests that completed on their own during the drain
	Cancelled      int // requests cancelled at the bound (answered 503)
	UpgradesClosed int // upgraded connections ended with a going-away close
}

// Drain waits until the target has no request in flight and no upgraded
// connection, or until bound; then cancels what is left with ErrDraining and
// ends upgraded connections gracefully. Requests that begin during the drain
// (sticky sessions) are waited for too.
func (t *Target) Drain(ctx context.Context, bound time.Duration) Report {
	start := time.Now()
	t.draining.Store(true)
	defer t.draining.Store(false)
	startSeq, startInflight := t.seq.Load(), t.inflight.Load()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	var rep Report
	for t.inflight.Load() > 0 || t.Upgrades() > 0 {
		select {
		case <-t.wake:
			continue
		case <-ctx.Done():
		case <-timer.C:
		}
		rep.Cancelled = t.cancelAll()
		rep.UpgradesClosed = t.endUpgrades()
		t.settle(time.Second)
		break
	}
	begun := int(t.seq.Load()-startSeq) + int(startInflight)
	rep.Finished = begun - rep.Cancelled - int(t.inflight.Load())
	if rep.Finished < 0 {
		rep.Finished = 0
	}
	rep.Waited = time.Since(start)
	return rep
}

func (t *Target) cancelAll() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for tok, cancel := range s.reqs {
			cancel(ErrDraining)
			delete(s.reqs, tok)
			n++
		}
		s.mu.Unlock()
	}
	return n
}

func (t *Target) endUpgrades() int {
	t.upMu.Lock()
	conns := make([]proxy.LongLived, 0, len(t.upgrades))
	for u := range t.upgrades {
		conns = append(conns, u.conn)
	}
	t.upMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.EndGracefully()
		}()
	}
	wg.Wait()
	return len(conns)
}

// settle gives cancelled requests a moment to unwind, so the record counts
// them as ended rather than still in flight.
func (t *Target) settle(max time.Duration) {
	deadline := time.Now().Add(max)
	for t.inflight.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-t.wake:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Registry hands out one Target per id.
type Registry struct {
	mu      sync.Mutex
	targets map[string]*Target
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{targets: map[string]*Target{}} }

// For returns the accounting of id, creating it on first use.
func (r *Registry) For(id string) *Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.targets[id]
	if !ok {
		t = newTarget(id)
		r.targets[id] = t
	}
	return t
}

// Forget drops id once its container is gone.
func (r *Registry) Forget(id string) {
	r.mu.Lock()
	delete(r.targets, id)
	r.mu.Unlock()
}
