package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsProxy starts baton's handler on an HTTPS listener (HTTP/2 and
// HTTP/1.1 by ALPN) and returns its address and a client speaking HTTP/2 to it.
func tlsProxy(t *testing.T, routes ...*Route) (string, *http.Client) {
	t.Helper()
	borrowed := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	t.Cleanup(borrowed.Close)
	router := NewRouter(nil)
	table, errs := NewTable(routes)
	if len(errs) > 0 {
		t.Fatalf("table: %v", errs)
	}
	router.Store(table)
	tc := &tls.Config{Certificates: borrowed.TLS.Certificates, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
	ln, err := ListenTLS("127.0.0.1:0", NewHandler(router, HandlerOptions{}), tc, ServerOptions{ReadHeaderTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(borrowed.Certificate())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	t.Cleanup(client.CloseIdleConnections)
	return "https://" + ln.Addr().String(), client
}

func doBody(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An https upstream is spoken to over TLS and verified per its servers
// transport: a private CA it names, skip-verify, or the system roots.
func TestHTTPSUpstreamVerifiedPerTransport(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v proto=%s host=%s", r.TLS != nil, r.Proto, r.Host)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	addr := strings.TrimPrefix(up.URL, "https://")
	private := x509.NewCertPool()
	private.AddCert(up.Certificate())

	targets := NewTargets(TransportOptions{})
	targets.SetTransports(map[string]*tls.Config{
		"private":    {RootCAs: private},
		"skip":       {InsecureSkipVerify: true},
		"wrong-name": {RootCAs: private, ServerName: "not-the-cert.test"},
	})
	t.Cleanup(func() { targets.Each(func(t *Target) { t.Close() }) })
	route := func(host, transport string) *Route {
		tg := targets.GetEndpoint("c1", Endpoint{Addr: addr, Scheme: SchemeHTTPS, Transport: transport}, nil)
		return &Route{Service: host, Host: host, Path: "/", Targets: []*Target{tg}}
	}
	_, plainURL := newProxy(t, HandlerOptions{},
		route("private.test", "private"), route("skip.test", "skip"), route("system.test", ""),
		route("wrong.test", "wrong-name"), route("undefined.test", "nosuch"))
	for host, want := range map[string]string{
		"private.test": `tls=true proto=HTTP/2.0 host=private.test`,
		"skip.test":    `tls=true proto=HTTP/2.0 host=skip.test`,
	} {
		if status, body := doBody(t, http.DefaultClient, plainURL+"/", host); status != 200 || body != want {
			t.Errorf("%s: %d %q, want 200 %q", host, status, body, want)
		}
	}
	// httptest's certificate is signed by no system root; a server name the
	// certificate does not carry fails; a transport nobody defined fails closed.
	for _, host := range []string{"system.test", "wrong.test", "undefined.test"} {
		if status, body := doBody(t, http.DefaultClient, plainURL+"/", host); status != http.StatusBadGateway {
			t.Errorf("%s: %d %q, want 502", host, status, body)
		}
	}
}

// h2cServer is an upstream speaking HTTP/2 in clear (prior knowledge).
func h2cServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A gRPC-like bidirectional stream through baton to an h2c upstream: the
// client speaks HTTP/2 over TLS to baton; each message is answered before
// the next is sent (both directions stream), several MiB flow past the
// HTTP/2 windows, and the trailers (grpc-status) reach the client.
func TestH2CUpstreamStreamsBothWaysWithTrailers(t *testing.T) {
	addr := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Header.Get("Te") != "trailers" {
			http.Error(w, "want HTTP/2 with TE: trailers, got "+r.Proto+" te="+r.Header.Get("Te"), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		br := bufio.NewReader(r.Body)
		n := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				break
			}
			n++
			io.WriteString(w, "echo "+line)
			w.(http.Flusher).Flush()
		}
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", fmt.Sprintf("%d messages", n))
	}))
	targets := NewTargets(TransportOptions{})
	tg := targets.GetEndpoint("c1", Endpoint{Addr: addr, Scheme: SchemeH2C}, nil)
	t.Cleanup(tg.Close)
	url, client := tlsProxy(t, &Route{Service: "grpc", Host: "grpc.test", Path: "/", Targets: []*Target{tg}})

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url+"/echo.Echo/Stream", pr)
	req.Host = "grpc.test"
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() { resp, err := client.Do(req); got <- result{resp, err} }()
	// The response head arrives before the request body ends: a stream.
	if _, err := io.WriteString(pw, "hello\n"); err != nil {
		t.Fatal(err)
	}
	res := <-got
	if res.err != nil {
		t.Fatal(res.err)
	}
	resp := res.resp
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d proto %s: %s", resp.StatusCode, resp.Proto, b)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "echo hello\n" {
		t.Fatalf("first echo %q %v", line, err)
	}
	// Long stream: 512 messages of 16 KiB, each answered before the next.
	msg := strings.Repeat("x", 16<<10) + "\n"
	const count = 512
	for i := 0; i < count; i++ {
		if _, err := io.WriteString(pw, msg); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "echo "+msg {
			t.Fatalf("echo %d: %d bytes, %v", i, len(line), err)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("after the last echo: %q", rest)
	}
	if resp.Trailer.Get("Grpc-Status") != "0" || resp.Trailer.Get("Grpc-Message") != fmt.Sprintf("%d messages", count+1) {
		t.Fatalf("trailers %v, want grpc-status 0 and the message count", resp.Trailer)
	}
}

// HTTP/2 has no Upgrade: a WebSocket handshake to an h2c upstream is
// answered 502, never relayed to something else.
func TestH2CUpstreamRefusesUpgrade(t *testing.T) {
	addr := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") }))
	targets := NewTargets(TransportOptions{})
	tg := targets.GetEndpoint("c1", Endpoint{Addr: addr, Scheme: SchemeH2C}, nil)
	t.Cleanup(tg.Close)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "grpc", Host: "grpc.test", Path: "/", Targets: []*Target{tg}})
	if status, body := doBody(t, http.DefaultClient, url+"/", "grpc.test"); status != 200 || body != "plain" {
		t.Fatalf("plain request to h2c: %d %q", status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/ws", nil)
	req.Host = "grpc.test"
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("WebSocket to an h2c upstream: %d, want 502", resp.StatusCode)
	}
}
