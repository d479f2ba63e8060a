package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
	"github.com/gorilla/websocket"
)

// tlsClient reaches baton's HTTPS listener at addr whatever the URL's host
// (the host is the SNI), trusting only roots, and follows no redirects.
func tlsClient(addr string, roots *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// httpsGet waits until host answers 200 over HTTPS with a chain to roots (its
// certificate is issued in the background), and returns that answer and body.
func httpsGet(t *testing.T, addr, host, path string, roots *x509.CertPool, timeout time.Duration) (*http.Response, string) {
	t.Helper()
	client := tlsClient(addr, roots)
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get("https://" + host + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("https://%s%s answered after %s", host, path, time.Since(deadline.Add(-timeout)).Round(time.Millisecond))
				return resp, string(body)
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("https://%s%s not 200 within %s: last %s", host, path, timeout, last)
	return nil, ""
}

// acmeBaton starts Pebble and a baton using it with only the given challenge.
// Pebble validates against baton's port for that challenge and a closed port
// for the other, so a certificate proves that challenge was solved.
func acmeBaton(t *testing.T, challenge, routes string) (*harness.Baton, *harness.Pebble) {
	t.Helper()
	httpPort, httpsPort, closed := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	vaHTTP, vaTLS := httpPort, closed
	if challenge == "tls-alpn-01" {
		vaHTTP, vaTLS = closed, httpsPort
	}
	pebble := harness.StartPebble(t, vaHTTP, vaTLS)
	cfg := fmt.Sprintf("tls:\n  ca: %q\n  ca_root: %q\n  email: ops@example.test\n  challenges: [%s]\n%s",
		pebble.DirectoryURL, pebble.ServerRootFile, challenge, routes)
	b := harness.StartBatonHTTPS(t, fmt.Sprintf("127.0.0.1:%d", httpPort), fmt.Sprintf("127.0.0.1:%d", httpsPort), cfg)
	return b, pebble
}

func TestTLSHTTP01CertificatesFollowContainersAndSurviveRestart(t *testing.T) {
	network := harness.Network(t)
	v1 := release(t, "aaaaaaa")
	static := harness.Run(t, harness.ContainerOpts{Image: v1, Network: network})
	b, pebble := acmeBaton(t, "http-01", fmt.Sprintf("routes:\n  - host: static.example.test\n    upstreams: [%q]\n", static.IP+":8080"))
	roots := pebble.Roots()

	// A client that trusts only Pebble's root gets a valid chain, over HTTP/2.
	resp, body := httpsGet(t, b.HTTPSAddr, "static.example.test", "/", roots, 60*time.Second)
	if resp.Proto != "HTTP/2.0" || !strings.Contains(body, "hello from aaaaaaa") {
		t.Fatalf("answer %q over %s, want the app over HTTP/2", body, resp.Proto)
	}
	if resp.TLS.NegotiatedProtocol != "h2" || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("ALPN %q, TLS version %x", resp.TLS.NegotiatedProtocol, resp.TLS.Version)
	}
	serial := resp.TLS.PeerCertificates[0].SerialNumber.String()
	if !strings.Contains(pebble.Logs(), "Attempting to validate w/ HTTP: http://static.example.test") {
		t.Fatalf("Pebble did not validate over HTTP-01:\n%s", pebble.Logs())
	}

	// Plain HTTP redirects with 308, keeping path and query.
	req, _ := http.NewRequest(http.MethodPost, b.URL+"/a/b?x=1", strings.NewReader("body"))
	req.Host = "static.example.test"
	redirect, err := tlsClient(b.Addr, nil).Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	redirect.Body.Close()
	if want := "https://static.example.test:" + portOf(b.HTTPSAddr) + "/a/b?x=1"; redirect.StatusCode != http.StatusPermanentRedirect || redirect.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %s Location %q, want 308 %q", redirect.Status, redirect.Header.Get("Location"), want)
	}

	// A labelled container with a new host gets its certificate without a restart.
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: network, Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "web.example.test", "baton.tls.hsts": "true"})})
	resp, body = httpsGet(t, b.HTTPSAddr, "web.example.test", "/", roots, 60*time.Second)
	if !strings.Contains(body, "hello from aaaaaaa") || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("new host: %q, HSTS %q", body, resp.Header.Get("Strict-Transport-Security"))
	}
	out, code := b.CLI("tls")
	if code != 0 || !strings.Contains(out, "static.example.test") || !strings.Contains(out, "web.example.test") || strings.Contains(out, "pending") {
		t.Fatalf("baton tls (exit %d):\n%s", code, out)
	}
	if out, _ := b.CLI("status"); !strings.Contains(out, "https://web.example.test") {
		t.Fatalf("baton status does not show web.example.test on HTTPS:\n%s", out)
	}

	// A restart serves the stored certificates: Pebble sees no new order.
	orders := pebble.Orders()
	if orders < 2 {
		t.Fatalf("Pebble saw %d orders for two hosts", orders)
	}
	b.Restart()
	resp, _ = httpsGet(t, b.HTTPSAddr, "static.example.test", "/", roots, 20*time.Second)
	httpsGet(t, b.HTTPSAddr, "web.example.test", "/", roots, 20*time.Second)
	if got := resp.TLS.PeerCertificates[0].SerialNumber.String(); got != serial {
		t.Errorf("after a restart the certificate changed: serial %s, was %s", got, serial)
	}
	if pebble.Orders() != orders {
		t.Errorf("a restart placed %d new orders", pebble.Orders()-orders)
	}
}

