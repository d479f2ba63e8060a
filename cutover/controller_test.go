package cutover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// fakeGater passes or fails containers on the test's word.
type fakeGater struct {
	mu      sync.Mutex
	results map[string]chan error
}

func newFakeGater() *fakeGater { return &fakeGater{results: map[string]chan error{}} }

func (g *fakeGater) ch(id string) chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.results[id] == nil {
		g.results[id] = make(chan error, 1)
	}
	return g.results[id]
}

func (g *fakeGater) Gate(ctx context.Context, in upstream.Instance, _ GateOptions) error {
	select {
	case err := <-g.ch(in.ID):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func inst(id, service, version, addr string, started int) upstream.Instance {
	return upstream.Instance{ID: id, Name: id, Service: service, Version: version, Addr: addr, Running: true,
		StartedAt: time.Unix(int64(started), 0), Spec: upstream.Spec{Service: service, Hosts: []string{service + ".test"}, Path: "/"}}
}

func liveAddrs(t *testing.T, r *proxy.Router, host string) []string {
	t.Helper()
	route := r.Table().Lookup(host, "/")
	if route == nil {
		return nil
	}
	var out []string
	for _, tg := range route.Targets {
		out = append(out, tg.Addr)
	}
	return out
}

func waitAddrs(t *testing.T, r *proxy.Router, host string, want ...string) {
	t.Helper()
	testutil.EventuallyNil(t, host+"'s targets", func() error {
		if got := liveAddrs(t, r, host); !equalSets(got, want) {
			return fmt.Errorf("%v, want %v", got, want)
		}
		return nil
	})
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func newTestController(t *testing.T) (*Controller, *proxy.Router, *fakeGater) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	g := newFakeGater()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return NewController(ctx, sb, g, ControllerOptions{}), router, g
}

func TestReplicaJoinsOnlyAfterGate(t *testing.T) {
	c, router, g := newTestController(t)
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	if got := liveAddrs(t, router, "web.test"); len(got) != 0 {
		t.Fatalf("routed before the gate: %v", got)
	}
	g.ch("a") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	b := inst("b", "web", "v1", "10.0.0.2:80", 2)
	c.Update([]upstream.Instance{a, b})
	waitAddrs(t, router, "web.test", "10.0.0.1:80") // b not yet ready
	g.ch("b") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80", "10.0.0.2:80")

	// A stopping container leaves at once, before it exits.
	b.Stopping = true
	c.Update([]upstream.Instance{a, b})
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
}

func TestFailedGateNeverRoutedAndReported(t *testing.T) {
	c, router, g := newTestController(t)
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	g.ch("a") <- errors.New("not ready within 1s")
	testutil.Eventually(t, "a problem reported", func() bool { return len(c.Problems()) != 0 })
	if p := c.Problems(); len(p) != 1 || p[0].Container != "a" {
		t.Fatalf("problems = %+v", p)
	}
	if got := liveAddrs(t, router, "web.test"); len(got) != 0 {
		t.Fatalf("failed container routed: %v", got)
	}
}

func TestOtherVersionWaitsWhileLiveVersionServes(t *testing.T) {
	c, router, g := newTestController(t)
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	g.ch("a") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	// A container of another version is not mixed into the live pool.
	n := inst("n", "web", "v2", "10.0.0.9:80", 5)
	c.Update([]upstream.Instance{a, n})
	g.ch("n") <- nil
	// The gate's verdict and its publish are one step under the
	// controller's lock: once n no longer gates, the table says it all.
	testutil.Eventually(t, "n's gate to pass", func() bool { _, gating := c.Gating()["n"]; return !gating })
	if got := liveAddrs(t, router, "web.test"); !equalSets(got, []string{"10.0.0.1:80"}) {
		t.Fatalf("web.test targets = %v: a ready container of another version was mixed into the live pool", got)
	}

	// When the old one is gone (a Compose recreate), the ready new version takes over.
	c.Update([]upstream.Instance{n})
	waitAddrs(t, router, "web.test", "10.0.0.9:80")

	// A service with no container left keeps its host: 503, not 404.
	c.Update(nil)
	waitAddrs(t, router, "web.test")
	if router.Table().Lookup("web.test", "/") == nil {
		t.Fatal("host dropped from the table when its last container left")
	}
}

func TestSwitchMovesTrafficAndKeepsOldDraining(t *testing.T) {
	c, router, g := newTestController(t)
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	g.ch("a") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	release, ok := c.Claim("web")
	if !ok {
		t.Fatal("claim refused")
	}
	if _, again := c.Claim("web"); again {
		t.Fatal("second claim accepted while a deploy runs")
	}
	n := inst("n", "web", "v2", "10.0.0.9:80", 5)
	c.Update([]upstream.Instance{a, n}) // claimed: the controller does not gate n itself
	c.Switch("web", "v2", []upstream.Instance{n}, []string{"a"})
	waitAddrs(t, router, "web.test", "10.0.0.9:80")
	route := router.Table().Lookup("web.test", "/")
	if len(route.Draining) != 1 || route.Draining[0].Addr != "10.0.0.1:80" {
		t.Fatalf("draining = %v, want the old container", route.Draining)
	}
	c.Retiring([]string{"a"})
	if route := router.Table().Lookup("web.test", "/"); len(route.Draining) != 0 {
		t.Fatal("old container still draining once retiring")
	}
	release()
	if v, live := c.Live("web"); v != "v2" || len(live) != 1 || live[0].ID != "n" {
		t.Fatalf("Live = %s %v", v, live)
	}
}

// The provider's view is a few events behind a deploy's stop: a container
// the deploy retired, still listed running after the deploy let the service
// go, is not taken for a new version to adopt.
func TestRetiredContainerStillListedIsNotAdopted(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	g := newFakeGater()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := NewController(ctx, sb, g, ControllerOptions{Adopt: true})
	a := inst("a", "web", "v1", "10.0.0.1:80", 1)
	c.Update([]upstream.Instance{a})
	c.Update([]upstream.Instance{a}) // started: later versions are adopted
	g.ch("a") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")

	release, _ := c.Claim("web")
	n := inst("n", "web", "v2", "10.0.0.9:80", 5)
	c.Update([]upstream.Instance{a, n})
	c.Switch("web", "v2", []upstream.Instance{n}, []string{"a"})
	c.Retiring([]string{"a"})
	release()
	c.Update([]upstream.Instance{a, n}) // a: stopped, but not yet seen so
	c.mu.Lock()
	adopting := c.adopting["a"]
	c.mu.Unlock()
	if adopting {
		t.Fatal("container a handed over for adoption after its deploy retired it")
	}
	c.Update([]upstream.Instance{n})
	if c.retired["a"] {
		t.Fatal("a retired container is remembered after the provider stopped listing it")
	}
	// A container of another version that appears later still is adopted.
	m := inst("m", "web", "v3", "10.0.0.7:80", 9)
	c.Update([]upstream.Instance{n, m})
	select {
	case a := <-c.Adoptions():
		if a.Service != "web" || len(a.Fresh) != 1 || a.Fresh[0].ID != "m" {
			t.Fatalf("adoption %+v, want web's m", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a new version that appeared on its own was not adopted")
	}
}

// A burst of container changes in one view (a Compose down, say) costs one
// route table and one durable write; a view that changes nothing, none.
func TestOneViewIsOnePublishAndOneWrite(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	sb.persistPath = t.TempDir() + "/routes.json"
	g := newFakeGater()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := NewController(ctx, sb, g, ControllerOptions{})
	var all []upstream.Instance
	for i := 0; i < 9; i++ {
		service := []string{"web", "api", "admin"}[i%3]
		all = append(all, inst(fmt.Sprintf("c%d", i), service, "v1", fmt.Sprintf("10.0.0.%d:80", i+1), i))
	}
	c.Update(all)
	for _, in := range all {
		g.ch(in.ID) <- nil
	}
	for _, s := range []string{"web", "api", "admin"} {
		waitAddrs(t, router, s+".test", addrsOf(all, s)...)
	}
	counts := func() (int, int) {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		return sb.publishes, sb.saves
	}
	p0, w0 := counts()
	c.Update(all[:3]) // six containers of three services gone at once
	p1, w1 := counts()
	if p1-p0 != 1 || w1-w0 != 1 {
		t.Fatalf("one view with six containers gone: %d tables and %d writes, want 1 and 1", p1-p0, w1-w0)
	}
	for _, s := range []string{"web", "api", "admin"} {
		waitAddrs(t, router, s+".test", addrsOf(all[:3], s)...)
	}
	c.Update(all[:3]) // the same view again
	if p2, w2 := counts(); p2 != p1 || w2 != w1 {
		t.Fatalf("a view that changed nothing published %d tables and %d writes", p2-p1, w2-w1)
	}
}

func addrsOf(ins []upstream.Instance, service string) []string {
	var out []string
	for _, in := range ins {
		if in.Service == service {
			out = append(out, in.Addr)
		}
	}
	return out
}
