package cutover

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// countingTracker is one container's drain accounting.
type countingTracker struct{ begun int }

func (c *countingTracker) Begin(context.CancelCauseFunc) uint64 { c.begun++; return 0 }
func (c *countingTracker) Finish(uint64)                        {}
func (c *countingTracker) Upgraded(proxy.LongLived) func()      { return func() {} }

// GitLab's case: one container with two Traefik services. Each router's
// route goes to its own port of the same container; both targets share
// the container's drain accounting; a draining old container is reached
// on the port of the router, and an endpoint a container no longer has
// is forgotten.
func TestRoutesReachEachRoutersPortOfOneContainer(t *testing.T) {
	spec, _, _, err := upstream.ParseLabels(upstream.Container{ID: "new", Name: "gitlab-2", Labels: map[string]string{
		"traefik.enable":                                            "true",
		"traefik.http.routers.gitlab.rule":                          "Host(`gitlab.test`)",
		"traefik.http.routers.gitlab.service":                       "gitlab",
		"traefik.http.services.gitlab.loadbalancer.server.port":     "80",
		"traefik.http.routers.registry.rule":                        "Host(`registry.test`)",
		"traefik.http.routers.registry.service":                     "registry",
		"traefik.http.services.registry.loadbalancer.server.port":   "5000",
		"traefik.http.services.registry.loadbalancer.server.scheme": "h2c",
	}}, upstream.DefaultSpec(), upstream.ParseOptions{TraefikLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	fresh := endpointOf(upstream.Instance{ID: "new", Spec: spec, Addr: "10.0.0.2:80", Version: "v2"})
	old := endpointOf(upstream.Instance{ID: "old", Spec: spec, Addr: "10.0.0.1:80", Version: "v1"})
	trackers := map[string]*countingTracker{"new": {}, "old": {}}
	targets := proxy.NewTargets(proxy.TransportOptions{})
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, targets, fakeAccounting{tracker: func(id string) proxy.TargetTracker { return trackers[id] }}, nil)
	sb.Set(ServiceRoutes{Name: "gitlab", Routing: routingOf(spec), Live: []Endpoint{fresh}, Draining: []Endpoint{old}})
	if errs := sb.Conflicts(); len(errs) > 0 {
		t.Fatal(errs)
	}
	table := router.Table()
	web, reg := table.Lookup("gitlab.test", "/"), table.Lookup("registry.test", "/v2/")
	if web == nil || reg == nil || len(web.Targets) != 1 || len(reg.Targets) != 1 {
		t.Fatalf("routes %+v %+v", web, reg)
	}
	if web.Targets[0].Addr != "10.0.0.2:80" || web.Targets[0].Scheme != proxy.SchemeHTTP ||
		reg.Targets[0].Addr != "10.0.0.2:5000" || reg.Targets[0].Scheme != proxy.SchemeH2C {
		t.Fatalf("web -> %s %s, registry -> %s %s", web.Targets[0].Addr, web.Targets[0].Scheme, reg.Targets[0].Addr, reg.Targets[0].Scheme)
	}
	if len(reg.Draining) != 1 || reg.Draining[0].Addr != "10.0.0.1:5000" || reg.Draining[0].ID != "old" {
		t.Fatalf("registry draining %+v", reg.Draining)
	}
	// Both ports of the container are one container to the drain.
	if web.Targets[0].ID != reg.Targets[0].ID {
		t.Fatal("two ports of one container got different ids")
	}
	// The container moves its registry to another port: the old target of
	// that endpoint is forgotten, the container's other target stays.
	moved := fresh
	moved.Upstreams = map[string]proxy.Endpoint{"gitlab": fresh.Upstreams["gitlab"], "registry": {Addr: "10.0.0.2:5001", Scheme: proxy.SchemeH2C}}
	sb.Set(ServiceRoutes{Name: "gitlab", Routing: routingOf(spec), Live: []Endpoint{moved}})
	var addrs []string
	targets.Each(func(t *proxy.Target) { addrs = append(addrs, t.ID+"@"+t.Addr) })
	if got := sortedJoin(addrs); got != "new@10.0.0.2:5001,new@10.0.0.2:80" {
		t.Fatalf("targets after the move: %s", got)
	}
}

func sortedJoin(s []string) string {
	sort.Strings(s)
	return strings.Join(s, ",")
}
