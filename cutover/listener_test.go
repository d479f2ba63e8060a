package cutover

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// Issue 13: a Traefik router without tls (a plain-HTTP redirect router on
// every entrypoint) answered HTTPS too, so a TLS request could take it
// instead of the TLS router of the same host, and skip that router's
// basicAuth. In Traefik a router without tls never sees a TLS request.
func TestRouterWithoutTLSDoesNotAnswerHTTPSBesideATLSRouter(t *testing.T) {
	router := proxy.NewRouter(nil)
	sb := NewSwitchboard(router, proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	sb.HTTPS = true
	sb.UseMiddlewares(collectMiddlewares(withMiddlewares(
		upstream.MiddlewareDef{Name: "auth", Kind: "basicauth", Options: map[string]string{"users": "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"}},
		upstream.MiddlewareDef{Name: "to-https", Kind: "redirectscheme", Options: map[string]string{"scheme": "https"}},
	)))
	const prio = len("Host(`app.test`)")
	sb.Set(routersService(
		// Same rule, same priority: the name decides, and "app-http"
		// sorts first.
		RouteRule{Router: "app-http", Host: "app.test", Path: "/", Priority: prio, Middlewares: []string{"to-https"}},
		RouteRule{Router: "app-secure", Host: "app.test", Path: "/", Priority: prio, Middlewares: []string{"auth"}, Listener: "https"},
		// A host with no TLS router keeps baton's rule: its plain router
		// answers HTTPS too (automatic HTTPS).
		RouteRule{Router: "other", Host: "other.test", Path: "/", Priority: prio},
	))
	if errs := sb.Conflicts(); len(errs) > 0 {
		t.Fatal(errs)
	}
	match := func(host string, secure bool) *proxy.Route {
		r := httptest.NewRequest("GET", "http://"+host+"/", nil)
		if secure {
			r.TLS = &tls.ConnectionState{}
		}
		return router.Table().Match(r, host, "/", proxy.TrustedProxies(nil).ClientIP)
	}
	if rt := match("app.test", true); rt == nil || rt.Listener != "https" {
		t.Fatalf("HTTPS app.test: route %+v, want the TLS router's (with its basicAuth)", rt)
	}
	if rt := match("app.test", false); rt == nil || rt.Listener != "http" {
		t.Fatalf("plain HTTP app.test: route %+v, want the router without tls, on plain HTTP only", rt)
	}
	if rt := match("other.test", true); rt == nil || rt.Listener != "" {
		t.Fatalf("HTTPS other.test: route %+v, want its router, on both listeners", rt)
	}
}

func TestListenerOf(t *testing.T) {
	tls := tlsHosts([]*ServiceRoutes{
		{Routing: Routing{Routes: []RouteRule{{Host: "secure.test", Path: "/", Listener: "https"}}}},
		{Routing: Routing{Routes: []RouteRule{{Rule: "Host(`Rule.test.`) && Header(`X`, `1`)", Listener: "https"}, {Host: "plain.test", Listener: "http"}}}},
	})
	for _, c := range []struct {
		rr   RouteRule
		want string
	}{
		{RouteRule{Host: "secure.test", Path: "/admin"}, "http"},
		{RouteRule{Host: "SECURE.test", Path: "/"}, "http"},
		{RouteRule{Rule: "Host(`rule.test`) || Host(`elsewhere.test`)"}, "http"},
		{RouteRule{Rule: "Host(`secure.test`) && Method(`POST`)"}, "http"},
		{RouteRule{Rule: "PathPrefix(`/x`)"}, "http"}, // any host: beside every TLS router
		{RouteRule{Rule: "HostRegexp(`.+`)"}, "http"},
		{RouteRule{Host: "elsewhere.test", Path: "/"}, ""}, // no TLS router there: baton's automatic HTTPS
		{RouteRule{Host: "plain.test", Path: "/"}, ""},
		{RouteRule{Host: "secure.test", Path: "/", Listener: "https"}, "https"},
		{RouteRule{Host: "elsewhere.test", Path: "/", Listener: "http"}, "http"},
	} {
		if got := listenerOf(c.rr, tls); got != c.want {
			t.Errorf("%+v: listener %q, want %q", c.rr, got, c.want)
		}
	}
	// A TLS router on any host: no router without tls answers HTTPS.
	anyTLS := tlsHosts([]*ServiceRoutes{{Routing: Routing{Routes: []RouteRule{{Rule: "PathPrefix(`/api`)", Listener: "https"}}}}})
	if got := listenerOf(RouteRule{Host: "elsewhere.test", Path: "/"}, anyTLS); got != "http" {
		t.Errorf("beside a TLS router of any host: %q, want http", got)
	}
	if got := listenerOf(RouteRule{Host: "elsewhere.test", Path: "/"}, tlsHosts(nil)); got != "" {
		t.Errorf("no TLS router anywhere: %q, want both listeners", got)
	}
}
