package upstream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, labels map[string]string, image map[string]string) (Spec, bool, []string, error) {
	t.Helper()
	return ParseLabels(Container{ID: "c1", Name: "/web-1", Labels: labels, ImageLabels: image}, DefaultSpec(), ParseOptions{TraefikLabels: true})
}

func TestParseBatonLabels(t *testing.T) {
	spec, enabled, ignored, err := parse(t, map[string]string{
		"baton.enable":               "true",
		"baton.host":                 "Shop.example.com, www.example.com",
		"baton.path":                 "/api",
		"baton.port":                 "8080",
		"baton.health.path":          "/healthz",
		"baton.health.min_healthy":   "1s",
		"baton.deploy.strategy":      "rolling",
		"baton.deploy.max_parallel":  "2",
		"baton.drain.timeout":        "5s",
		"baton.prestop.signal":       "tstp",
		"baton.sticky":               "sid",
		"baton.cache":                "true",
		"com.docker.compose.project": "shop",
		"com.docker.compose.service": "web",
	}, map[string]string{"org.opencontainers.image.revision": "2f1c9e0"})
	if err != nil || !enabled || len(ignored) != 0 {
		t.Fatalf("enabled=%v ignored=%v err=%v", enabled, ignored, err)
	}
	want := DefaultSpec()
	if spec.Service != "shop-web" || strings.Join(spec.Hosts, ",") != "shop.example.com,www.example.com" || spec.Path != "/api" ||
		spec.Port != 8080 || spec.Health.Path != "/healthz" || spec.Health.MinHealthy != time.Second || spec.Health.Deadline != want.Health.Deadline ||
		spec.Deploy.Strategy != "rolling" || spec.Deploy.MaxParallel != 2 || spec.DrainTimeout != 5*time.Second ||
		spec.PreStop.Signal != "SIGTSTP" || spec.StickyCookie != "sid" || !spec.Cache || spec.Version != "2f1c9e0" {
		t.Fatalf("spec = %+v", spec)
	}
}

func TestNotEnabledWithoutOptIn(t *testing.T) {
	_, enabled, _, err := parse(t, map[string]string{"baton.host": "a.test"}, nil)
	if enabled || err != nil {
		t.Fatalf("enabled=%v err=%v: containers opt in unless exposed_by_default", enabled, err)
	}
	_, enabled, _, _ = ParseLabels(Container{Name: "x", Labels: map[string]string{"baton.host": "a.test"}}, DefaultSpec(), ParseOptions{ExposedByDefault: true})
	if !enabled {
		t.Fatal("exposed_by_default did not enable")
	}
}

