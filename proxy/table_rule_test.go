package proxy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy/rule"
)

func mustRule(t testing.TB, src string) *rule.Rule {
	t.Helper()
	r, err := rule.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ruleRoute(t testing.TB, service, src string) *Route {
	return &Route{Service: service, Rule: mustRule(t, src)}
}

type tableProbe struct {
	method, target string
	header         []string
	ip             string
	want           string // service, "" = no route
}

func (p tableProbe) run(t *testing.T, table *Table) {
	t.Helper()
	method := p.method
	if method == "" {
		method = "GET"
	}
	r := httptest.NewRequest(method, p.target, nil)
	for _, h := range p.header {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Add(k, v)
	}
	if p.ip != "" {
		r.RemoteAddr = p.ip + ":1234"
	}
	got := ""
	if rt := table.Match(r, hostOnly(r.Host), r.URL.Path, TrustedProxies(nil).ClientIP); rt != nil {
		got = rt.Service
	}
	if got != p.want {
		t.Errorf("%s %s %v from %s: %q, want %q", method, p.target, p.header, p.ip, got, p.want)
	}
}

func newTable(t *testing.T, routes ...*Route) *Table {
	t.Helper()
	table, errs := NewTable(routes)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return table
}

// Traefik's order: higher priority first, the priority being the rule's
// length unless set (pkg/muxer/http/mux_test.go's priority cases).
func TestRulePriority(t *testing.T) {
	for _, c := range []struct {
		routes []*Route
		target string
		want   string
	}{
		{[]*Route{ruleRoute(t, "long", "PathPrefix(`/mypath`)"), ruleRoute(t, "short", "PathPrefix(`/my`)")}, "/mypath", "long"},
		{[]*Route{ruleRoute(t, "short", "PathPrefix(`/my`)"), ruleRoute(t, "long", "PathPrefix(`/mypath`)")}, "/mypath", "long"},
		{[]*Route{ruleRoute(t, "my", "PathPrefix(`/my`)"), ruleRoute(t, "mypa", "PathPrefix(`/mypa`)"), ruleRoute(t, "mypath", "PathPrefix(`/mypath`)")}, "/mypath", "mypath"},
		{[]*Route{{Service: "p10", Rule: mustRule(t, "PathPrefix(`/mypath`)"), Priority: 10}, {Service: "p20", Rule: mustRule(t, "PathPrefix(`/my`)"), Priority: 20}}, "/mypath", "p20"},
		{[]*Route{{Service: "p20", Rule: mustRule(t, "PathPrefix(`/mypath`)"), Priority: 20}, {Service: "p10", Rule: mustRule(t, "PathPrefix(`/my`)"), Priority: 10}}, "/mypath", "p20"},
		// Equal priorities: the route given first (Traefik leaves it to an unstable sort).
		{[]*Route{ruleRoute(t, "first", "PathPrefix(`/a`)"), ruleRoute(t, "second", "PathPrefix(`/`) ")}, "/a", "first"},
		{[]*Route{ruleRoute(t, "first", "PathPrefix(`/`) "), ruleRoute(t, "second", "PathPrefix(`/a`)")}, "/a", "first"},
		// Slow rules compete by the same order.
		{[]*Route{ruleRoute(t, "regex", "PathRegexp(`^/api/v[0-9]+`)"), ruleRoute(t, "prefix", "PathPrefix(`/api`)")}, "/api/v2", "regex"},
		{[]*Route{{Service: "regex", Rule: mustRule(t, "PathRegexp(`^/api/v[0-9]+`)"), Priority: 1}, ruleRoute(t, "prefix", "PathPrefix(`/api`)")}, "/api/v2", "prefix"},
	} {
		table := newTable(t, c.routes...)
		tableProbe{target: "http://x.test" + c.target, want: c.want}.run(t, table)
	}
}

func TestRuleRoutesByEveryMatcher(t *testing.T) {
	table := newTable(t,
		ruleRoute(t, "api", "Host(`app.test`) && PathPrefix(`/api`)"),
		ruleRoute(t, "beta", "Host(`app.test`) && Header(`X-Beta`, `1`)"),
		ruleRoute(t, "json", "Host(`app.test`) && HeaderRegexp(`Accept`, `json`) && PathRegexp(`^/data/[0-9]+$`)"),
		ruleRoute(t, "post", "Host(`app.test`) && Method(`POST`)"),
		ruleRoute(t, "page2", "Host(`app.test`) && Query(`page`, `2`)"),
		ruleRoute(t, "office", "Host(`app.test`) && ClientIP(`10.0.0.0/8`)"),
		ruleRoute(t, "wild", "HostRegexp(`^[a-z]+\\.example\\.com$`)"),
		ruleRoute(t, "notapp", "!Host(`app.test`) && Path(`/only`)"),
		ruleRoute(t, "app", "Host(`app.test`)"),
	)
	for _, p := range []tableProbe{
		{target: "http://app.test/", want: "app"},
		{target: "http://APP.test:8080/", want: "app"},
		{target: "http://app.test./", want: "app"},
		{target: "http://app.test/api/x", want: "api"},
		{target: "http://app.test/apix", want: "api"}, // Traefik's PathPrefix is a string prefix
		{target: "http://app.test/", header: []string{"X-Beta: 1"}, want: "beta"},
		{target: "http://app.test/data/12", header: []string{"Accept: application/json"}, want: "json"},
		{target: "http://app.test/data/12x", header: []string{"Accept: application/json"}, want: "app"},
		{method: "POST", target: "http://app.test/", want: "post"},
		{target: "http://app.test/?page=2", want: "page2"},
		{target: "http://app.test/", ip: "10.1.2.3", want: "office"},
		{target: "http://app.test/", ip: "192.0.2.1", want: "app"},
		{target: "http://shop.example.com/", want: "wild"},
		{target: "http://a.b.example.com/", want: ""},
		{target: "http://other.test/only", want: "notapp"},
		{target: "http://other.test/", want: ""},
	} {
		p.run(t, table)
	}
}

// Plain routes keep their order among themselves; rule routes go in by
// priority, a plain route's being the length of Host(`h`) && PathPrefix(`p`).
func TestRulesMixWithPlainRoutes(t *testing.T) {
	if PlainPriority("app.test", "/") != len("Host(`app.test`)") || PlainPriority("app.test", "/api") != len("Host(`app.test`) && PathPrefix(`/api`)") ||
		PlainPriority("*", "/api") != len("PathPrefix(`/api`)") || PlainPriority("*", "/") != len("PathPrefix(`/`)") {
		t.Fatal("PlainPriority is not the length of the equivalent rule")
	}
	table := newTable(t,
		&Route{Service: "plain", Host: "app.test", Path: "/"},
		&Route{Service: "plainapi", Host: "app.test", Path: "/api"},
		&Route{Service: "wild", Host: "*.example.com", Path: "/"},
		&Route{Service: "any", Host: "*", Path: "/"},
		ruleRoute(t, "v2", "Host(`app.test`) && PathPrefix(`/api/v2`)"), // 42 > plainapi's 38
		ruleRoute(t, "post", "Host(`app.test`) && Method(`POST`)"),      // 34: under plainapi, over plain's 16
		ruleRoute(t, "beta", "Header(`X-Beta`, `1`)"),                   // 21, any host
		ruleRoute(t, "regex", "HostRegexp(`^shop\\.example\\.com$`)"),   // 35, over wild's 21
	)
	for _, p := range []tableProbe{
		{target: "http://app.test/", want: "plain"},
		{target: "http://app.test/api/x", want: "plainapi"},
		{target: "http://app.test/apix", want: "plain"}, // plain prefixes stay whole segments
		{target: "http://app.test/api/v2/x", want: "v2"},
		{method: "POST", target: "http://app.test/api", want: "plainapi"},
		{method: "POST", target: "http://app.test/other", want: "post"},
		{target: "http://app.test/api", header: []string{"X-Beta: 1"}, want: "plainapi"},
		{target: "http://app.test/", header: []string{"X-Beta: 1"}, want: "beta"},
		{target: "http://shop.example.com/", want: "regex"},
		{target: "http://blog.example.com/", want: "wild"},
		{target: "http://blog.example.com/", header: []string{"X-Beta: 1"}, want: "wild"},
		{target: "http://other.test/", want: "any"},
		{target: "http://other.test/", header: []string{"X-Beta: 1"}, want: "beta"},
	} {
		p.run(t, table)
	}
	// Lookup sees host and path alone: rules that read more are skipped.
	if rt := table.Lookup("app.test", "/api/v2/x"); rt == nil || rt.Service != "v2" {
		t.Errorf("Lookup /api/v2/x = %v, want v2", rt)
	}
	if rt := table.Lookup("other.test", "/"); rt == nil || rt.Service != "any" {
		t.Errorf("Lookup other.test = %v, want any", rt)
	}
}

// A table of plain routes gives the same answers as before rule routes
// existed (TestLookupPrecedence's table), through Match too.
func TestMatchWithoutRulesIsLookup(t *testing.T) {
	table := newTable(t,
		&Route{Service: "any", Host: "*", Path: "/"},
		&Route{Service: "wild", Host: "*.example.com", Path: "/"},
		&Route{Service: "deepwild", Host: "*.eu.example.com", Path: "/"},
		&Route{Service: "app", Host: "app.example.com", Path: "/"},
		&Route{Service: "api", Host: "app.example.com", Path: "/api"},
		&Route{Service: "apiv2", Host: "app.example.com", Path: "/api/v2"},
		&Route{Service: "wildapi", Host: "*.example.com", Path: "/api"},
		&Route{Service: "euapp", Host: "x.eu.example.com", Path: "/app"},
	)
	for _, c := range [][3]string{
		{"app.example.com", "/", "app"}, {"app.example.com", "/api/users", "api"}, {"app.example.com", "/apix", "app"},
		{"app.example.com", "/api/v2/x", "apiv2"}, {"shop.example.com", "/api/x", "wildapi"}, {"x.eu.example.com", "/", "deepwild"},
		{"x.eu.example.com", "/api", "deepwild"}, {"x.eu.example.com", "/app/1", "euapp"}, {"y.eu.example.com", "/api", "deepwild"},
		{"example.com", "/", "any"}, {"other.org", "/api", "any"},
	} {
		r := httptest.NewRequest("GET", "http://"+c[0]+c[1], nil)
		for _, rt := range []*Route{table.Lookup(c[0], c[1]), table.Match(r, c[0], c[1], nil)} {
			if rt == nil || rt.Service != c[2] {
				t.Errorf("%s%s = %v, want %s", c[0], c[1], rt, c[2])
			}
		}
	}
}

func TestRuleConflicts(t *testing.T) {
	for _, c := range []struct {
		first, second *Route
	}{
		{ruleRoute(t, "a", "Host(`app.test`) && Header(`X-A`, `1`)"), ruleRoute(t, "b", `Host("APP.test") && header("x-a", "1")`)},
		{&Route{Service: "a", Host: "app.test"}, ruleRoute(t, "b", "Host(`app.test`)")},
		{&Route{Service: "a", Host: "app.test", Path: "/api"}, ruleRoute(t, "b", "PathPrefix(`/api`) && Host(`app.test`)")},
		{ruleRoute(t, "a", "Host(`x.test`) || Host(`app.test`)"), ruleRoute(t, "b", "(Host(`app.test`))")},
		{ruleRoute(t, "a", "PathPrefix(`/api`)"), &Route{Service: "b", Host: "*", Path: "/api"}},
	} {
		if !sharePlace(c.first, c.second) {
			t.Errorf("%v / %v conflict but Places names no place both claim: %v / %v", c.first.Rule, c.second.Rule, Places(c.first), Places(c.second))
		}
		table, errs := NewTable([]*Route{c.first, c.second})
		var ce *ConflictError
		if len(errs) != 1 || !errors.As(errs[0], &ce) || ce.Kept != "a" || ce.Refused != "b" {
			t.Errorf("%v / %v: errors %v, want b refused", c.first.Rule, c.second.Rule, errs)
			continue
		}
		if len(table.Routes()) != 1 || table.Routes()[0].Service != "a" {
			t.Errorf("routes = %v", table.Routes())
		}
	}
	// Overlapping but different rules are Traefik's everyday case, not conflicts.
	apart := []*Route{ruleRoute(t, "a", "Host(`app.test`)"), ruleRoute(t, "b", "Host(`app.test`) && PathPrefix(`/api`)"),
		&Route{Service: "c", Host: "app.test", Path: "/admin"}, ruleRoute(t, "d", "Host(`app.test`) && Method(`POST`)"),
		&Route{Service: "e", Host: "app.test", Path: "/admin", Listener: "https"}}
	newTable(t, apart...)
	for i, a := range apart {
		for _, b := range apart[i+1:] {
			if sharePlace(a, b) {
				t.Errorf("%s and %s do not conflict, yet Places names a place both claim: %v / %v", a.Service, b.Service, Places(a), Places(b))
			}
		}
	}
}

func sharePlace(a, b *Route) bool {
	seen := map[Place]bool{}
	for _, p := range Places(a) {
		seen[p] = true
	}
	for _, p := range Places(b) {
		if seen[p] {
			return true
		}
	}
	return false
}

func TestRuleRouteLabels(t *testing.T) {
	table := newTable(t,
		ruleRoute(t, "one", "Host(`a.test`) && PathPrefix(`/x`) || Host(`A.test.`) && Method(`GET`)"),
		ruleRoute(t, "two", "Host(`a.test`) || Host(`b.test`)"),
		ruleRoute(t, "none", "PathPrefix(`/x`)"),
		&Route{Service: "set", Host: "given.test", Rule: mustRule(t, "Host(`c.test`)")},
	)
	for i, want := range []string{"a.test", "*", "*", "given.test"} {
		if got := table.Routes()[i].Host; got != want {
			t.Errorf("route %s: Host %q, want %q", table.Routes()[i].Service, got, want)
		}
	}
}

// The client address is resolved once at most, and only for a ClientIP rule.
func TestClientIPResolvedOnlyWhenNeeded(t *testing.T) {
	calls := 0
	resolve := func(r *http.Request) netip.Addr { calls++; return netip.MustParseAddr("10.0.0.1") }
	table := newTable(t,
		&Route{Service: "plain", Host: "app.test", Path: "/"},
		ruleRoute(t, "api", "Host(`app.test`) && PathPrefix(`/api`)"),
		ruleRoute(t, "hdr", "Host(`app.test`) && Header(`X-A`, `1`)"),
		ruleRoute(t, "ip1", "Host(`ip.test`) && ClientIP(`192.0.2.0/24`)"),
		ruleRoute(t, "ip2", "Host(`ip.test`) && ClientIP(`10.0.0.0/8`)"),
	)
	r := httptest.NewRequest("GET", "http://app.test/api", nil)
	for _, path := range []string{"/api", "/"} {
		if rt := table.Match(r, "app.test", path, resolve); rt == nil || calls != 0 {
			t.Fatalf("%s: route %v, %d resolutions, want none", path, rt, calls)
		}
	}
	if rt := table.Match(r, "ip.test", "/", resolve); rt == nil || rt.Service != "ip2" || calls != 1 {
		t.Fatalf("ip.test: route %v, %d resolutions, want ip2 after one", rt, calls)
	}
	if rt := table.Match(r, "ip.test", "/", nil); rt != nil {
		t.Fatalf("no resolver: %v, want no ClientIP match", rt.Service)
	}
}

// Rule routes match Traefik's routing path; plain routes the decoded path.
func TestRuleRoutingPath(t *testing.T) {
	table := newTable(t,
		ruleRoute(t, "enc", "Host(`app.test`) && PathPrefix(`/a%2Fb`)"),
		ruleRoute(t, "space", "Host(`app.test`) && Path(`/a b`)"),
		&Route{Service: "plain", Host: "app.test", Path: "/a/b"},
	)
	for _, p := range []tableProbe{
		{target: "http://app.test/a%2Fb", want: "enc"},
		{target: "http://app.test/a/b", want: "plain"},
		{target: "http://app.test/a%20b", want: "space"},
	} {
		p.run(t, table)
	}
	// An absolute-form target without a path: no PathPrefix means any path,
	// but PathPrefix(`/`) wants one, as in Traefik.
	r := httptest.NewRequest("GET", "http://app.test/", nil)
	r.URL.Path = ""
	for src, want := range map[string]bool{"Host(`app.test`) && PathPrefix(`/`)": false, "Host(`app.test`)": true} {
		table = newTable(t, ruleRoute(t, "app", src))
		if rt := table.Match(r, "app.test", "", nil); (rt != nil) != want {
			t.Errorf("%s, empty path: %v, want a match %v", src, rt, want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	table := regexTable(t)
	r := httptest.NewRequest("GET", "http://app.test/api/v3/items?page=2", nil)
	r.Header.Set("Accept", "application/json")
	r.RemoteAddr = "192.0.2.1:1234"
	ip := TrustedProxies(nil).ClientIP
	if rt := table.Match(r, "app.test", r.URL.Path, ip); rt == nil || rt.Service != "apiv" {
		t.Fatalf("route %v", rt)
	}
	if n := testing.AllocsPerRun(200, func() { table.Match(r, "app.test", r.URL.Path, ip) }); n != 0 && !raceEnabled {
		t.Errorf("Match allocates %v times", n)
	}
}
