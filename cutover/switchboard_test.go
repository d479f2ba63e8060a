package cutover

import (
	"sort"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
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
	sb := NewSwitchboard(proxy.NewRouter(nil), targets, nil, nil)
	busy := map[string]bool{}
	var forgotten []string
	sb.Forget = func(id string) bool {
		if busy[id] {
			return false
		}
		forgotten = append(forgotten, id)
		return true
	}
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
