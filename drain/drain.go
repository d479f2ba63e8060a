package drain

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/batonproxy/baton/proxy"
)

// ErrDraining is the cause in-flight requests are cancelled with at the drain
// bound. It is the proxy's own sentinel, so the proxy's error handler
// recognises it with errors.Is and answers 503.
var ErrDraining = proxy.ErrDraining

const (
	// settleMax is how long a drain waits, after cancelling, for cancelled
	// requests and ended connections to unwind, so its report counts them as
	// gone rather than still in flight.
	settleMax = time.Second
	// endUpgradesMax bounds the wait for EndGracefully calls: a peer that
	// never reads must not hold the retirement of a container.
	endUpgradesMax = 5 * time.Second
)

// DrainReport says how a drain went.
type DrainReport struct {
	Waited         time.Duration
	Finished       int // requests that completed on their own during the drain
	Cancelled      int // requests cancelled with ErrDraining (answered 503)
	UpgradesClosed int // upgraded connections ended with a going-away close
	// Aborted is true when ctx ended before the target went idle and before
	// the bound: nothing was cancelled, the target may still serve traffic.
	Aborted bool
}

type waitOutcome int

const (
	wentIdle waitOutcome = iota
	reachedBound
	aborted
)

// Drain waits until the target has no request in flight and no upgraded
// connection, or until bound. At the bound it cancels the remaining requests
// with ErrDraining, ends upgraded connections gracefully (WebSocket 1001), and
// waits up to a second for them to unwind. Requests that begin during the
// drain (sticky sessions pinned to this target) are waited for and counted;
// those that begin after the bound are cancelled at once.
//
// When ctx ends first the drain stops waiting and cancels nothing: cancelling
// requests is only right once the bound has passed.
func (t *Target) Drain(ctx context.Context, bound time.Duration) DrainReport {
	start := time.Now()
	t.draining.Add(1)
	defer t.draining.Add(-1)
	ended0, cancelled0 := t.counts()

	var rep DrainReport
	timer := time.NewTimer(bound)
	defer timer.Stop()
	switch t.waitIdle(ctx, timer.C) {
	case aborted:
		rep.Aborted = true
	case reachedBound:
		t.closing.Add(1)
		defer t.closing.Add(-1)
		t.cancelInFlight()
		rep.UpgradesClosed = t.endUpgrades()
		settle := time.NewTimer(settleMax)
		defer settle.Stop()
		t.waitIdle(ctx, settle.C)
	}

	ended1, cancelled1 := t.counts()
	rep.Finished = int(ended1 - ended0)
	rep.Cancelled = int(cancelled1 - cancelled0)
	rep.Waited = time.Since(start)
	t.log().Debug("target drained", zap.String("target", t.ID), zap.Duration("waited", rep.Waited),
		zap.Int("finished", rep.Finished), zap.Int("cancelled", rep.Cancelled),
		zap.Int("upgrades_closed", rep.UpgradesClosed), zap.Bool("aborted", rep.Aborted))
	return rep
}

// waitIdle blocks until the target is idle, timeout fires or ctx ends. It is
// woken by Finish and by upgrade releases, never by polling.
func (t *Target) waitIdle(ctx context.Context, timeout <-chan time.Time) waitOutcome {
	for !t.idle() {
		select {
		case <-t.wake:
		case <-timeout:
			return reachedBound
		case <-ctx.Done():
			return aborted
		}
	}
	// Pass the wake on: another drain of the same target may be waiting too.
	t.poke()
	return wentIdle
}

// endUpgrades calls EndGracefully on every open upgraded connection, in
// parallel, and waits for them up to endUpgradesMax. It returns how many it ended.
func (t *Target) endUpgrades() int {
	t.upMu.Lock()
	conns := make([]proxy.LongLived, 0, len(t.upgrades))
	for u := range t.upgrades {
		conns = append(conns, u.conn)
	}
	t.upMu.Unlock()
	if len(conns) == 0 {
		return 0
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			defer t.recoverPanic("end upgraded connection")
			c.EndGracefully()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	limit := time.NewTimer(endUpgradesMax)
	defer limit.Stop()
	select {
	case <-done:
	case <-limit.C:
		// The stragglers' goroutines end when their EndGracefully returns.
		t.log().Warn("upgraded connections still ending after the limit", zap.String("target", t.ID),
			zap.Duration("limit", endUpgradesMax))
	}
	return len(conns)
}

func (t *Target) recoverPanic(what string) {
	if v := recover(); v != nil {
		t.log().Error("panic in drain", zap.String("what", what), zap.String("target", t.ID),
			zap.Any("panic", v), zap.Stack("stack"))
	}
}

func (t *Target) log() *zap.Logger {
	if t.logger == nil {
		return zap.NewNop()
	}
	return t.logger
}
