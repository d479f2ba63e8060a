package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/batonproxy/baton/internal/testutil"
)

// waitRelayBuffers polls until the relays hold want copy buffers.
func waitRelayBuffers(t *testing.T, want int64) {
	t.Helper()
	testutil.EventuallyNil(t, "the relays' copy buffers", func() error {
		if n := RelayBuffersHeld(); n != want {
			return fmt.Errorf("%d held, want %d", n, want)
		}
		return nil
	})
}

func echoWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, got, err)
	}
}

// An idle relayed WebSocket held two 32 KiB copy buffers for its whole life.
func TestIdleRelayedWebSocketHoldsNoCopyBuffer(t *testing.T) {
	waitRelayBuffers(t, 0)
	tracker := &upgradeTracker{}
	tg := wsEcho(t)
	tg.SetTracker(tracker)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "ws", Host: "ws.test", Targets: []*Target{tg}})
	conns := make([]*websocket.Conn, 3)
	for i := range conns {
		conns[i] = dialWS(t, url, "ws.test")
		echoWS(t, conns[i], fmt.Sprintf("hello %d", i))
	}
	// Each relay copied both ways; now all are idle.
	waitRelayBuffers(t, 0)
	// Still relayed both ways, a large message too (several reads).
	echoWS(t, conns[0], strings.Repeat("x", 100<<10))
	waitRelayBuffers(t, 0)
	// The drain's 1001 still reaches an idle relay's client.
	if n := tracker.endAll(); n != len(conns) {
		t.Fatalf("tracker saw %d upgraded connections, want %d", n, len(conns))
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("client %d got %v, want close 1001 (going away)", i, err)
		}
	}
}

// The upstream's reader held the bytes it sent right behind its 101; they
// are copied out of it when the relay starts and must come first.
func TestBytesRightBehindThe101AreRelayedFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "x-test" {
			return
		}
		// The 101 and the protocol's first bytes in one write.
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-test\r\n\r\nhello from upstream\n"))
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		c.Write([]byte("echo " + line))
	}()
	addr := ln.Addr().String()
	tg := NewTarget("static:"+addr, addr, nil, TransportOptions{})
	t.Cleanup(tg.Close)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "up", Host: "up.test", Upgrades: []string{"x-test"}, Targets: []*Target{tg}})
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// The client's first bytes of the new protocol right behind its request.
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade\r\nUpgrade: x-test\r\n\r\nfrom client\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for _, want := range []string{"hello from upstream\n", "echo from client\n"} {
		got, err := br.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
}

// A WebSocket over TLS waits on the socket, crypto/tls' buffered records
// first: echoes of every size go through, and idle it holds no buffer.
func TestTLSRelayedWebSocketHoldsNoCopyBufferAndLosesNoRecord(t *testing.T) {
	waitRelayBuffers(t, 0)
	router := NewRouter(nil)
	table, errs := NewTable([]*Route{{Service: "ws", Host: "ws.test", Targets: []*Target{wsEcho(t)}}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	router.Store(table)
	borrowed := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	t.Cleanup(borrowed.Close)
	roots := x509.NewCertPool()
	roots.AddCert(borrowed.Certificate())
	tc := &tls.Config{Certificates: borrowed.TLS.Certificates, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	ln, err := ListenTLS("127.0.0.1:0", NewHandler(router, HandlerOptions{}), tc, ServerOptions{ReadHeaderTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Close() })
	d := websocket.Dialer{HandshakeTimeout: 3 * time.Second, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"}}
	c, resp, err := d.Dial("wss://"+ln.Addr().String()+"/ws", http.Header{"Host": {"ws.test"}})
	if err != nil {
		t.Fatalf("wss dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	echoWS(t, c, "hello")
	waitRelayBuffers(t, 0)
	// Many small messages written at once land in few TLS reads of baton's:
	// records crypto/tls read ahead must still be relayed.
	const n = 200
	for i := 0; i < n; i++ {
		if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, got, err := c.ReadMessage()
		if want := fmt.Sprintf("m%d", i); err != nil || string(got) != want {
			t.Fatalf("message %d: got %q, %v", i, got, err)
		}
	}
	echoWS(t, c, strings.Repeat("y", 200<<10))
	waitRelayBuffers(t, 0)
}
