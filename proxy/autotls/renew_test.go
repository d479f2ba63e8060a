package autotls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy"
)

// A renewal replaces the certificate new handshakes get, with no restart, and
// a connection opened before it keeps working.
func TestRenewalWithoutRestartKeepsConnections(t *testing.T) {
	defer func(l time.Duration) { internalLeafLifetime = l }(internalLeafLifetime)
	internalLeafLifetime = time.Minute // inside certmagic's renewal window at once

	m, err := New(Options{CA: "internal", Storage: t.TempDir(), HTTPSAddr: "127.0.0.1:0", Logger: testLogger(t), renewCheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ln, err := proxy.ListenTLS("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), m.TLSConfig(), proxy.ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Shutdown(context.Background())
	addr := ln.Addr().String()
	m.Sync([]*proxy.Route{{Host: "app.localhost"}})
	waitReady(t, m, "app.localhost")
	root, _ := m.RootPEM()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)

	serial := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "app.localhost", RootCAs: pool})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	get := func() (reused bool) {
		var info httptrace.GotConnInfo
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { info = i }})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://app.localhost/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("answer %q", body)
		}
		return info.Reused
	}

	first := serial()
	get() // opens the connection that must survive the renewal
	testutil.EventuallyWithin(t, 20*time.Second, "the certificate renewed", func() bool { return serial() != first })
	if !get() {
		t.Error("the connection opened before the renewal was not reused")
	}
}
