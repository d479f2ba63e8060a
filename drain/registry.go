package drain

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Registry hands out one Target per target id, so the proxy's route tables
// and a deploy's drain see the same accounting.
type Registry struct {
	// Logger is used by the targets created after it is set; nil logs nothing.
	Logger *zap.Logger

	mu      sync.RWMutex
	targets map[string]*Target
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{targets: map[string]*Target{}} }

// For returns the accounting of id, creating it on first use; the same id
// gives the same *Target until Forget.
func (r *Registry) For(id string) *Target {
	r.mu.RLock()
	t, ok := r.targets[id]
	r.mu.RUnlock()
	if ok {
		return t
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.targets[id]; ok {
		return t
	}
	if r.targets == nil {
		r.targets = map[string]*Target{}
	}
	logger := r.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	t = newTarget(id, logger.Named("drain"))
	r.targets[id] = t
	return t
}

// ForgetIdle drops id unless a request, an upgraded connection or a drain is
// still running on it (then a later drain must find the same accounting); it
// reports whether it did.
func (r *Registry) ForgetIdle(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.targets[id]
	if !ok {
		return true
	}
	if t.inflight.Load() != 0 || t.draining.Load() != 0 {
		return false
	}
	t.upMu.Lock()
	upgrades := len(t.upgrades)
	t.upMu.Unlock()
	if upgrades != 0 {
		return false
	}
	delete(r.targets, id)
	return true
}

// Forget drops id once its container is gone. A Target handed out before
// keeps working for whoever holds it; the next For(id) starts afresh.
func (r *Registry) Forget(id string) {
	r.mu.Lock()
	delete(r.targets, id)
	r.mu.Unlock()
}

// DrainAll drains every target at once with bound, as Drain does one: what
// this process still carries when it stops (an upgrade hands the sockets to
// the next process, which takes the new requests). In-flight requests finish
// until the bound; then they are cancelled and upgraded connections ended
// with a WebSocket 1001 close. The reports are summed.
func (r *Registry) DrainAll(ctx context.Context, bound time.Duration) DrainReport {
	r.mu.RLock()
	targets := make([]*Target, 0, len(r.targets))
	for _, t := range r.targets {
		targets = append(targets, t)
	}
	r.mu.RUnlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var sum DrainReport
	for _, t := range targets {
		wg.Go(func() {
			rep := t.Drain(ctx, bound)
			mu.Lock()
			defer mu.Unlock()
			sum.Waited = max(sum.Waited, rep.Waited)
			sum.Finished += rep.Finished
			sum.Cancelled += rep.Cancelled
			sum.UpgradesClosed += rep.UpgradesClosed
			sum.Aborted = sum.Aborted || rep.Aborted
		})
	}
	wg.Wait()
	return sum
}

// Upgrades reports the upgraded connections open on id, without creating its
// accounting (a status read must not keep a gone target's entry alive).
func (r *Registry) Upgrades(id string) int {
	r.mu.RLock()
	t, ok := r.targets[id]
	r.mu.RUnlock()
	if !ok {
		return 0
	}
	return t.Upgrades()
}
