package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/batonproxy/baton/internal/testutil"
)

// edge is baton's HTTPS side as `baton serve` composes it: the TCP listener
// (HTTP/1.1 and HTTP/2, Alt-Svc advertised) and HTTP/3 on UDP at the same
// port, both serving one handler; plain is the HTTP listener beside them.
type edge struct {
	tcp   *Listener
	h3    *HTTP3
	plain string // http://127.0.0.1:port
	roots *x509.CertPool
}

func newEdge(t *testing.T, routes ...*Route) *edge {
	t.Helper()
	return newEdgeWith(t, HandlerOptions{}, routes...)
}

func newEdgeWith(t *testing.T, o HandlerOptions, routes ...*Route) *edge {
	t.Helper()
	router := NewRouter(nil)
	table, errs := NewTable(routes)
	if len(errs) > 0 {
		t.Fatalf("table: %v", errs)
	}
	router.Store(table)
	handler := NewHandler(router, o)

	borrowed := httptest.NewTLSServer(http.NotFoundHandler()) // for a certificate of 127.0.0.1 and its root
	t.Cleanup(borrowed.Close)
	roots := x509.NewCertPool()
	roots.AddCert(borrowed.Certificate())
	tc := &tls.Config{Certificates: borrowed.TLS.Certificates, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}

	e := &edge{roots: roots, h3: NewHTTP3(handler, tc, ServerOptions{}, nil)}
	// As serve does: the TCP listener advertises HTTP/3 and is bound first,
	// HTTP/3 takes its port.
	tcp, err := ListenTLS("127.0.0.1:0", e.h3.Advertise(handler), tc, ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.tcp = tcp
	pc, err := BindUDP(tcp.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.h3.Listen(pc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tc.NextProtos, []string{"h2", "http/1.1"}) {
		t.Fatalf("the shared TLS config was changed: NextProtos %v", tc.NextProtos)
	}
	go tcp.Serve()
	go e.h3.Serve()
	t.Cleanup(func() { tcp.Close(); e.h3.Close() })

	plain, err := Listen("127.0.0.1:0", handler, ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go plain.Serve()
	t.Cleanup(func() { plain.Close() })
	e.plain = "http://" + plain.Addr().String()
	return e
}

func (e *edge) url(path string) string { return "https://" + e.tcp.Addr().String() + path }

func (e *edge) h1Client(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots}} // no ForceAttemptHTTP2: HTTP/1.1 only
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (e *edge) h2Client(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (e *edge) h3Client(t *testing.T) *http.Client {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: e.roots}}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr}
}

type answer struct {
	proto, status, body string
	header              http.Header
}

func do(t *testing.T, c *http.Client, method, url, host string, body io.Reader) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s over %s: body: %v", method, url, resp.Proto, err)
	}
	return answer{proto: resp.Proto, status: resp.Status, body: string(b), header: resp.Header}
}

// echo is an upstream that writes back what it got: everything a client of
// one protocol or the other could find different behind baton.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Up", "yes")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s %s %s host=%s xfp=%s xfport=%s xfh=%s xff=%s chain=%s te=%v cl=%d body=%q",
		r.Method, r.RequestURI, r.Proto, r.Host, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Port"),
		r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Chain"),
		r.TransferEncoding, r.ContentLength, b)
}

// chainMark is a middleware: it marks the request upstream and the answer.
func chainMark(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Chain", "in")
		w.Header().Set("X-Chain", "out")
		next.ServeHTTP(w, r)
	})
}

