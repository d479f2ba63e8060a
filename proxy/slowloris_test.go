package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// slowListener serves one route with a short header timeout and an idle
// timeout far beyond any test, so only the header timeout can close a conn.
func slowListener(t *testing.T, headerTimeout time.Duration) string {
	t.Helper()
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	router := NewRouter(nil)
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", Targets: []*Target{tg}}})
	router.Store(table)
	ln, err := Listen("127.0.0.1:0", NewHandler(router, HandlerOptions{}), ServerOptions{ReadHeaderTimeout: headerTimeout, IdleTimeout: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// closedByServer reports whether the server closed conn before the test's
// own safety deadline (which only bounds a broken run).
func closedByServer(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.ReadAll(conn)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// Regression: a connection that sent nothing waited the idle timeout (120 s
// by default) for its first byte; only a started head got the header timeout.
func TestSilentConnectionClosedAtTheHeaderTimeout(t *testing.T) {
	addr := slowListener(t, 200*time.Millisecond)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !closedByServer(conn) {
		t.Fatal("a connection that never sent a byte was still open after 30s: the header timeout did not cover the first request")
	}
}

// Many slow-header clients (slowloris) hold a connection each, but no
// request of a normal client waits on them; each is closed at the header
// timeout.
func TestSlowlorisDoesNotDelayANormalClient(t *testing.T) {
	const slow = 200
	addr := slowListener(t, 2*time.Second)
	conns := make([]net.Conn, 0, slow)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < slow; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ") // a head that never ends
		}
	}
	// While all of them hold their connections, a normal client is served:
	// on a fresh connection, and again on a kept-alive one.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Host = "app.test"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("normal client: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("normal client: %d %q", resp.StatusCode, b)
		}
	}
	// The normal requests were answered before any slow client was cut
	// (they are all still open), and then every slow client is cut.
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
	}
	t.Logf("%d of %d slow clients still open when the normal client had its answers", open, slow)
	for i, c := range conns {
		if !closedByServer(c) {
			t.Fatalf("slow client %d still open after 30s: not closed at the header timeout", i)
		}
	}
}
