package proxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batonproxy/baton/internal/testutil"
)

func TestListenerCollectorCountsRefusalsAndHeldBuffers(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(ln.Collector("http"))

	// A request with Content-Length and Transfer-Encoding is refused (RFC 9112 §6.1).
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
		t.Fatalf("answer %q", answer)
	}
	want := `
# HELP baton_http1_refused_total HTTP/1.1 requests refused (400, 405, 414, 417, 431, 501, 505) and their connections closed.
# TYPE baton_http1_refused_total counter
baton_http1_refused_total{listener="http"} 1
# HELP baton_http1_connections_buffered HTTP/1.1 connections holding read and write buffers now (serving a request); idle ones hold none.
# TYPE baton_http1_connections_buffered gauge
baton_http1_connections_buffered{listener="http"} 0
`
	testutil.EventuallyNil(t, "the listener's metrics", func() error {
		return promtest.GatherAndCompare(reg, strings.NewReader(want), "baton_http1_refused_total", "baton_http1_connections_buffered")
	})
}