func TestTLSALPN01AndWebSocketsOverTLS(t *testing.T) {
	network := harness.Network(t)
	v1 := release(t, "aaaaaaa")
	b, pebble := acmeBaton(t, "tls-alpn-01", "")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: network, Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "alpn.example.test"})})
	roots := pebble.Roots()
	resp, _ := httpsGet(t, b.HTTPSAddr, "alpn.example.test", "/", roots, 60*time.Second)
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("proto %s", resp.Proto)
	}
	if strings.Contains(pebble.Logs(), "Attempting to validate w/ HTTP") {
		t.Fatalf("Pebble validated over HTTP-01, which baton was told not to answer:\n%s", pebble.Logs())
	}

	// A WebSocket upgrades over TLS (HTTP/1.1 by ALPN) and echoes.
	dialer := websocket.Dialer{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "alpn.example.test"},
		NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, b.HTTPSAddr)
		},
		HandshakeTimeout: 5 * time.Second,
	}
	ws, _, err := dialer.Dial("wss://alpn.example.test/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket over TLS: %v", err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ping over tls")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "ping over tls" {
		t.Fatalf("echo %q %v", msg, err)
	}
}

func TestTLSInternalCAAndVerifyOverHTTPS(t *testing.T) {
	network := harness.Network(t)
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonHTTPS(t, httpAddr, httpsAddr, "tls:\n  ca: internal\n")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: network, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "app.localhost", "baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "5s"})})

	// The exported root is all a client needs to trust.
	rootPEM, code := b.CLI("tls", "root")
	if code != 0 || !strings.Contains(rootPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("not a PEM root: %s", rootPEM)
	}
	resp, body := httpsGet(t, httpsAddr, "app.localhost", "/", roots, 30*time.Second)
	if resp.Proto != "HTTP/2.0" || !strings.Contains(body, "hello from aaaaaaa") {
		t.Fatalf("%q over %s", body, resp.Proto)
	}

	// The deploy's verify probe must go over HTTPS with SNI: plain HTTP
	// answers 308 for this host, so a probe over HTTP could not match.
	out, code := b.CLI("deploy", "web", "--image", v2)
	if code != 0 || !strings.Contains(out, "verified") || !strings.Contains(out, "https://app.localhost/version (SNI app.localhost)") {
		t.Fatalf("deploy exit %d:\n%s", code, out)
	}
	if _, body := httpsGet(t, httpsAddr, "app.localhost", "/", roots, 10*time.Second); !strings.Contains(body, "hello from bbbbbbb") {
		t.Fatalf("after the deploy: %q", body)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
