package drain

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"go.uber.org/zap"

	"github.com/batonproxy/baton/proxy"
)

// shardBits sets how many locks one target's cancel registry is spread over.
// A request picks its shard at random, so hundreds of goroutines hitting one
// target rarely meet on the same lock; the shard index travels in the token.
const (
	shardBits = 4
	shards    = 1 << shardBits
)

// Target is one target's traffic accounting. It implements proxy.TargetTracker.
// Begin and Finish are on every proxied request's path: they touch one atomic
// counter and one of the target's shard locks, and allocate nothing once the
// shard's slot table has grown to the concurrency it sees.
type Target struct {
	ID string

	inflight atomic.Int64
	_        [56]byte // keep the hot counter off the read-mostly flags' line

	// draining counts running drains; while it is non-zero Finish and
	// release poke wake when the target goes idle.
	draining atomic.Int32
	// closing counts drains past their bound: a request that begins then is
	// cancelled at once instead of reaching a target about to stop.
	closing atomic.Int32
	wake    chan struct{}

	shards [shards]shard

	upMu     sync.Mutex
	upgrades map[*upgrade]struct{}

	logger *zap.Logger
}

var _ proxy.TargetTracker = (*Target)(nil)

// slot holds one in-flight request's cancel func. A slot is freed only by
// Finish, never by a drain, so a token cannot be reused while its request
// still runs.
type slot struct {
	cancel    context.CancelCauseFunc
	inUse     bool
	cancelled bool  // cancelled by a drain; its Finish is not "finished on its own"
	nextFree  int32 // free list link, -1 ends the list
}

type shardState struct {
	mu        sync.Mutex
	slots     []slot
	freeHead  int32
	ended     uint64 // requests that finished without being cancelled
	cancelled uint64 // requests cancelled with ErrDraining
}

// shard pads its state to its own cache lines so that locks of neighbouring
// shards do not share one.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

type upgrade struct{ conn proxy.LongLived }

func newTarget(id string, logger *zap.Logger) *Target {
	t := &Target{ID: id, upgrades: map[*upgrade]struct{}{}, wake: make(chan struct{}, 1), logger: logger}
	for i := range t.shards {
		t.shards[i].freeHead = -1
	}
	return t
}

// Begin records a request about to be sent to the target. During the last
// phase of a drain (past its bound) the request is cancelled at once with
// ErrDraining, which the proxy answers 503.
func (t *Target) Begin(cancel context.CancelCauseFunc) uint64 {
	t.inflight.Add(1)
	si := rand.Uint32() & (shards - 1)
	s := &t.shards[si]
	s.mu.Lock()
	i := s.freeHead
	if i >= 0 {
		s.freeHead = s.slots[i].nextFree
	} else {
		i = int32(len(s.slots))
		s.slots = append(s.slots, slot{})
	}
	closing := t.closing.Load() > 0
	s.slots[i] = slot{cancel: cancel, inUse: true, cancelled: closing, nextFree: -1}
	if closing {
		s.cancelled++
	}
	s.mu.Unlock()
	if closing && cancel != nil {
		cancel(ErrDraining)
	}
	// Slot index + 1 so that the zero token (a no-op tracker's) never names a slot.
	return uint64(i+1)<<shardBits | uint64(si)
}

// Finish records the end of the request Begin returned tok for. An unknown
// or already finished token is ignored.
func (t *Target) Finish(tok uint64) {
	s := &t.shards[tok&(shards-1)]
	i := int64(tok>>shardBits) - 1
	s.mu.Lock()
	if i < 0 || i >= int64(len(s.slots)) || !s.slots[i].inUse {
		s.mu.Unlock()
		return
	}
	sl := &s.slots[i]
	if !sl.cancelled {
		s.ended++
	}
	*sl = slot{nextFree: s.freeHead}
	s.freeHead = int32(i)
	s.mu.Unlock()
	if t.inflight.Add(-1) == 0 && t.draining.Load() > 0 {
		t.poke()
	}
}

// Upgraded registers a relayed upgraded connection; the returned func
// deregisters it and may be called more than once.
func (t *Target) Upgraded(c proxy.LongLived) func() {
	u := &upgrade{conn: c}
	t.upMu.Lock()
	t.upgrades[u] = struct{}{}
	t.upMu.Unlock()
	return func() {
		t.upMu.Lock()
		delete(t.upgrades, u)
		idle := len(t.upgrades) == 0
		t.upMu.Unlock()
		if idle && t.draining.Load() > 0 {
			t.poke()
		}
	}
}

// poke wakes a waiting drain without blocking; one pending wake is enough
// because the drain re-reads the counters after every wake.
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

func (t *Target) idle() bool { return t.inflight.Load() == 0 && t.Upgrades() == 0 }

// counts sums the per-shard tallies of requests that ended on their own and
// requests cancelled by a drain.
func (t *Target) counts() (ended, cancelled uint64) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		ended += s.ended
		cancelled += s.cancelled
		s.mu.Unlock()
	}
	return ended, cancelled
}

// cancelInFlight cancels every request still in flight with ErrDraining and
// returns how many it cancelled. The cancel funcs run outside the shard locks.
func (t *Target) cancelInFlight() int {
	var funcs []context.CancelCauseFunc
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for j := range s.slots {
			sl := &s.slots[j]
			if sl.inUse && !sl.cancelled {
				sl.cancelled = true
				s.cancelled++
				n++
				if sl.cancel != nil {
					funcs = append(funcs, sl.cancel)
				}
			}
		}
		s.mu.Unlock()
	}
	for _, cancel := range funcs {
		cancel(ErrDraining)
	}
	return n
}