func TestBadLabelsNameLabelAndValue(t *testing.T) {
	cases := map[string]string{
		"baton.health.interval":     "5x",
		"baton.port":                "http",
		"baton.deploy.strategy":     "canary",
		"baton.host":                "bad host",
		"baton.path":                "api",
		"baton.helth.path":          "/x",
		"baton.deploy.auto_revert":  "maybe",
		"baton.deploy.max_parallel": "0",
		"baton.prestop.signal":      "SIGNOPE",
		"baton.tls":                 "maybe",
		"baton.tls.hsts":            "forever",
		"baton.max_inflight":        "-1",
	}
	for label, value := range cases {
		_, _, _, err := parse(t, map[string]string{"baton.enable": "true", label: value}, nil)
		var le *LabelError
		if !errors.As(err, &le) || le.Label != label || le.Value != value || le.Container != "web-1" {
			t.Errorf("%s=%q: error %v does not name container, label and value", label, value, err)
			continue
		}
		if !strings.Contains(err.Error(), label) || !strings.Contains(err.Error(), "web-1") {
			t.Errorf("%s: message %q", label, err)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	s, err := ApplyDefaults(DefaultSpec(), map[string]string{"health.min_healthy": "1s", "hold": "0", "max_inflight": "500"})
	if err != nil || s.Health.MinHealthy != time.Second || s.Hold != 0 || s.MaxInflight != 500 {
		t.Fatalf("spec %+v err %v", s, err)
	}
	if _, err := ApplyDefaults(DefaultSpec(), map[string]string{"health.min_healty": "1s"}); err == nil || !strings.Contains(err.Error(), "health.min_healty") {
		t.Fatalf("unknown default: %v", err)
	}
}

func TestTraefikComposeLabels(t *testing.T) {
	spec, enabled, ignored, err := parse(t, map[string]string{
		"traefik.enable":                                            "true",
		"traefik.http.routers.app.rule":                             "Host(`app.test`) && PathPrefix(`/shop`)",
		"traefik.http.routers.app.entrypoints":                      "websecure",
		"traefik.http.routers.app.tls.certresolver":                 "le",
		"traefik.http.services.app.loadBalancer.server.port":        "3000",
		"traefik.http.services.app.loadbalancer.healthcheck.path":   "/up",
		"traefik.http.services.app.loadbalancer.sticky.cookie.name": "srv",
	}, nil)
	if err != nil || !enabled {
		t.Fatalf("err %v", err)
	}
	if strings.Join(spec.Hosts, ",") != "app.test" || spec.Path != "/shop" || spec.Port != 3000 || spec.Health.Path != "/up" || spec.StickyCookie != "srv" || spec.PlainHTTP {
		t.Fatalf("spec = %+v", spec)
	}
	if len(ignored) != 0 {
		t.Fatalf("ignored = %v", ignored)
	}
	// baton's own label wins over Traefik's.
	spec, _, _, _ = parse(t, map[string]string{"traefik.enable": "true", "traefik.http.services.a.loadbalancer.server.port": "3000", "baton.port": "4000"}, nil)
	if spec.Port != 4000 {
		t.Fatalf("baton.port did not win: %d", spec.Port)
	}
}

// Regression: a router's middlewares were ignored and the container routed,
// so an app Traefik protected (basicAuth, forwardAuth, ipAllowList) was
// served to anyone. Labels whose loss would open a door make the container
// unrouted, with the label named.
func TestTraefikLabelsBatonCannotHonourFailClosed(t *testing.T) {
	base := map[string]string{"traefik.enable": "true", "traefik.http.routers.app.rule": "Host(`app.test`)"}
	refused := [][2]string{
		{"traefik.http.routers.app.Middlewares", "chain-oauth@file"},
		{"traefik.http.routers.app.middlewares", "a@docker, b@kubernetescrd"},
		{"traefik.http.routers.app.tls.options", "modern@file"},
		{"traefik.tcp.routers.db.rule", "HostSNI(`*`)"},
		{"traefik.udp.services.dns.loadbalancer.server.port", "53"},
		{"traefik.frontend.rule", "Host:app.test"},
		{"traefik.port", "80"},
		{"traefik.http.routers.app.entryPoints", "lan"},
		{"traefik.http.services.app.loadbalancer.server.scheme", "wss"},
		{"traefik.http.services.app.loadBalancer.serversTransport", "insecure@file"},
		{"traefik.http.services.app.loadbalancer.passHostHeader", "false"},
		{"traefik.http.services.app.weighted.services[0].name", "a"},
		{"traefik.http.routers.app.unknownkey", "x"},
	}
	for _, kv := range refused {
		k, v := kv[0], kv[1]
		labels := map[string]string{k: v}
		for bk, bv := range base {
			labels[bk] = bv
		}
		_, _, _, err := parse(t, labels, nil)
		var le *LabelError
		if !errors.As(err, &le) || le.Label != k {
			t.Errorf("%s=%s: err %v, want a LabelError naming the label (the container not routed)", k, v, err)
		}
	}
	// Labels whose loss changes nothing at the door are listed as ignored.
	_, _, ign, err := parse(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.app.rule": "Host(`app.test`)",
		"traefik.http.routers.app.observability.accesslogs": "false", "traefik.http.services.app.loadbalancer.passhostheader": "true",
		"traefik.http.services.app.loadbalancer.healthcheck.hostname": "app"}, nil)
	if err != nil || len(ign) != 3 {
		t.Errorf("harmless labels: err %v ignored %v, want the three listed as ignored", err, ign)
	}
	for _, v := range []string{"web", "websecure", "web,websecure", "http"} {
		if _, _, _, err := parse(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.app.rule": "Host(`app.test`)", "traefik.http.routers.app.entrypoints": v}, nil); err != nil {
			t.Errorf("entrypoints %s: %v", v, err)
		}
	}
	// Two services on two ports and a router naming neither: Traefik
	// refuses the router, so does baton.
	_, _, _, err = parse(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.a.rule": "Host(`gitlab.test`)",
		"traefik.http.services.a.loadbalancer.server.port": "80", "traefik.http.services.registry.loadbalancer.server.port": "5000"}, nil)
	var le *LabelError
	if !errors.As(err, &le) || le.Label != "traefik.http.routers.a.service" || !strings.Contains(err.Error(), "defines several (a, registry)") {
		t.Errorf("two services on two ports, router naming none: %v", err)
	}
}

