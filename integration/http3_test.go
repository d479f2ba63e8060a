package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3Transport speaks HTTP/3 to baton's UDP socket at addr whatever the URL's
// host (which is the SNI and :authority), trusting only roots.
func h3Transport(addr, host string, roots *x509.CertPool) *http3.Transport {
	return &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
		// A missing UDP listener is seen within seconds, not at quic-go's
		// default handshake timeout.
		QUICConfig: &quic.Config{HandshakeIdleTimeout: 3 * time.Second},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, addr, tc, qc)
		},
	}
}

type reply struct {
	proto, status, body string
	header              http.Header
}

func fetch(c *http.Client, url string) (reply, error) {
	resp, err := c.Get(url)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{proto: resp.Proto, status: resp.Status, body: string(b), header: resp.Header}, nil
}

// upstreamView is what the echo app said it received, less the fields that
// differ by client and not by protocol (each request's own id, the client
// library's name).
func upstreamView(body string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(line, "X-Request-Id:") || strings.HasPrefix(line, "User-Agent:") {
			continue
		}
		keep = append(keep, line)
	}
	sort.Strings(keep[1:])
	return strings.Join(keep, "\n")
}

// HTTP/3 on real containers: an HTTP/3 client gets what an HTTP/1.1 client
// gets for the same route (the upstream sees the same request), HTTPS
// answers advertise it, and HTTP/3 clients keep getting answers, none
// failed, through a blue-green deploy whose verify passes, then get the new
// release.
func TestHTTP3ThroughBlueGreenDeploy(t *testing.T) {
	network := harness.Network(t)
	v1, v2 := release(t, "aaaaaaa", "ECHO=1"), release(t, "bbbbbbb", "ECHO=1")
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonHTTPS(t, httpAddr, httpsAddr, "tls:\n  ca: internal\n")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: network, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "app.localhost", "baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "5s"})})
	if !strings.Contains(b.Logs(), "HTTP/3 (UDP)") {
		t.Fatalf("baton did not log its HTTP/3 listener:\n%s", b.Logs())
	}

	rootPEM, code := b.CLI("tls", "root")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	// The certificate is issued in the background: wait for it over HTTP/2.
	resp, _ := httpsGet(t, httpsAddr, "app.localhost", "/", roots, 30*time.Second)
	if got, want := resp.Header.Values("Alt-Svc"), `h3=":`+portOf(httpsAddr)+`"; ma=86400`; len(got) != 1 || got[0] != want {
		t.Fatalf("HTTPS answer over %s: Alt-Svc %q, want %q", resp.Proto, got, want)
	}

	h3tr := h3Transport(httpsAddr, "app.localhost", roots)
	defer h3tr.Close()
	h3c := &http.Client{Transport: h3tr, Timeout: 10 * time.Second}
	h1c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ // no ForceAttemptHTTP2: HTTP/1.1
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
	}}
	for _, path := range []string{"/", "/echo/a?b=c"} {
		r3, err := fetch(h3c, "https://app.localhost"+path)
		if err != nil {
			t.Fatalf("HTTP/3 GET %s: %v", path, err)
		}
		r1, err := fetch(h1c, "https://app.localhost"+path)
		if err != nil {
			t.Fatalf("HTTP/1.1 GET %s: %v", path, err)
		}
		if r3.proto != "HTTP/3.0" || r1.proto != "HTTP/1.1" {
			t.Fatalf("%s: protocols %s and %s", path, r3.proto, r1.proto)
		}
		if r3.status != r1.status || upstreamView(r3.body) != upstreamView(r1.body) || r3.header.Get("X-Release") != r1.header.Get("X-Release") {
			t.Errorf("%s differs:\nHTTP/3   %s %s\n%s\nHTTP/1.1 %s %s\n%s", path, r3.status, r3.header.Get("X-Release"), upstreamView(r3.body),
				r1.status, r1.header.Get("X-Release"), upstreamView(r1.body))
		}
		if path != "/" && !strings.Contains(r3.body, "X-Forwarded-Proto: https") {
			t.Errorf("%s: the upstream saw\n%s\nwant X-Forwarded-Proto https", path, r3.body)
		}
	}

	load := (&harness.Load{URL: "https://app.localhost/", Workers: 4, RoundTripper: h3tr, Max: time.Minute}).Start()
	harness.Eventually(t, 10*time.Second, "HTTP/3 load answered", func() bool { return load.Report(0, load.Since()).Requests >= 20 })
	out, code := b.CLI("deploy", "web", "--image", v2)
	during := load.Since()
	if code != 0 || !strings.Contains(out, "verified") {
		load.Stop()
		t.Fatalf("deploy exit %d:\n%s", code, out)
	}
	// The load goes on until it has seen the new release.
	harness.Eventually(t, 10*time.Second, "HTTP/3 load sees bbbbbbb", func() bool {
		return load.Report(during, load.Since()).Releases["bbbbbbb"] > 0
	})
	rep := load.Stop()
	t.Logf("HTTP/3 load across the deploy: %s\ndeploy:\n%s", rep, out)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("HTTP/3 clients saw failures during the deploy: %s", rep)
	}
	if rep.Releases["aaaaaaa"] == 0 || rep.Releases["bbbbbbb"] == 0 {
		t.Fatalf("releases seen over HTTP/3: %v", rep.Releases)
	}
	if r, err := fetch(h3c, "https://app.localhost/"); err != nil || r.header.Get("X-Release") != "bbbbbbb" {
		t.Fatalf("after the deploy, HTTP/3 answers %q (%v)", r.header.Get("X-Release"), err)
	}
}

// listen.http3: false: no UDP socket, no Alt-Svc, HTTPS as before.
func TestHTTP3Off(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "static") }))
	defer app.Close()
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	routes := fmt.Sprintf("routes:\n  - host: off.localhost\n    upstreams: [%q]\n", strings.TrimPrefix(app.URL, "http://"))
	b := harness.StartBatonHTTPSListen(t, httpAddr, httpsAddr, "  http3: false\n", "tls:\n  ca: internal\n"+routes)
	rootPEM, code := b.CLI("tls", "root")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	resp, body := httpsGet(t, httpsAddr, "off.localhost", "/", roots, 30*time.Second)
	if body != "static" || len(resp.Header.Values("Alt-Svc")) != 0 {
		t.Fatalf("HTTPS answer %q with Alt-Svc %q, want no Alt-Svc", body, resp.Header.Values("Alt-Svc"))
	}
	// Nobody holds the UDP port.
	pc, err := net.ListenPacket("udp", httpsAddr)
	if err != nil {
		t.Fatalf("UDP %s is taken with listen.http3 false: %v", httpsAddr, err)
	}
	pc.Close()
	if strings.Contains(b.Logs(), "HTTP/3 (UDP)") {
		t.Fatalf("baton logged an HTTP/3 listener:\n%s", b.Logs())
	}
}
