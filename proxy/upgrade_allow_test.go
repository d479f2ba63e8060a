package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upgradeBackend answers every request with 101 to the protocol the request
// asked for (or "h2c" when it asked for none) and then echoes what it reads;
// got receives the Upgrade field each request carried.
func upgradeBackend(t *testing.T) (*Target, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				got <- req.Header.Get("Upgrade")
				proto := req.Header.Get("Upgrade")
				if proto == "" {
					proto = "h2c"
				}
				io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+proto+"\r\n\r\n")
				io.Copy(conn, conn)
			}()
		}
	}()
	tg := NewTarget("upgrade", ln.Addr().String(), nil, TransportOptions{})
	t.Cleanup(tg.Close)
	return tg, got
}

// An Upgrade other than WebSocket is relayed only on a route that lists it
// (baton.upgrades); elsewhere it goes upstream as a plain request, and the
// 101 nobody asked for then is refused with 502.
func TestUpgradeOnlyWhereTheRouteAllowsIt(t *testing.T) {
	tg, got := upgradeBackend(t)
	_, url := newProxy(t, HandlerOptions{},
		&Route{Service: "grpc", Host: "grpc.test", Targets: []*Target{tg}, Upgrades: []string{"h2c"}},
		&Route{Service: "web", Host: "web.test", Targets: []*Target{tg}},
	)
	addr := strings.TrimPrefix(url, "http://")
	ask := func(host string) (string, string) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			return resp.Status, <-got
		}
		io.WriteString(conn, "ping")
		b := make([]byte, 4)
		io.ReadFull(br, b)
		return resp.Status + " " + string(b), <-got
	}
	if status, up := ask("grpc.test"); status != "101 Switching Protocols ping" || up != "h2c" {
		t.Errorf("allowed h2c: %q, upstream saw Upgrade %q; want the switch relayed", status, up)
	}
	if status, up := ask("web.test"); !strings.HasPrefix(status, "502") || up != "" {
		t.Errorf("h2c on a route that does not allow it: %q, upstream saw Upgrade %q; want 502 and no Upgrade upstream", status, up)
	}
}
