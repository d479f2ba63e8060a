package autotls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// startInternal runs a manager with the internal CA behind a real HTTPS
// listener (HTTP/2 on) that answers "ok".
func startInternal(t *testing.T, storage string, routes []*proxy.Route) (*Manager, string) {
	t.Helper()
	m, err := New(Options{CA: "internal", Storage: storage, HTTPSAddr: "127.0.0.1:0", DefaultSNI: "app.localhost", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	h := m.HTTPSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok ", r.Proto) }))
	ln, err := proxy.ListenTLS("127.0.0.1:0", h, m.TLSConfig(), proxy.ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Shutdown(context.Background()) })
	m.Sync(routes)
	return m, ln.Addr().String()
}

// clientTrusting dials addr whatever the URL's host, trusting only root.
func clientTrusting(root []byte, addr string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// waitReady polls until the host's certificate is loaded.
func waitReady(t *testing.T, m *Manager, host string) Certificate {
	t.Helper()
	var ready Certificate
	testutil.EventuallyNilWithin(t, 20*time.Second, "a certificate for "+host, func() error {
		certs := m.Certificates()
		for _, c := range certs {
			if c.Host == host && c.Ready {
				ready = c
				return nil
			}
		}
		return fmt.Errorf("none ready: %+v", certs)
	})
	return ready
}

func TestInternalCAServesRoutedHostsOverHTTP2(t *testing.T) {
	storage := t.TempDir()
	m, addr := startInternal(t, storage, []*proxy.Route{{Host: "app.localhost", HSTS: 24 * time.Hour}, {Host: "plain.localhost", PlainHTTP: true}})
	cert := waitReady(t, m, "app.localhost")
	root, err := m.RootPEM()
	if err != nil {
		t.Fatal(err)
	}
	client := clientTrusting(root, addr)
	resp, err := client.Get("https://app.localhost/")
	if err != nil {
		t.Fatalf("a client trusting only the exported root: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok HTTP/2.0" || resp.Proto != "HTTP/2.0" {
		t.Errorf("answer %q over %s, want HTTP/2", body, resp.Proto)
	}
	if resp.Header.Get("Strict-Transport-Security") != "max-age=86400" {
		t.Errorf("HSTS = %q", resp.Header.Get("Strict-Transport-Security"))
	}
	want := fmt.Sprintf(`
# HELP baton_tls_certificate_expiry_timestamp_seconds When each host's certificate expires (Unix time); 0 while none is loaded.
# TYPE baton_tls_certificate_expiry_timestamp_seconds gauge
baton_tls_certificate_expiry_timestamp_seconds{host="app.localhost"} %d
`, cert.NotAfter.Unix())
	if err := promtest.CollectAndCompare(m.Collector(), strings.NewReader(want), "baton_tls_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x", resp.TLS.Version)
	}
	// No certificate for a name no route gives TLS, and none made on demand.
	if _, err := client.Get("https://plain.localhost/"); err == nil {
		t.Error("a plain HTTP host got a certificate")
	}
	if _, err := client.Get("https://stranger.localhost/"); err == nil {
		t.Error("an unrouted name got a certificate on demand")
	}
	// A client sending no server name, or an IP (wrk, old clients), is shown
	// the default_sni certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	for _, sni := range []string{"", "127.0.0.1"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		if names := c.ConnectionState().PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != "app.localhost" {
			t.Errorf("SNI %q: shown %v", sni, names)
		}
		c.Close()
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "app.localhost", RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("TLS 1.1 accepted")
	}

	// The host leaves the routes: no longer managed.
	m.Sync(nil)
	if len(m.Certificates()) != 0 || m.Secure("app.localhost") {
		t.Errorf("after the host left: %+v", m.Certificates())
	}

	// A restart reuses the stored root and certificate.
	m.Stop()
	m2, _ := startInternal(t, storage, []*proxy.Route{{Host: "app.localhost"}})
	again := waitReady(t, m2, "app.localhost")
	root2, _ := m2.RootPEM()
	if string(root2) != string(root) || !again.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("restart: root same %v, certificate not after %v then %v", string(root2) == string(root), cert.NotAfter, again.NotAfter)
	}
}

func TestInternalCARefusesHalfARoot(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "root.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root.key mode: %v %v", fi.Mode(), err)
	}
	os.Remove(filepath.Join(dir, "root.crt"))
	if _, err := loadOrCreateCA(dir); err == nil {
		t.Fatal("a key without its root was replaced by a new root")
	}
}