// Routers are modelled one by one: each keeps its rule, middlewares and
// priority; the middlewares a container defines are collected for routers of
// any container (the Authelia pattern).
func TestTraefikRoutersAndMiddlewares(t *testing.T) {
	spec, _, ignored, err := parse(t, map[string]string{
		"traefik.enable":                                                "true",
		"traefik.http.routers.web.rule":                                 "Host(`shop.test`)",
		"traefik.http.routers.api.rule":                                 "Host(`shop.test`) && (PathPrefix(`/api`) || PathPrefix(`/v2`))",
		"traefik.http.routers.api.middlewares":                          "auth@docker, Strip",
		"traefik.http.routers.api.priority":                             "100",
		"traefik.http.routers.api.service":                              "shop",
		"traefik.http.services.shop.loadbalancer.server.port":           "8080",
		"traefik.http.middlewares.auth.basicAuth.users":                 "u:$apr1$x$y",
		"traefik.http.middlewares.auth.basicauth.removeHeader":          "true",
		"traefik.http.middlewares.strip.stripPrefix.prefixes":           "/api,/v2",
		"traefik.http.middlewares.sec.headers.customRequestHeaders.X-A": "1",
	}, nil)
	if err != nil || len(ignored) != 0 {
		t.Fatalf("err %v, ignored %v", err, ignored)
	}
	if len(spec.Routers) != 2 {
		t.Fatalf("routers %+v", spec.Routers)
	}
	api, web := spec.Routers[0], spec.Routers[1]
	if api.Name != "api" || api.Priority != 100 || strings.Join(api.Middlewares, ",") != "auth,strip" || len(api.Matches) != 2 || api.Matches[1].PathPrefix != "/v2" {
		t.Errorf("api router %+v", api)
	}
	if web.Name != "web" || web.Priority != len("Host(`shop.test`)") || len(web.Middlewares) != 0 || web.Matches[0].PathPrefix != "/" {
		t.Errorf("web router %+v (priority defaults to the rule's length)", web)
	}
	if strings.Join(spec.Hosts, ",") != "shop.test" || spec.Port != 8080 {
		t.Errorf("hosts %v port %d", spec.Hosts, spec.Port)
	}
	var defs []string
	for _, d := range spec.Middlewares {
		defs = append(defs, fmt.Sprintf("%s/%s/%v", d.Name, d.Kind, d.Options))
	}
	if got := strings.Join(defs, " "); got != "auth/basicauth/map[removeheader:true users:u:$apr1$x$y] sec/headers/map[customrequestheaders.x-a:1] strip/stripprefix/map[prefixes:/api,/v2]" {
		t.Errorf("middlewares %s", got)
	}
	// A router naming a service the container does not define is refused.
	_, _, _, err = parse(t, map[string]string{"traefik.enable": "true", "traefik.http.routers.r.rule": "Host(`a.test`)",
		"traefik.http.routers.r.service": "api@internal", "traefik.http.services.s.loadbalancer.server.port": "80"}, nil)
	if err == nil || !strings.Contains(err.Error(), "traefik.http.routers.r.service") {
		t.Errorf("a foreign service: %v", err)
	}
}

