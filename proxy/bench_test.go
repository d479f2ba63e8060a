package proxy

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// BenchmarkProxyRoundTrip measures the whole hot path over real loopback
// sockets: client -> baton's handler -> keep-alive pool -> backend, 1 KiB answers.
func BenchmarkProxyRoundTrip(b *testing.B) { benchRoundTrip(b, HandlerOptions{}, 0, nil, "") }

// BenchmarkProxyRoundTripBasicAuthHeaders is the same route behind Traefik's
// basicAuth (a bcrypt user: verified once, then from the bounded cache of
// verified credentials) and headers (custom request and response fields and
// the security headers), built as the switchboard builds a route's chain.
func BenchmarkProxyRoundTripBasicAuthHeaders(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	headers, err := middleware.Build(middleware.Spec{Name: "sec", Kind: "headers", Options: map[string]string{
		"customrequestheaders.x-script-name": "app",
		"customresponseheaders.x-served-by":  "baton",
		"stsseconds":                         "31536000",
		"framedeny":                          "true",
		"contenttypenosniff":                 "true",
		"referrerpolicy":                     "same-origin",
		"contentsecuritypolicy":              "default-src 'self'",
	}}, middleware.Env{}, Upstream)
	if err != nil {
		b.Fatal(err)
	}
	chain, err := middleware.Build(middleware.Spec{Name: "auth", Kind: "basicauth", Options: map[string]string{"users": "alice:" + string(hash)}}, middleware.Env{}, headers)
	if err != nil {
		b.Fatal(err)
	}
	benchRoundTrip(b, HandlerOptions{}, 0, chain, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:secret")))
}

// BenchmarkProxyRoundTripBounded is the same with both in-flight bounds set
// (proxy.max_inflight, baton.max_inflight) and never reached: their cost on
// the hot path, two atomic counts.
func BenchmarkProxyRoundTripBounded(b *testing.B) {
	benchRoundTrip(b, HandlerOptions{MaxInflight: 1 << 20}, 1<<20, nil, "")
}

func benchRoundTrip(b *testing.B, o HandlerOptions, routeMax int64, chain http.Handler, authorization string) {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tg := NewTarget("static:"+addr, addr, nil, TransportOptions{})
	router := NewRouter(nil)
	table, _ := NewTable([]*Route{
		{Service: "other", Host: "other.test", Path: "/"},
		{Service: "app", Host: "app.test", Path: "/", Targets: []*Target{tg}, MaxInflight: routeMax, Chain: chain},
		{Service: "wild", Host: "*.example.com", Path: "/"},
	})
	router.Store(table)
	ln, err := Listen("127.0.0.1:0", NewHandler(router, o), ServerOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	go ln.Serve()
	defer ln.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = "app.test"
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkSetForwarded is the forwarded headers alone, per request: a
// direct client with no trusted proxies configured, one with them configured,
// and a trusted CDN bringing a chain.
func BenchmarkSetForwarded(b *testing.B) {
	cdn := TrustedProxies{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	run := func(b *testing.B, t TrustedProxies, xff []string) {
		// As baton's listeners serve it: the listener's port in the context.
		r := (&http.Request{RemoteAddr: "192.0.2.7:51234", Host: "app.test"}).WithContext(withListenerPort(context.Background(), &net.TCPAddr{Port: 443}))
		h := make(http.Header, 8)
		ids := newRequestIDs()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(h)
			if xff != nil {
				h["X-Forwarded-For"] = xff
			}
			ids.ensure(h, t.setForwarded(h, r))
		}
	}
	b.Run("untrusted", func(b *testing.B) { run(b, nil, nil) })
	b.Run("untrusted-with-ranges", func(b *testing.B) { run(b, TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}, nil) })
	b.Run("trusted-chain", func(b *testing.B) { run(b, cdn, []string{"203.0.113.9, 192.0.2.99"}) })
}

// BenchmarkLookup is the route table alone: the per-request routing cost.
func BenchmarkLookup(b *testing.B) {
	var routes []*Route
	for _, h := range []string{"a.test", "b.test", "c.test", "app.test", "*.example.com", "*"} {
		routes = append(routes, &Route{Service: h, Host: h, Path: "/"}, &Route{Service: h + "api", Host: h, Path: "/api"})
	}
	table, _ := NewTable(routes)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if table.Lookup("shop.example.com", "/api/users") == nil {
			b.Fatal("no route")
		}
	}
}

// BenchmarkMatchPlain is BenchmarkLookup's table and request through Match,
// as the handler routes: a table without rule routes costs what Lookup does.
func BenchmarkMatchPlain(b *testing.B) {
	var routes []*Route
	for _, h := range []string{"a.test", "b.test", "c.test", "app.test", "*.example.com", "*"} {
		routes = append(routes, &Route{Service: h, Host: h, Path: "/"}, &Route{Service: h + "api", Host: h, Path: "/api"})
	}
	table, _ := NewTable(routes)
	r := httptest.NewRequest("GET", "http://shop.example.com/api/users", nil)
	ip := TrustedProxies(nil).ClientIP
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if table.Match(r, "shop.example.com", "/api/users", ip) == nil {
			b.Fatal("no route")
		}
	}
}