// An HTTP/3 client gets what an HTTP/1.1 client gets for the same route:
// the same status, body and fields, the upstream seeing the same request
// (forwarded headers, the middleware's change, no body on a GET), and the
// HTTPS answers over TCP advertise HTTP/3 at that port while plain HTTP's
// do not.
func TestHTTP3AnswersAsHTTP1(t *testing.T) {
	up := backend(t, echo)
	e := newEdge(t,
		&Route{Service: "web", Host: "app.test", Path: "/", Targets: []*Target{up}, Chain: chainMark(Upstream)},
	)
	h1c, h3c := e.h1Client(t), e.h3Client(t)
	cases := []struct {
		method, path, body string
	}{
		{http.MethodGet, "/page?q=1", ""},
		{http.MethodHead, "/page", ""},
		{http.MethodPost, "/form", "a=1&b=2"},
		{http.MethodPost, "/empty", ""},
		{http.MethodDelete, "/item/7", ""},
	}
	for _, c := range cases {
		body := func() io.Reader {
			if c.body == "" {
				return nil
			}
			return strings.NewReader(c.body)
		}
		a3 := do(t, h3c, c.method, e.url(c.path), "app.test", body())
		a1 := do(t, h1c, c.method, e.url(c.path), "app.test", body())
		if a3.proto != "HTTP/3.0" || a1.proto != "HTTP/1.1" {
			t.Fatalf("%s %s: protocols %s and %s, want HTTP/3.0 and HTTP/1.1", c.method, c.path, a3.proto, a1.proto)
		}
		if a3.status != a1.status || a3.body != a1.body {
			t.Errorf("%s %s:\nHTTP/3   %s %q\nHTTP/1.1 %s %q", c.method, c.path, a3.status, a3.body, a1.status, a1.body)
		}
		if c.method != http.MethodHead && !strings.Contains(a1.body, "xfp=https xfport="+portOf(e.tcp.Addr().String())+" ") {
			t.Errorf("%s %s: the upstream saw %q, want X-Forwarded-Proto https and the HTTPS port", c.method, c.path, a1.body)
		}
		for _, k := range []string{"X-Up", "X-Chain", "Cache-Control", "Content-Type", "Content-Length"} {
			if a3.header.Get(k) != a1.header.Get(k) {
				t.Errorf("%s %s: %s is %q over HTTP/3, %q over HTTP/1.1", c.method, c.path, k, a3.header.Get(k), a1.header.Get(k))
			}
		}
		if got := a1.header.Get("X-Chain"); got != "out" {
			t.Errorf("%s %s: the middleware's field is %q, want out", c.method, c.path, got)
		}
		if got, want := a1.header.Values("Alt-Svc"), []string{`h3=":` + portOf(e.tcp.Addr().String()) + `"; ma=86400`}; !slices.Equal(got, want) {
			t.Errorf("%s %s: Alt-Svc over HTTPS/1.1 is %q, want %q", c.method, c.path, got, want)
		}
	}
	// A GET carries no body upstream whichever the protocol (HTTP/3 has no
	// END_STREAM flag on its HEADERS: the probe tells).
	if a := do(t, h3c, http.MethodGet, e.url("/"), "app.test", nil); !strings.Contains(a.body, "te=[] cl=0 ") {
		t.Errorf("HTTP/3 GET upstream: %q, want no Transfer-Encoding and no body", a.body)
	}
	if a := do(t, e.h2Client(t), http.MethodGet, e.url("/"), "app.test", nil); a.proto != "HTTP/2.0" || a.header.Get("Alt-Svc") == "" {
		t.Errorf("HTTP/2 answer (%s) Alt-Svc %q, want it advertised", a.proto, a.header.Get("Alt-Svc"))
	}
	if a := do(t, &http.Client{}, http.MethodGet, e.plain+"/", "app.test", nil); a.status != "200 OK" || len(a.header.Values("Alt-Svc")) != 0 {
		t.Errorf("plain HTTP answer %s, Alt-Svc %q: want 200 and no Alt-Svc", a.status, a.header.Values("Alt-Svc"))
	}
	// A route that does not exist answers alike too.
	a3, a1 := do(t, h3c, http.MethodGet, e.url("/"), "nowhere.test", nil), do(t, h1c, http.MethodGet, e.url("/"), "nowhere.test", nil)
	if a3.status != "404 Not Found" || a3.status != a1.status || a3.body != a1.body {
		t.Errorf("unrouted host: HTTP/3 %s %q, HTTP/1.1 %s %q", a3.status, a3.body, a1.status, a1.body)
	}
}