func TestParseRule(t *testing.T) {
	good := map[string]string{
		"Host(`a.test`)":                                           "a.test/",
		"Host(`a.test`, `b.test`)":                                 "a.test/ b.test/",
		"Host(`a.test`) || Host(`b.test`)":                         "a.test/ b.test/",
		"(Host(`a.test`) || Host(`b.test`)) && PathPrefix(`/api`)": "a.test/api b.test/api",
		"PathPrefix(`/api`)":                                       "*/api",
		`Host("A.Test")`:                                           "a.test/",
	}
	for rule, want := range good {
		ms, err := ParseRule(rule)
		if err != nil {
			t.Errorf("%s: %v", rule, err)
			continue
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Host+m.PathPrefix)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s = %v, want %s", rule, got, want)
		}
	}
	bad := []string{"Host(`a`) &&", "Headers(`X`, `y`)", "HostRegexp(`{x}`)", "!Host(`a.test`)", "Host(`a.test`", "Host()",
		"Host(`a.test`) && Host(`b.test`)", "PathPrefix(`/a`) && PathPrefix(`/b`)", "Host(`a..b`)", "Host(`a.test`) junk",
		"PathPrefix(`/app1{regex:$|/.*}`)"}
	for _, rule := range bad {
		if _, err := ParseRule(rule); err == nil {
			t.Errorf("%q accepted", rule)
		} else if !strings.Contains(err.Error(), rule) {
			t.Errorf("%q: error %q does not quote the rule", rule, err)
		}
	}
}

func TestTLSLabels(t *testing.T) {
	cases := []struct {
		labels map[string]string
		plain  bool
		hsts   time.Duration
	}{
		{map[string]string{}, false, 0},
		{map[string]string{"baton.tls": "false"}, true, 0},
		{map[string]string{"baton.tls": "true", "baton.tls.hsts": "true"}, false, 365 * 24 * time.Hour},
		{map[string]string{"baton.tls.hsts": "10m"}, false, 10 * time.Minute},
		{map[string]string{"baton.tls.hsts": "false"}, false, 0},
		{map[string]string{"traefik.http.routers.r.tls": "false"}, true, 0},
		{map[string]string{"traefik.http.routers.r.tls": "true", "traefik.http.routers.r.tls.certresolver": "le"}, false, 0},
	}
	for _, c := range cases {
		labels := map[string]string{"baton.enable": "true", "baton.host": "a.test"}
		for k, v := range c.labels {
			labels[k] = v
		}
		spec, _, ignored, err := parse(t, labels, nil)
		if err != nil || len(ignored) > 0 {
			t.Fatalf("%v: err %v, ignored %v", c.labels, err, ignored)
		}
		if spec.PlainHTTP != c.plain || spec.HSTS != c.hsts {
			t.Errorf("%v: plain %v hsts %v, want %v %v", c.labels, spec.PlainHTTP, spec.HSTS, c.plain, c.hsts)
		}
	}
}

// baton.upgrades lists the protocols besides WebSocket a route relays.
func TestUpgradesLabel(t *testing.T) {
	spec, _, _, err := parse(t, map[string]string{"baton.enable": "true", "baton.host": "grpc.test", "baton.upgrades": "h2c, Foo"}, nil)
	if err != nil || strings.Join(spec.Upgrades, ",") != "h2c,foo" {
		t.Fatalf("upgrades %v, err %v", spec.Upgrades, err)
	}
	if _, _, _, err := parse(t, map[string]string{"baton.enable": "true", "baton.host": "grpc.test", "baton.upgrades": "h2c x"}, nil); err == nil || !strings.Contains(err.Error(), "baton.upgrades") {
		t.Fatalf("a bad protocol name: %v", err)
	}
}

// Migration help: Traefik routes a labelled container without traefik.enable
// (exposedByDefault); baton lists it under problems with the fix instead of
// ignoring it silently.
func TestTraefikLabelsWithoutEnableAreAProblem(t *testing.T) {
	_, enabled, _, err := parse(t, map[string]string{"traefik.http.routers.app.rule": "Host(`app.test`)"}, nil)
	if !enabled || err == nil || !strings.Contains(err.Error(), "traefik.enable=true") {
		t.Fatalf("enabled %v err %v, want a problem naming the fix", enabled, err)
	}
	if _, enabled, _, err := parse(t, map[string]string{"traefik.enable": "false", "traefik.http.routers.app.rule": "Host(`app.test`)"}, nil); enabled || err != nil {
		t.Fatalf("traefik.enable=false: enabled %v err %v, want ignored quietly", enabled, err)
	}
}