// regexTable is a table with a few regexp and header rules beside plain routes.
func regexTable(tb testing.TB) *Table {
	routes := []*Route{
		{Service: "app", Host: "app.test", Path: "/"},
		{Service: "static", Host: "app.test", Path: "/static"},
		{Service: "other", Host: "other.test", Path: "/"},
		ruleRoute(tb, "admin", "Host(`app.test`) && PathPrefix(`/admin`) && ClientIP(`10.0.0.0/8`)"),
		ruleRoute(tb, "beta", "Host(`app.test`) && HeaderRegexp(`Cookie`, `(^|; )beta=1`)"),
		ruleRoute(tb, "apiv", "Host(`app.test`) && PathRegexp(`^/api/v[0-9]+/`) && HeaderRegexp(`Accept`, `json`)"),
		ruleRoute(tb, "mobile", "Host(`app.test`) && Query(`mobile`, `1`)"),
		ruleRoute(tb, "tenants", "HostRegexp(`^[a-z0-9-]+\\.tenants\\.test$`)"),
	}
	table, errs := NewTable(routes)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	return table
}

// BenchmarkMatchRegexRule is the route table with rule routes, per request:
// a regexp rule that matches first, a request that tries every rule of its
// host before a plain route takes it, and a HostRegexp on an unnamed host.
func BenchmarkMatchRegexRule(b *testing.B) {
	table := regexTable(b)
	ip := TrustedProxies(nil).ClientIP
	run := func(b *testing.B, target, want string, header ...string) {
		r := httptest.NewRequest("GET", target, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		r.RemoteAddr = "192.0.2.1:1234"
		host := hostOnly(r.Host)
		if rt := table.Match(r, host, r.URL.Path, ip); rt == nil || rt.Service != want {
			b.Fatalf("route %v, want %s", rt, want)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if table.Match(r, host, r.URL.Path, ip) == nil {
				b.Fatal("no route")
			}
		}
	}
	b.Run("regex-hit", func(b *testing.B) {
		run(b, "http://app.test/api/v3/items?page=2", "apiv", "Accept", "application/json", "Cookie", "session=abc")
	})
	b.Run("fall-through", func(b *testing.B) {
		run(b, "http://app.test/static/app.js?v=3", "static", "Accept", "*/*", "Cookie", "session=abc; theme=dark")
	})
	b.Run("host-regexp", func(b *testing.B) { run(b, "http://acme.tenants.test/", "tenants") })
}

// BenchmarkCacheThroughBaton compares, in one run over loopback: the backend
// directly, baton without the cache, and baton serving the same GET from its
// cache (the answer is cacheable for an hour).
func BenchmarkCacheThroughBaton(b *testing.B) {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tg := NewTarget("static:"+addr, addr, nil, TransportOptions{})
	router := NewRouter(nil)
	table, _ := NewTable([]*Route{
		{Service: "plain", Host: "plain.test", Path: "/", Targets: []*Target{tg}},
		{Service: "cached", Host: "cached.test", Path: "/", Cache: true, Targets: []*Target{tg}},
	})
	router.Store(table)
	c := NewCache(64<<20, prometheus.NewRegistry())
	ln, err := Listen("127.0.0.1:0", NewHandler(router, HandlerOptions{Cache: c}), ServerOptions{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	go ln.Serve()
	defer ln.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: 10 * time.Second}
	run := func(b *testing.B, url, host string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = host
			for pb.Next() {
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	base := "http://" + ln.Addr().String() + "/item"
	b.Run("direct", func(b *testing.B) { run(b, srv.URL+"/item", "") })
	b.Run("baton-uncached", func(b *testing.B) { run(b, base, "plain.test") })
	b.Run("baton-cached", func(b *testing.B) { run(b, base, "cached.test") })
}
