package autotls

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
)

func TestPoliciesFromRoutes(t *testing.T) {
	routes := []*proxy.Route{
		{Host: "App.Example.com", Path: "/"},
		{Host: "app.example.com", Path: "/api", HSTS: time.Hour},
		{Host: "plain.example.com", PlainHTTP: true},
		{Host: "mixed.example.com", Path: "/old", PlainHTTP: true},
		{Host: "mixed.example.com", Path: "/"},
		{Host: "*.example.com"},
		{Host: "*"},
		{Host: "app.localhost"},
		{Host: "10.0.0.5"},
	}
	public, skipped := policiesFrom(routes, true)
	if len(public) != 2 || public["app.example.com"].hsts != "max-age=3600" || public["mixed.example.com"].hsts != "" || public["mixed.example.com"].ready == nil {
		t.Fatalf("public CA policies = %v", public)
	}
	want := map[string]skipReason{
		"plain.example.com": skipPlain, "*.example.com": skipWildcard, "*": skipAny,
		"app.localhost": skipInternal, "10.0.0.5": skipIP,
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped = %v", skipped)
	}
	for h, why := range want {
		if skipped[h] != why {
			t.Errorf("skipped[%s] = %q, want %q", h, skipped[h], why)
		}
	}
	internal, _ := policiesFrom(routes, false)
	if _, ok := internal["app.localhost"]; !ok {
		t.Errorf("internal CA: app.localhost has no TLS: %v", internal)
	}
	if _, ok := internal["10.0.0.5"]; !ok {
		t.Errorf("internal CA: an IP host has no TLS: %v", internal)
	}
}

func TestHTTPHandlerRedirectsSecureHostsOnly(t *testing.T) {
	m, err := New(Options{CA: "internal", Storage: t.TempDir(), HTTPSAddr: "127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ready, pending := new(atomic.Bool), new(atomic.Bool)
	ready.Store(true)
	policies := map[string]hostPolicy{"app.example.com": {hsts: "max-age=60", ready: ready}, "new.example.com": {ready: pending}}
	m.policies.Store(&policies)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.HTTPHandler(next)

	cases := []struct {
		method, host, target string
		code                 int
		location             string
	}{
		{"GET", "app.example.com", "/a/b?x=1", 308, "https://app.example.com:8443/a/b?x=1"},
		{"POST", "APP.example.com:8080", "/form", 308, "https://app.example.com:8443/form"},
		{"GET", "plain.example.com", "/", http.StatusTeapot, ""},
		{"GET", "app.example.com", "/.well-known/acme-challenge/not-ours", http.StatusTeapot, ""},
		{"GET", "new.example.com", "/", http.StatusTeapot, ""}, // no certificate yet: served on HTTP
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(c.method, "http://"+c.host+c.target, nil)
		h.ServeHTTP(w, r)
		if w.Code != c.code || w.Header().Get("Location") != c.location {
			t.Errorf("%s %s%s: %d %q, want %d %q", c.method, c.host, c.target, w.Code, w.Header().Get("Location"), c.code, c.location)
		}
	}

	w := httptest.NewRecorder()
	m.HTTPSHandler(next).ServeHTTP(w, httptest.NewRequest("GET", "https://app.example.com/", nil))
	if got := w.Header().Get("Strict-Transport-Security"); got != "max-age=60" {
		t.Errorf("HSTS = %q", got)
	}
	w = httptest.NewRecorder()
	m.HTTPSHandler(next).ServeHTTP(w, httptest.NewRequest("GET", "https://other.example.com/", nil))
	if got := w.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS on a host that did not opt in: %q", got)
	}
}