// The access log tells the protocols apart, and nothing else of the line.
func TestHTTP3AccessLog(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	up := backend(t, echo)
	e := newEdgeWith(t, HandlerOptions{Logger: zap.New(core), AccessLog: true},
		&Route{Service: "web", Host: "app.test", Path: "/", Targets: []*Target{up}})
	do(t, e.h3Client(t), http.MethodGet, e.url("/x"), "app.test", nil)
	do(t, e.h1Client(t), http.MethodGet, e.url("/x"), "app.test", nil)
	// The line is written once the answer is: poll for both.
	testutil.Eventually(t, "two access-log lines", func() bool { return logs.FilterMessage("request").Len() >= 2 })
	by := map[any]map[string]any{}
	for _, l := range logs.FilterMessage("request").All() {
		m := l.ContextMap()
		by[m["proto"]] = m
	}
	h3, h1 := by["HTTP/3.0"], by["HTTP/1.1"]
	if len(by) != 2 || h3 == nil || h1 == nil {
		t.Fatalf("access-log lines by proto: %v, want one HTTP/3.0 and one HTTP/1.1", by)
	}
	for _, k := range []string{"method", "host", "path", "status", "service", "target"} {
		if h3[k] != h1[k] {
			t.Errorf("%s: %v over HTTP/3, %v over HTTP/1.1", k, h3[k], h1[k])
		}
	}
}

// The TCP listener never negotiates h3: quic-go's copy of the TLS config
// offers it, the shared one does not.
func TestHTTP3NotOfferedOverTCP(t *testing.T) {
	e := newEdge(t)
	conn, err := tls.Dial("tcp", e.tcp.Addr().String(), &tls.Config{RootCAs: e.roots, NextProtos: []string{"h3"}})
	if err == nil {
		defer conn.Close()
		if p := conn.ConnectionState().NegotiatedProtocol; p == "h3" {
			t.Fatalf("TCP negotiated %q", p)
		}
	}
}

// countingTracker counts the requests a target's tracker is told of (drain's
// per-target in-flight accounting is such a tracker).
type countingTracker struct{ begun, finished atomic.Int64 }

func (c *countingTracker) Begin(context.CancelCauseFunc) uint64 { return uint64(c.begun.Add(1)) }
func (c *countingTracker) Finish(uint64)                        { c.finished.Add(1) }
func (c *countingTracker) Upgraded(LongLived) func()            { return func() {} }

