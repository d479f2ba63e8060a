package upstream

import (
	"errors"
	"strings"
	"testing"
)

func parseWith(t *testing.T, labels map[string]string, transports ...string) (Spec, []string, error) {
	t.Helper()
	known := map[string]bool{}
	for _, n := range transports {
		known[n] = true
	}
	spec, _, ignored, err := ParseLabels(Container{ID: "c1", Name: "/gitlab-1", Labels: labels}, DefaultSpec(),
		ParseOptions{TraefikLabels: true, Transports: func(n string) bool { return known[n] }})
	return spec, ignored, err
}

func routerByName(s Spec, name string) Router {
	for _, r := range s.Routers {
		if r.Name == name {
			return r
		}
	}
	return Router{}
}

// GitLab's case: one container, / on :80 and the registry host on :5000.
// Regression: every router of a container was sent to one port.
func TestSeveralServicesEachRouterReachesItsOwn(t *testing.T) {
	spec, ignored, err := parseWith(t, map[string]string{
		"traefik.enable":                                               "true",
		"traefik.http.routers.gitlab.rule":                             "Host(`gitlab.test`)",
		"traefik.http.routers.gitlab.service":                          "gitlab",
		"traefik.http.services.gitlab.loadbalancer.server.port":        "80",
		"traefik.http.routers.registry.rule":                           "Host(`registry.test`)",
		"traefik.http.routers.registry.service":                        "Registry",
		"traefik.http.services.registry.loadBalancer.server.port":      "5000",
		"traefik.http.services.registry.loadbalancer.healthcheck.path": "/v2/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, r := routerByName(spec, "gitlab"), routerByName(spec, "registry"); g.Service != "gitlab" || r.Service != "registry" {
		t.Fatalf("router services: gitlab -> %q, registry -> %q", g.Service, r.Service)
	}
	if spec.Endpoints["gitlab"].Port != 80 || spec.Endpoints["registry"].Port != 5000 {
		t.Fatalf("endpoints %+v", spec.Endpoints)
	}
	// The verify probe (GET /version on gitlab.test, the first host) is
	// routed by the gitlab router: gitlab is the main endpoint, health-checked.
	if spec.MainService != "gitlab" || spec.Port != 80 || spec.Health.Path != "/" {
		t.Fatalf("main %q port %d health %q", spec.MainService, spec.Port, spec.Health.Path)
	}
	// The registry's health check is not the container's gate: listed as ignored.
	if len(ignored) != 1 || ignored[0] != "traefik.http.services.registry.loadbalancer.healthcheck.path" {
		t.Fatalf("ignored %v", ignored)
	}
	in := Instance{Spec: spec, Addr: "172.18.0.5:80"}
	for name, want := range map[string]string{"": "172.18.0.5:80", "gitlab": "172.18.0.5:80", "registry": "172.18.0.5:5000"} {
		if addr, _, _, ok := in.EndpointAddr(name); !ok || addr != want {
			t.Errorf("EndpointAddr(%q) = %q, %v; want %q", name, addr, ok, want)
		}
	}
	if _, _, _, ok := in.EndpointAddr("other"); ok {
		t.Error("a service the container lacks resolved")
	}
}

func TestRouterServiceSelection(t *testing.T) {
	// One service defined: a router naming none uses it (Traefik's default).
	spec, _, err := parseWith(t, map[string]string{"traefik.enable": "true",
		"traefik.http.routers.a.rule": "Host(`a.test`)", "traefik.http.routers.b.rule": "Host(`b.test`)",
		"traefik.http.services.only.loadbalancer.server.port": "3000"})
	if err != nil || routerByName(spec, "a").Service != "only" || routerByName(spec, "b").Service != "only" || spec.Port != 3000 || spec.MainService != "only" {
		t.Fatalf("one service: err %v spec %+v", err, spec.Routers)
	}
	// No service defined: the routers reach the main endpoint.
	spec, _, err = parseWith(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.a.rule": "Host(`a.test`)", "baton.port": "8080"})
	if err != nil || routerByName(spec, "a").Service != "" || spec.Port != 8080 || len(spec.Endpoints) != 0 {
		t.Fatalf("no service: err %v spec %+v", err, spec)
	}
	// name@docker is the provider's own name.
	spec, _, err = parseWith(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.a.rule": "Host(`a.test`)",
		"traefik.http.routers.a.service": "web@docker", "traefik.http.services.web.loadbalancer.server.port": "80",
		"traefik.http.services.api.loadbalancer.server.port": "81"})
	if err != nil || routerByName(spec, "a").Service != "web" {
		t.Fatalf("name@docker: err %v routers %+v", err, spec.Routers)
	}
	// Main: the service of the router the verify path goes through, even
	// when another router has the first host's other paths.
	spec, _, err = parseWith(t, map[string]string{"traefik.enable": "true",
		"traefik.http.routers.front.rule": "Host(`shop.test`)", "traefik.http.routers.front.service": "front",
		"traefik.http.routers.api.rule": "Host(`shop.test`) && PathPrefix(`/version`)", "traefik.http.routers.api.service": "api",
		"traefik.http.services.front.loadbalancer.server.port": "3000", "traefik.http.services.api.loadbalancer.server.port": "8080"})
	if err != nil || spec.MainService != "api" || spec.Port != 8080 {
		t.Fatalf("verify router: err %v main %q port %d", err, spec.MainService, spec.Port)
	}
	// baton.port and baton.upstream.* win over the main service and move it
	// for the routers that name it.
	spec, _, err = parseWith(t, map[string]string{"traefik.enable": "true",
		"traefik.http.routers.a.rule": "Host(`a.test`)", "traefik.http.services.a.loadbalancer.server.port": "80",
		"baton.port": "8443", "baton.upstream.scheme": "HTTPS"})
	if err != nil || spec.Port != 8443 || spec.Scheme != SchemeHTTPS || spec.Endpoints["a"] != (Endpoint{Port: 8443, Scheme: SchemeHTTPS}) {
		t.Fatalf("baton overrides: err %v spec %+v", err, spec.Endpoints)
	}
}

func TestSchemesAndTransports(t *testing.T) {
	spec, _, err := parseWith(t, map[string]string{"traefik.enable": "true",
		"traefik.http.routers.ui.rule": "Host(`ui.test`)", "traefik.http.routers.ui.service": "ui",
		"traefik.http.routers.grpc.rule": "Host(`grpc.test`)", "traefik.http.routers.grpc.service": "grpc",
		"traefik.http.services.ui.loadbalancer.server.port": "8443", "traefik.http.services.ui.loadbalancer.server.scheme": "https",
		"traefik.http.services.ui.loadbalancer.serversTransport": "private-ca@file",
		"traefik.http.services.grpc.loadbalancer.server.port":    "9090", "traefik.http.services.grpc.loadbalancer.server.scheme": "h2c",
	}, "private-ca")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Endpoints["ui"] != (Endpoint{Port: 8443, Scheme: SchemeHTTPS, Transport: "private-ca"}) || spec.Endpoints["grpc"] != (Endpoint{Port: 9090, Scheme: SchemeH2C}) {
		t.Fatalf("endpoints %+v", spec.Endpoints)
	}
	// grpc.test is the first host (routers in name order): its router's
	// service is the main endpoint.
	if spec.MainService != "grpc" || spec.Scheme != SchemeH2C || spec.Transport != "" || spec.Port != 9090 {
		t.Fatalf("main %q %q %q", spec.MainService, spec.Scheme, spec.Transport)
	}
	in := Instance{Spec: spec, Addr: "10.0.0.2:9090"}
	if addr, scheme, tr, _ := in.EndpointAddr("ui"); addr != "10.0.0.2:8443" || scheme != SchemeHTTPS || tr != "private-ca" {
		t.Fatalf("ui endpoint %s %s %s", addr, scheme, tr)
	}
	// default@internal is Traefik's default transport.
	spec, _, err = parseWith(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.a.rule": "Host(`a.test`)",
		"traefik.http.services.a.loadbalancer.serverstransport": "default@internal", "traefik.http.services.a.loadbalancer.server.scheme": "https"})
	if err != nil || spec.Transport != "" || spec.Scheme != SchemeHTTPS {
		t.Fatalf("default@internal: %v %+v", err, spec)
	}
	// baton's own labels.
	spec, _, err = parseWith(t, map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.upstream.scheme": "h2c"})
	if err != nil || spec.Scheme != SchemeH2C {
		t.Fatalf("baton.upstream.scheme: %v %q", err, spec.Scheme)
	}
	spec, _, err = parseWith(t, map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.upstream.scheme": "https", "baton.upstream.transport": "private-ca"}, "private-ca")
	if err != nil || spec.Transport != "private-ca" {
		t.Fatalf("baton.upstream.transport: %v %q", err, spec.Transport)
	}
}

// Each refusal names its label; the container is not routed (fail closed).
func TestEndpointRefusalsNameTheLabel(t *testing.T) {
	base := map[string]string{"traefik.enable": "true", "traefik.http.routers.app.rule": "Host(`app.test`)"}
	cases := []struct {
		label, value, why string
		extra             map[string]string
	}{
		{"traefik.http.services.app.loadbalancer.server.scheme", "wss", "want http, https or h2c", nil},
		{"traefik.http.services.app.loadbalancer.serverstransport", "nosuch@file", "no servers transport nosuch", nil},
		{"traefik.http.services.app.loadbalancer.serverstransport", "private-ca", "write private-ca@file", nil},
		{"traefik.http.services.app.loadbalancer.serverstransport", "x@kubernetescrd", "not of provider kubernetescrd", nil},
		{"traefik.http.services.app.loadbalancer.server.port", "http", "port number", nil},
		{"traefik.http.routers.app.service", "other", "does not define", map[string]string{"traefik.http.services.app.loadbalancer.server.port": "80"}},
		{"traefik.http.routers.app.service", "api@internal", "does not define", nil},
		{"traefik.http.routers.app.service", "", "defines several (a, b)", map[string]string{"traefik.http.services.a.loadbalancer.server.port": "80", "traefik.http.services.b.loadbalancer.server.port": "81"}},
		{"baton.upstream.scheme", "grpc", "want http, https or h2c", nil},
		{"baton.upstream.transport", "nosuch", "no servers transport nosuch", nil},
	}
	for _, c := range cases {
		labels := map[string]string{}
		for k, v := range base {
			labels[k] = v
		}
		for k, v := range c.extra {
			labels[k] = v
		}
		if c.value != "" {
			labels[c.label] = c.value
		}
		_, _, err := parseWith(t, labels, "private-ca")
		var le *LabelError
		if !errors.As(err, &le) || le.Label != c.label || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s=%q: err %v, want a LabelError naming the label and %q", c.label, c.value, err, c.why)
		}
	}
}

func TestMainService(t *testing.T) {
	r := func(name, rule, svc string) Router {
		return Router{Name: name, Rule: rule, Service: svc, Priority: len(rule)}
	}
	cases := []struct {
		name    string
		routers []Router
		host    string
		want    string
	}{
		{"verify path's router", []Router{r("a", "Host(`x.test`)", "web"), r("b", "Host(`x.test`) && PathPrefix(`/version`)", "api")}, "x.test", "api"},
		{"other host's router does not count", []Router{r("reg", "Host(`reg.test`)", "registry"), r("web", "Host(`x.test`)", "web")}, "x.test", "web"},
		{"complex rule", []Router{r("a", "Host(`x.test`) && !PathPrefix(`/version`)", "web"), r("b", "Host(`x.test`) && Method(`GET`)", "api")}, "x.test", "api"},
		{"no router routes it: highest priority", []Router{r("a", "Host(`y.test`)", "web"), r("b", "Host(`yy.test`) && PathPrefix(`/z`)", "api")}, "x.test", "api"},
	}
	for _, c := range cases {
		if got := mainService(c.routers, c.host, "/version", []string{"api", "registry", "web"}); got != c.want {
			t.Errorf("%s: main %q, want %q", c.name, got, c.want)
		}
	}
}
