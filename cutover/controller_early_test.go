package cutover

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/health"
	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// heldGater hands each gate's options to the test, which plays the rounds
// (opts.Alone, opts.Progress) and ends the gate with finish.
type heldGater struct {
	mu    sync.Mutex
	gates map[string][]*heldGate
}

type heldGate struct {
	ctx    context.Context
	opts   GateOptions
	result chan error
}

func (g *heldGater) Gate(ctx context.Context, in upstream.Instance, opts GateOptions) error {
	hg := &heldGate{ctx: ctx, opts: opts, result: make(chan error, 1)}
	g.mu.Lock()
	g.gates[in.ID] = append(g.gates[in.ID], hg)
	g.mu.Unlock()
	select {
	case err := <-hg.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate waits for the n-th gate (1-based) of id.
func (g *heldGater) gate(t *testing.T, id string, n int) *heldGate {
	t.Helper()
	var gs []*heldGate
	testutil.EventuallyNil(t, id+"'s gates", func() error {
		g.mu.Lock()
		gs = g.gates[id]
		g.mu.Unlock()
		if len(gs) < n {
			return fmt.Errorf("%d started, want %d", len(gs), n)
		}
		return nil
	})
	return gs[n-1]
}

func (g *heldGater) count(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.gates[id])
}

// round plays one gate round the way HealthGater does: Alone is asked, then
// Progress says Serving when the answer was good and the service alone.
func (hg *heldGate) round(good bool) (alone bool) {
	alone = hg.opts.Alone != nil && hg.opts.Alone()
	hg.opts.Progress(Progress{Container: "x", Need: 30 * time.Second, Serving: good && alone})
	return alone
}

func newEarlyController(t *testing.T) (*Controller, *proxy.Router, *heldGater) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	g := &heldGater{gates: map[string][]*heldGate{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return NewController(ctx, sb, g, ControllerOptions{}), router, g
}

func TestRecreateRoutesTheNewContainerAtItsFirstGoodAnswer(t *testing.T) {
	c, router, g := newEarlyController(t)
	c.Update(nil) // baton's start: later containers get the full gate
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	g.gate(t, "a", 1).result <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	// docker compose up -d: the old container is stopped first, then the new one starts.
	c.Update(nil)
	waitAddrs(t, router, "web.test")
	b := inst("b", "web", "v2", "10.0.0.2:80", 2)
	c.Update([]upstream.Instance{b})
	gb := g.gate(t, "b", 1)
	if alone := gb.round(false); !alone {
		t.Fatal("b is the service's only container, yet not alone")
	}
	waitAddrs(t, router, "web.test") // not answering yet: not routed
	gb.round(true)
	waitAddrs(t, router, "web.test", "10.0.0.2:80") // first good answer: routed, window still running
	if p, ok := c.Gating()["b"]; !ok || !p.Serving {
		t.Fatalf("gating = %+v: b's gate must still run while it serves early", c.Gating())
	}

	gb.round(false) // readiness lost: out again, requests hold
	waitAddrs(t, router, "web.test")
	gb.round(true)
	waitAddrs(t, router, "web.test", "10.0.0.2:80")

	gb.result <- nil // min_healthy held
	testutil.Eventually(t, "no gate left after the gate passed", func() bool { return len(c.Gating()) == 0 })
	waitAddrs(t, router, "web.test", "10.0.0.2:80")
	if v, live := c.Live("web"); v != "v2" || len(live) != 1 {
		t.Fatalf("live %s %v", v, live)
	}
}

func TestScaleUpBesideALiveTargetHoldsTheWholeWindow(t *testing.T) {
	c, router, g := newEarlyController(t)
	c.Update(nil)
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	g.gate(t, "a", 1).result <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	b := inst("b", "web", "v1", "10.0.0.2:80", 2)
	c.Update([]upstream.Instance{a, b})
	if alone := g.gate(t, "b", 1).round(true); alone {
		t.Fatal("b is alone although a serves")
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
}

func TestEarlyRoutedContainerThatCrashLoopsIsRefused(t *testing.T) {
	c, router, g := newEarlyController(t)
	c.Update(nil)
	b := inst("b", "web", "v2", "10.0.0.2:80", 2)
	c.Update([]upstream.Instance{b})
	gb := g.gate(t, "b", 1)
	gb.round(true)
	waitAddrs(t, router, "web.test", "10.0.0.2:80")

	// It crashes: Docker's die drops it from the provider's view; the
	// restart policy brings the same container back.
	c.Update(nil)
	waitAddrs(t, router, "web.test")
	if gb.ctx.Err() != nil {
		t.Fatal("the gate of a died container was canceled: its restarts would never be counted")
	}
	c.Update([]upstream.Instance{b})
	if n := g.count("b"); n != 1 {
		t.Fatalf("%d gates for b: the one watching its restarts must go on", n)
	}
	gb.round(true)
	waitAddrs(t, router, "web.test", "10.0.0.2:80")

	c.Update(nil) // dies again; the gate sees the 4th restart
	gb.result <- &health.GateError{Cause: health.CauseCrashLoop, Msg: "crash loop: 4 restarts in 60s"}
	testutil.Eventually(t, "the crash-looped gate to end", func() bool { return len(c.Gating()) == 0 })
	c.Update([]upstream.Instance{b}) // and comes back once more
	waitAddrs(t, router, "web.test")
	if n := g.count("b"); n != 1 {
		t.Fatalf("a crash-looped container was gated (and would be routed) again: %d gates", n)
	}
	if p := c.Problems(); len(p) != 1 || p[0].Container != "b" || p[0].Error != "not ready: crash loop: 4 restarts in 60s" {
		t.Fatalf("problems = %+v", p)
	}
}
