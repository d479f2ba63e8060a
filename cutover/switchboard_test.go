package cutover

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func knownTargets(r *proxy.Targets) string {
	var ids []string
	r.Each(func(t *proxy.Target) { ids = append(ids, t.ID) })
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// A retired or vanished target leaves neither its pool nor its drain
// accounting behind; a draining one is kept until its drain ends, and a busy
// one is asked about again at the next publish.
func TestSwitchboardForgetsUnreferencedTargets(t *testing.T) {
	targets := proxy.NewTargets(proxy.TransportOptions{})
	busy := map[string]bool{}
	var forgotten []string
	sb := NewSwitchboard(proxy.NewRouter(nil), targets, fakeAccounting{forget: func(id string) bool {
		if busy[id] {
			return false
		}
		forgotten = append(forgotten, id)
		return true
	}}, nil)
	routing := Routing{Hosts: []string{"web.test"}, Path: "/"}
	sb.Set(ServiceRoutes{Name: "web", Routing: routing, Live: []Endpoint{{ID: "old", Addr: "127.0.0.1:1"}}})
	// The switch: old drains.
	sb.Set(ServiceRoutes{Name: "web", Routing: routing, Live: []Endpoint{{ID: "new", Addr: "127.0.0.1:2"}}, Draining: []Endpoint{{ID: "old", Addr: "127.0.0.1:1"}}})
	if got := knownTargets(targets); got != "new,old" || len(forgotten) != 0 {
		t.Fatalf("while draining: targets %s, forgotten %v", got, forgotten)
	}
	// The drain ends while a request still runs on old.
	busy["old"] = true
	sb.Set(ServiceRoutes{Name: "web", Routing: routing, Live: []Endpoint{{ID: "new", Addr: "127.0.0.1:2"}}})
	if got := knownTargets(targets); got != "new" || len(forgotten) != 0 {
		t.Fatalf("after the drain: targets %s, forgotten %v", got, forgotten)
	}
	busy["old"] = false
	sb.Set(ServiceRoutes{Name: "api", Routing: Routing{Hosts: []string{"api.test"}, Path: "/"}, Live: []Endpoint{{ID: "api1", Addr: "127.0.0.1:3"}}})
	if strings.Join(forgotten, ",") != "old" {
		t.Fatalf("forgotten %v, want old once idle", forgotten)
	}
	// A service removed entirely.
	sb.Remove("api")
	if got := knownTargets(targets); got != "new" || strings.Join(forgotten, ",") != "old,api1" {
		t.Fatalf("after removing api: targets %s, forgotten %v", got, forgotten)
	}
}

// Issue 13: a removed container's service kept its host, and a later
// service with the same host was refused until baton restarted.
func TestSwitchboardHandsAHostWithoutTargetToTheNextService(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, zap.New(core))
	t.Cleanup(sb.Stop)
	clock := t0
	sb.now = func() time.Time { return clock }
	routing := Routing{Hosts: []string{"shared.test"}, Path: "/"}
	serving := func() string {
		if rt := router.Table().Lookup("shared.test", "/"); rt != nil {
			return rt.Service
		}
		return ""
	}
	sb.Set(ServiceRoutes{Name: "old", Routing: routing, Live: []Endpoint{{ID: "o1", Addr: "127.0.0.1:1"}}})
	// While old has a target, a later claim is a named conflict.
	sb.Set(ServiceRoutes{Name: "rival", Routing: routing, Live: []Endpoint{{ID: "r1", Addr: "127.0.0.1:2"}}})
	if got, errs := serving(), sb.Conflicts(); got != "old" || len(errs) != 1 || !strings.Contains(errs[0].Error(), `refused for service "rival"`) {
		t.Fatalf("with old serving: %q serves, conflicts %v", got, errs)
	}
	sb.Remove("rival")
	// old's container is gone: it keeps the host, with no target (hold, 503).
	clock = clock.Add(time.Minute)
	sb.Set(ServiceRoutes{Name: "old", Routing: routing})
	if got := serving(); got != "old" {
		t.Fatalf("old without a target: %q serves, want old kept", got)
	}
	// Another service claims it: taken over at once, logged, no conflict.
	sb.Set(ServiceRoutes{Name: "new", Routing: routing})
	if got, errs := serving(), sb.Conflicts(); got != "new" || len(errs) != 0 {
		t.Fatalf("after new's claim: %q serves, conflicts %v", got, errs)
	}
	took := logs.FilterMessageSnippet("host taken over").AllUntimed()
	if len(took) != 1 || took[0].ContextMap()["host"] != "shared.test" || took[0].ContextMap()["path"] != "/" ||
		took[0].ContextMap()["old_service"] != "old" || took[0].ContextMap()["new_service"] != "new" {
		t.Fatalf("takeover log: %+v", took)
	}
	// old's Compose recreate comes back: its claim is now the later one.
	sb.Set(ServiceRoutes{Name: "new", Routing: routing, Live: []Endpoint{{ID: "n1", Addr: "127.0.0.1:3"}}})
	sb.Set(ServiceRoutes{Name: "old", Routing: routing, Live: []Endpoint{{ID: "o2", Addr: "127.0.0.1:4"}}})
	if got, errs := serving(), sb.Conflicts(); got != "new" || len(errs) != 1 || !strings.Contains(errs[0].Error(), `already routed to service "new"; refused for service "old"`) {
		t.Fatalf("old back with new serving: %q serves, conflicts %v", got, errs)
	}
}