// Shutdown lets a request in flight finish (its target's tracker counts it
// as drain counts any), tells the client to open no new one (GOAWAY), and
// stops advertising HTTP/3 on the TCP side at once.
func TestHTTP3ShutdownFinishesInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var released atomic.Bool
	unblock := func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}
	tracker := &countingTracker{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(unblock) // before srv.Close, which waits for the handler
	addr := strings.TrimPrefix(srv.URL, "http://")
	up := NewTarget("static:"+addr, addr, tracker, TransportOptions{})
	t.Cleanup(up.Close)
	e := newEdge(t, &Route{Service: "web", Host: "app.test", Path: "/", Targets: []*Target{up}})
	h3c := e.h3Client(t)
	if a := do(t, h3c, http.MethodGet, e.url("/warm"), "app.test", nil); a.body != "done /warm" {
		t.Fatalf("first answer %q", a.body)
	}

	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.url("/slow"), nil)
		req.Host = "app.test"
		resp, err := h3c.Do(req)
		if err != nil {
			got <- answer{status: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{status: resp.Status, body: string(b)}
	}()
	<-arrived
	if b, f := tracker.begun.Load(), tracker.finished.Load(); b != 2 || f != 1 {
		t.Fatalf("tracker saw %d begun, %d finished; want the HTTP/3 request in flight counted", b, f)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { done <- e.h3.Shutdown(ctx) }()
	// The TCP side stops advertising as soon as HTTP/3 is going away.
	testutil.Eventually(t, "Alt-Svc no longer advertised after Shutdown began", func() bool {
		return do(t, e.h1Client(t), http.MethodGet, e.url("/warm"), "app.test", nil).header.Get("Alt-Svc") == ""
	})
	unblock()
	if a := <-got; a.status != "200 OK" || a.body != "done /slow" {
		t.Errorf("in-flight request across Shutdown: %s %q, want 200 and its whole body", a.status, a.body)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if b, f := tracker.begun.Load(), tracker.finished.Load(); b != f {
		t.Errorf("tracker: %d begun, %d finished", b, f)
	}
}

// What the fast path refuses before the handler, HTTP/3 refuses too.
func TestHTTP3RequestChecks(t *testing.T) {
	lim := h3Limits{line: 64, fields: 3}
	req := func(method, target, host string, fields ...string) *http.Request {
		r := &http.Request{Method: method, RequestURI: target, Host: host, Header: http.Header{}, URL: &url.URL{Path: target}}
		for i := 0; i+1 < len(fields); i += 2 {
			r.Header.Add(fields[i], fields[i+1])
		}
		return r
	}
	cases := []struct {
		name string
		r    *http.Request
		want int
	}{
		{"plain", req("GET", "/a?b=c", "app.test", "Accept", "*/*"), 0},
		{"with port", req("GET", "/", "app.test:8443"), 0},
		{"space in target", req("GET", "/a b", "app.test"), http.StatusBadRequest},
		{"non-ASCII target", req("GET", "/caf\xc3\xa9", "app.test"), http.StatusBadRequest},
		{"empty target", req("GET", "", "app.test"), http.StatusBadRequest},
		{"no authority", req("GET", "/", ""), http.StatusBadRequest},
		{"bad authority", req("GET", "/", "app test"), http.StatusBadRequest},
		{"long target", req("GET", "/"+strings.Repeat("a", 60), "app.test"), http.StatusRequestURITooLong},
		{"long field", req("GET", "/", "app.test", "X-Long", strings.Repeat("v", 60)), http.StatusRequestHeaderFieldsTooLarge},
		{"fields at the limit", req("GET", "/", "app.test", "A", "1", "B", "2", "B", "3"), 0},
		{"too many fields", req("GET", "/", "app.test", "A", "1", "B", "2", "B", "3", "C", "4"), http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, c := range cases {
		if got, why := lim.check(c.r); got != c.want {
			t.Errorf("%s: %d (%s), want %d", c.name, got, why, c.want)
		}
	}
}

func portOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	return addr[i+1:]
}

// HTTP/2 gets the same target and :authority checks as HTTP/3: net/http's
// HTTP/2 server hands a handler a :path with a space as it came, and the
// upstream would get it inside its request line.
func TestHTTP2TargetCheckedAsHTTP3(t *testing.T) {
	// A raw upstream: it records each request line and head as it came, so
	// a refusal by the upstream's own parser cannot pass for baton's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
					if !strings.HasPrefix(line, "X-") && !strings.HasPrefix(line, "Accept") {
						lines <- strings.TrimRight(line, "\r\n")
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	up := NewTarget("static:raw", ln.Addr().String(), nil, TransportOptions{})
	t.Cleanup(up.Close)
	e := newEdge(t, &Route{Service: "web", Host: "*", Path: "/", Targets: []*Target{up}})
	for _, c := range []struct {
		path, authority string
		refused         bool
	}{
		{"/ok", "app.test", false},
		{"/a b", "app.test", true},
		{"/a\tb", "app.test", true},
		{"/ok", "app test", true},
	} {
		status := rawH2(t, e, c.path, c.authority)
		// net/http's own refusals reset the stream; baton's answer 400.
		if refused := status == "400" || strings.HasPrefix(status, "RST_STREAM"); refused != c.refused || !refused && status != "200" {
			t.Errorf(":path %q :authority %q: %s, want refused %v", c.path, c.authority, status, c.refused)
		}
	}
	close(lines)
	var seen []string
	for l := range lines {
		seen = append(seen, l)
	}
	if !slices.Equal(seen, []string{"GET /ok HTTP/1.1", "Host: app.test"}) {
		t.Errorf("the upstream got %q, want only GET /ok for app.test", seen)
	}
}

// rawH2 sends one GET with the given pseudo-fields over HTTP/2 (a client
// library would refuse to) and returns the response's :status.
func rawH2(t *testing.T, e *edge, path, authority string) string {
	t.Helper()
	c, err := tls.Dial("tcp", e.tcp.Addr().String(), &tls.Config{RootCAs: e.roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "read: " + err.Error()
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil || len(fields) == 0 {
				return fmt.Sprintf("bad HEADERS: %v", err)
			}
			return fields[0].Value
		case *http2.RSTStreamFrame:
			return "RST_STREAM " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			return "GOAWAY " + f.ErrCode.String()
		}
	}
}
