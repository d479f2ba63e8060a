package cutover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// versionBackend answers /version with sha, cacheable for an hour.
func versionBackend(t *testing.T, sha string) *proxy.Target {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fmt.Fprintf(w, `{"sha":%q}`, sha)
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	return proxy.NewTarget("id-"+sha, addr, nil, proxy.TransportOptions{})
}

// A stale cache entry outliving the switch would be caught by the probe: this
// pins why the deploy purges before verifying.
func TestVerifyWithoutPurgeCatchesStaleCacheEntry(t *testing.T) {
	old, fresh := versionBackend(t, "aaaaaaa"), versionBackend(t, "bbbbbbb")
	c := proxy.NewCache(1<<20, prometheusRegistry())
	router := proxy.NewRouter(nil)
	table, _ := proxy.NewTable([]*proxy.Route{{Service: "web", Host: "web.test", Cache: true, Targets: []*proxy.Target{old}}})
	router.Store(table)
	ln, err := proxy.Listen("127.0.0.1:0", proxy.NewHandler(router, proxy.HandlerOptions{Cache: c, VerifyToken: "tok"}), proxy.ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Shutdown(context.Background())
	url := "http://" + ln.Addr().(*net.TCPAddr).String()

	// Warm the cache with the old release, then switch to the new target.
	req, _ := http.NewRequest(http.MethodGet, url+"/version", nil)
	req.Host = "web.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	table, _ = proxy.NewTable([]*proxy.Route{{Service: "web", Host: "web.test", Cache: true, Targets: []*proxy.Target{fresh}}})
	router.Store(table)

	spec := upstream.Spec{Hosts: []string{"web.test"}, Verify: upstream.VerifySpec{Path: "/version", Timeout: 500 * time.Millisecond}}
	live := func(string) []upstream.Instance { return []upstream.Instance{{ID: "id-bbbbbbb", Addr: fresh.Addr}} }
	noPurge := &FrontDoor{URL: url, Token: "tok", Live: live}
	_, err = noPurge.Verify(context.Background(), "web", spec, "bbbbbbb", 1)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Cause != VerifyCacheHit {
		t.Fatalf("without a purge: %v, want cause %s", err, VerifyCacheHit)
	}
	withPurge := &FrontDoor{URL: url, Token: "tok", Live: live, Purge: func(s string) { c.Purge(s, "") }}
	if actual, err := withPurge.Verify(context.Background(), "web", spec, "bbbbbbb", 1); err != nil || actual != "bbbbbbb" {
		t.Fatalf("with the purge: %q, %v", actual, err)
	}
}

func TestVerifyNamesOldTargetInPool(t *testing.T) {
	old, fresh := versionBackend(t, "aaaaaaa"), versionBackend(t, "bbbbbbb")
	router := proxy.NewRouter(nil)
	// The switch left the old target in the pool next to the new one.
	table, _ := proxy.NewTable([]*proxy.Route{{Service: "web", Host: "web.test", Targets: []*proxy.Target{old, fresh}}})
	router.Store(table)
	ln, err := proxy.Listen("127.0.0.1:0", proxy.NewHandler(router, proxy.HandlerOptions{VerifyToken: "tok"}), proxy.ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Shutdown(context.Background())
	v := &FrontDoor{URL: "http://" + ln.Addr().String(), Token: "tok",
		Live: func(string) []upstream.Instance { return []upstream.Instance{{ID: "id-bbbbbbb", Addr: fresh.Addr}} }}
	spec := upstream.Spec{Hosts: []string{"web.test"}, Verify: upstream.VerifySpec{Path: "/version", Timeout: 500 * time.Millisecond}}
	_, err = v.Verify(context.Background(), "web", spec, "bbbbbbb", 1)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Cause != VerifyOldTarget {
		t.Fatalf("err = %v, want cause %s", err, VerifyOldTarget)
	}
}

func prometheusRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// A host with TLS is probed over HTTPS with its name as SNI; a certificate that
// does not match the host is the named cause tls_certificate, not an upstream error.
func TestVerifyProbesSecureHostsOverHTTPSWithSNI(t *testing.T) {
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"sha":"abc1234"}`)
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	spec := upstream.DefaultSpec()
	spec.Verify.Timeout = time.Second

	// httptest's certificate names example.com.
	spec.Hosts = []string{"example.com"}
	v := &FrontDoor{URL: "http://127.0.0.1:1", HTTPSURL: srv.URL, Secure: func(h string) bool { return h == "example.com" }, Roots: roots}
	if got, err := v.Verify(context.Background(), "web", spec, "abc1234", 1); err != nil || got != "abc1234" {
		t.Fatalf("verify over HTTPS: %q %v", got, err)
	}
	if sni.Load() != "example.com" {
		t.Errorf("SNI = %v", sni.Load())
	}
	if d := v.Describe(spec); d != "https://example.com/version (SNI example.com)" {
		t.Errorf("Describe = %q", d)
	}

	spec.Hosts = []string{"app.test"}
	v.Secure = func(string) bool { return true }
	_, err := v.Verify(context.Background(), "web", spec, "abc1234", 1)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Cause != VerifyTLS || !strings.Contains(ve.Hint(), "baton tls") {
		t.Fatalf("certificate for another host: %v", err)
	}
}

// The cache that answered is named, so the hint points at baton's own cache or
// at one behind it.
func TestCacheHitNamesTheCache(t *testing.T) {
	for field, want := range map[string]string{
		"":                                      "",
		"baton; hit":                            "baton",
		"baton; fwd=uri-miss; stored":           "",
		`"app cache"; hit, baton; fwd=uri-miss`: "app cache",
		"varnish; fwd=stale, baton; hit":        "baton",
		"app; hitch":                            "",
	} {
		if got := cacheHit(field); got != want {
			t.Errorf("cacheHit(%q) = %q, want %q", field, got, want)
		}
	}
}
