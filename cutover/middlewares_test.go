package cutover

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

func routersService(rules ...RouteRule) ServiceRoutes {
	hosts := []string{}
	for _, r := range rules {
		hosts = append(hosts, r.Host)
	}
	return ServiceRoutes{Name: "app", Routing: Routing{Hosts: hosts, Path: "/", Routes: rules},
		Live: []Endpoint{{ID: "c1", Addr: "127.0.0.1:1"}}}
}

func withMiddlewares(defs ...upstream.MiddlewareDef) []upstream.Instance {
	return []upstream.Instance{{ID: "auth", Name: "auth", Running: true, Spec: upstream.Spec{Middlewares: defs}}}
}

// Regression: a router's middlewares were dropped and the app served to
// anyone. A router whose middleware cannot be built is not routed, its
// place is not taken by a router without it, and the problem names both.
func TestRouterWithoutItsMiddlewaresIsNotRouted(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	sb.UseMiddlewares(collectMiddlewares(append(
		withMiddlewares(upstream.MiddlewareDef{Name: "lan", Kind: "nosuchkind", Options: map[string]string{}}),
		upstream.Instance{ID: "x", Name: "other", Running: true, Spec: upstream.Spec{Middlewares: []upstream.MiddlewareDef{{Name: "lan", Kind: "other", Options: map[string]string{}}}}},
		upstream.Instance{ID: "y", Name: "lone", Running: true, Spec: upstream.Spec{Middlewares: []upstream.MiddlewareDef{{Name: "odd", Kind: "nosuchkind", Options: map[string]string{}}}}},
	)))
	sb.Set(routersService(
		RouteRule{Router: "admin", Host: "app.test", Path: "/admin", Priority: 50, Middlewares: []string{"authelia"}},
		RouteRule{Router: "admin-open", Host: "app.test", Path: "/admin", Priority: 10},
		RouteRule{Router: "lan", Host: "app.test", Path: "/lan", Middlewares: []string{"lan"}},
		RouteRule{Router: "odd", Host: "app.test", Path: "/odd", Middlewares: []string{"odd"}},
		RouteRule{Router: "web", Host: "app.test", Path: "/"},
	))
	table := router.Table()
	for _, path := range []string{"/admin/users", "/lan", "/odd"} {
		if rt := table.Lookup("app.test", path); rt == nil || rt.Path != "/" {
			t.Errorf("%s: routed by %+v, want only the / router (the guarded one refused, nobody in its place)", path, rt)
		}
	}
	problems := ""
	for _, err := range sb.Conflicts() {
		problems += err.Error() + "\n"
	}
	for _, want := range []string{
		"router admin (app.test/admin): middleware authelia is defined by no routable container",
		"router lan (app.test/lan): middleware lan is defined differently by containers auth and other",
		"router odd (app.test/odd): middleware odd: kind nosuchkind is not implemented by baton",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems:\n%s\nwant a line with %q", problems, want)
		}
	}
}

// A Traefik rule that says more than Host and PathPrefix is routed as a
// whole, by priority among the service's other routers.
func TestComplexRuleRouterIsRoutedAsAWhole(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	sb.Set(routersService(
		RouteRule{Router: "writes", Rule: "Host(`app.test`) && Method(`POST`)", Priority: 100},
		RouteRule{Router: "web", Host: "app.test", Path: "/", Priority: 17},
	))
	if errs := sb.Conflicts(); len(errs) > 0 {
		t.Fatalf("problems: %v", errs)
	}
	table := router.Table()
	for method, want := range map[string]string{"POST": "Host(`app.test`) && Method(`POST`)", "GET": ""} {
		req, _ := http.NewRequest(method, "http://app.test/x", nil)
		rt := table.Match(req, "app.test", "/x", nil)
		if rt == nil {
			t.Fatalf("%s: no route", method)
		}
		got := ""
		if rt.Rule != nil {
			got = rt.Rule.Source()
		}
		if got != want {
			t.Errorf("%s routed by rule %q, want %q", method, got, want)
		}
	}
}

// The Authelia pattern with basicAuth: a middleware defined on one container
// protects a router of another; the chain is kept across publishes while its
// definition holds, and rebuilt when it changes.
func TestRouterMiddlewareFromAnotherContainerProtectsIt(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	// test:test, the example of Traefik's basicAuth documentation.
	auth := upstream.MiddlewareDef{Name: "auth", Kind: "basicauth", Options: map[string]string{"users": "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"}}
	sb.UseMiddlewares(collectMiddlewares(withMiddlewares(auth)))
	svc := routersService(RouteRule{Router: "admin", Host: "app.test", Path: "/", Middlewares: []string{"auth"}})
	sb.Set(svc)
	if errs := sb.Conflicts(); len(errs) > 0 {
		t.Fatalf("problems: %v", errs)
	}
	h := proxy.NewHandler(router, proxy.HandlerOptions{})
	ask := func(user, pass string) int {
		req := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := ask("", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code := ask("test", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	// Past the middleware, the (unreachable) target answers 502.
	if code := ask("test", "test"); code != http.StatusBadGateway {
		t.Errorf("right password: %d, want the request to go past basicAuth to the upstream (502 here)", code)
	}
	first := router.Table().Lookup("app.test", "/").Chain
	sb.Set(svc)
	if router.Table().Lookup("app.test", "/").Chain != first {
		t.Error("an unchanged middleware was built anew at a publish (its verified credentials lost)")
	}
	auth.Options = map[string]string{"users": "other:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"}
	sb.UseMiddlewares(collectMiddlewares(withMiddlewares(auth)))
	sb.Set(svc)
	if code := ask("test", "test"); code != http.StatusUnauthorized {
		t.Errorf("after the users changed: %d, want 401 for the removed user", code)
	}
}