// A service without a target keeps its hosts for ReleaseAfter (the clock
// not restarted by the controller's repeated Sets), then they are dropped.
func TestSwitchboardReleasesHostsAfterReleaseAfter(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, zap.New(core))
	t.Cleanup(sb.Stop)
	clock := t0
	sb.now = func() time.Time { return clock }
	sb.ReleaseAfter = 10 * time.Minute
	gone := Routing{Hosts: []string{"gone.test"}, Path: "/"}
	sb.Set(ServiceRoutes{Name: "gone", Routing: gone, Live: []Endpoint{{ID: "g1", Addr: "127.0.0.1:1"}}})
	sb.Set(ServiceRoutes{Name: "gone", Routing: gone})
	for _, step := range []time.Duration{5 * time.Minute, 4 * time.Minute} {
		clock = clock.Add(step)
		sb.Set(ServiceRoutes{Name: "gone", Routing: gone})
		if router.Table().Lookup("gone.test", "/") == nil {
			t.Fatalf("%s without a target: gone.test dropped before release_after", clock.Sub(t0))
		}
	}
	clock = clock.Add(time.Minute)
	sb.Set(ServiceRoutes{Name: "other", Routing: Routing{Hosts: []string{"other.test"}, Path: "/"}, Live: []Endpoint{{ID: "x1", Addr: "127.0.0.1:2"}}})
	if router.Table().Lookup("gone.test", "/") != nil {
		t.Fatal("gone.test still routed after release_after without a target")
	}
	if rel := logs.FilterMessageSnippet("host released").AllUntimed(); len(rel) != 1 || rel[0].ContextMap()["old_service"] != "gone" {
		t.Fatalf("release log: %+v", rel)
	}
	// Its container is back: it claims the host again.
	sb.Set(ServiceRoutes{Name: "gone", Routing: gone, Live: []Endpoint{{ID: "g2", Addr: "127.0.0.1:3"}}})
	if rt := router.Table().Lookup("gone.test", "/"); rt == nil || rt.Service != "gone" {
		t.Fatalf("gone back with a target: %v", rt)
	}
}

// fakeAccounting is the switchboard's drain accounting in a test.
type fakeAccounting struct {
	tracker func(id string) proxy.TargetTracker
	forget  func(id string) bool
}

func (f fakeAccounting) Tracker(id string) proxy.TargetTracker {
	if f.tracker == nil {
		return nil
	}
	return f.tracker(id)
}

func (f fakeAccounting) Forget(id string) bool { return f.forget == nil || f.forget(id) }
