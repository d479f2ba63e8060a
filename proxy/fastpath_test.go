package proxy

import (
	"bufio"
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
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy/internal/h1"
)

// requestView is what a handler sees of a request, and which path served it.
func requestView(w http.ResponseWriter, r *http.Request) string {
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q path=%q raw=%q query=%q force=%v host=%q proto=%s close=%v len=%d\n",
		r.Method, r.RequestURI, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.ForceQuery, r.Host, r.Proto, r.Close, r.ContentLength)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, r.Header[k])
	}
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(&b, "body=%q", body)
	return b.String()
}

// serveRaw starts the same handler on baton's listener and on a plain
// net/http server; both report which kind of ResponseWriter served.
func serveRaw(t *testing.T, h http.HandlerFunc) (baton, nethttp string) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", h, ServerOptions{ReadHeaderTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return ln.Addr().String(), strings.TrimPrefix(srv.URL, "http://")
}

// sendRaw opens a connection to addr, bounded by 3s, and writes raw on it.
func sendRaw(t *testing.T, addr, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// exchangeRaw writes raw to addr and reads the responses expected, returning
// each as status + view.
func exchangeRaw(t *testing.T, addr, raw string, responses int) []string {
	t.Helper()
	_, br := sendRaw(t, addr, raw)
	var out []string
	for i := 0; i < responses; i++ {
		resp, err := http.ReadResponse(br, nil)
		for err == nil && resp.StatusCode < 200 {
			resp, err = http.ReadResponse(br, nil) // 100 Continue: the final answer follows
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			break
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		view := fmt.Sprintf("%d %s", resp.StatusCode, body)
		if resp.StatusCode/100 != 2 {
			view = fmt.Sprint(resp.StatusCode) // error texts differ; the status must not
		}
		out = append(out, view)
	}
	return out
}

// The fast path must see every request it serves as net/http would. Where
// net/http repairs a doubtful request (CL with TE, obs-fold, bare LF, a
// fragment, an 9 KiB field), baton refuses it instead: those vectors are in
// the conformance suite (proxy/conformance), with baton's exact answers.
func TestFastPathSeesRequestsAsNetHTTPDoes(t *testing.T) {
	baton, plain := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, requestView(w, r))
	})
	big := strings.Repeat("x", 7<<10) // over the 4 KiB buffer, under the 8 KiB line limit
	cases := []struct {
		name, raw string
		responses int
	}{
		{"plain GET", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 1},
		{"query and escapes", "GET /a%20b/c%2Fd?x=1&y=%20 HTTP/1.1\r\nHost: a.test:8080\r\n\r\n", 1},
		{"empty query", "GET /p? HTTP/1.1\r\nHost: a.test\r\n\r\n", 1},
		{"header case, repeats, spaces", "GET / HTTP/1.1\r\nhost: A.Test\r\nx-foo:  1 \t\r\nX-FOO: 2\r\nuser-agent: t\r\n\r\n", 1},
		{"zero length", "DELETE /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", 1},
		{"connection close", "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 1},
		{"pipelined", "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n", 2},
		{"body", "POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello", 1},
		{"chunked body", "POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 1},
		{"expect", "PUT /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok", 1},
		{"http/1.0", "GET / HTTP/1.0\r\nHost: a.test\r\n\r\n", 1},
		{"absolute form", "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", 1},
		{"large header", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + big + "\r\n\r\n", 1},
		{"chunked with extension and trailer", "POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", 1},
		{"body then pipelined", "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nhiGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n", 2},
		{"fast then body", "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nhi", 2},
		{"missing host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", 1},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 1},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 1},
		{"two lengths", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\nx", 1},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", 1},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: a.test\r\nX: a\x01b\r\n\r\n", 1},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a.test\r\n\r\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := exchangeRaw(t, baton, tc.raw, tc.responses)
			want := exchangeRaw(t, plain, tc.raw, tc.responses)
			if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
				t.Errorf("baton saw:\n%s\nnet/http saw:\n%s", strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
			}
		})
	}
}

// Which path serves which request: every HTTP/1.1 request the fast path
// (the speed is the point, and one parser judges every head); HTTP/1.0 goes
// to net/http after the same checks.
func TestFastPathTakesEveryHTTP11Request(t *testing.T) {
	baton, _ := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		fast := h1.IsFastPath(w)
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, fast)
	})
	for raw, fast := range map[string]bool{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n":                                               true,
		"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n":                     true,
		"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\nx":                        true,
		"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n":       true,
		"PUT / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx": true,
		"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n":                                  true,
		"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n":          true,
		"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n":                                               false,
	} {
		got := exchangeRaw(t, baton, raw, 1)
		if want := fmt.Sprintf("200 %v", fast); len(got) != 1 || got[0] != want {
			t.Errorf("%q: got %v, want %s", raw, got, want)
		}
	}
}

// readOne sends raw on a new connection and returns the parsed response with
// its body read, and whether the server closed the connection after it. A
// close is awaited up to the connection's 3 s bound when wantClosed, else
// 200 ms: a close that comes later is then missed (the test passes without
// testing it), never taken for one that did not come.
func readOne(t *testing.T, addr, raw, method string, wantClosed bool) (*http.Response, string, bool) {
	t.Helper()
	conn, br := sendRaw(t, addr, raw)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err == io.ErrUnexpectedEOF {
		return resp, string(body), true // a short body, then the end of the connection
	}
	if err != nil {
		t.Fatalf("%q: body: %v", raw, err)
	}
	if !wantClosed {
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	_, err = br.ReadByte()
	closed := err == io.EOF
	return resp, string(body), closed
}

func TestFastPathFramesResponsesAsNetHTTPDoes(t *testing.T) {
	baton, _ := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			io.WriteString(w, "short answer")
		case "/long":
			io.WriteString(w, strings.Repeat("y", 10<<10))
		case "/declared":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "12345")
		case "/underrun":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
		case "/flushed":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.(http.Flusher).Flush()
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "7")
		case "/inject":
			w.Header()["X-Value"] = []string{"a\r\nX-Evil: 1"}
			io.WriteString(w, "ok")
		}
	})
	cases := []struct {
		path, method string
		length       int64
		chunked      bool
		body         string
		closed       bool
	}{
		{path: "/short", length: 12, body: "short answer"},
		{path: "/long", length: -1, chunked: true, body: strings.Repeat("y", 10<<10)},
		{path: "/declared", length: 5, body: "12345"},
		{path: "/underrun", length: 10, body: "12345", closed: true}, // a short body, then the end
		{path: "/flushed", length: -1, chunked: true, body: "ab"},
		{path: "/empty", length: 0},
		{path: "/short", method: http.MethodHead, length: -1},
		{path: "/declared", method: http.MethodHead, length: 5},
		{path: "/trailer", length: -1, chunked: true, body: "body"},
		{path: "/inject", length: 2, body: "ok"},
	}
	for _, tc := range cases {
		method := tc.method
		if method == "" {
			method = http.MethodGet
		}
		resp, body, closed := readOne(t, baton, method+" "+tc.path+" HTTP/1.1\r\nHost: a.test\r\n\r\n", method, tc.closed)
		chunked := len(resp.TransferEncoding) > 0
		if resp.ContentLength != tc.length || chunked != tc.chunked || body != tc.body || closed != tc.closed {
			t.Errorf("%s %s: length %d chunked %v body %q closed %v; want %d %v %q %v",
				method, tc.path, resp.ContentLength, chunked, trim(body), closed, tc.length, tc.chunked, trim(tc.body), tc.closed)
		}
		if resp.Header.Get("Date") == "" {
			t.Errorf("%s: no Date header", tc.path)
		}
		switch tc.path {
		case "/trailer":
			if resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "7" {
				t.Errorf("trailers %v, want X-Sum 42 and X-Late 7", resp.Trailer)
			}
		case "/inject":
			if resp.Header.Get("X-Evil") != "" || resp.Header.Get("X-Value") != "a  X-Evil: 1" {
				t.Errorf("header value split into a header of its own: %v", resp.Header)
			}
		}
	}
	// A client that asks to close gets Connection: close and a closed connection.
	resp, _, closed := readOne(t, baton, "GET /short HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", http.MethodGet, true)
	if !resp.Close || !closed {
		t.Errorf("Connection: close: response Close %v, connection closed %v", resp.Close, closed)
	}
}

// cancellableBackend holds each request until its context ends (the proxy
// cancelled it: cancelled is closed) or the test ends; arrived gets a value
// as each request reaches it.
func cancellableBackend(t *testing.T) (tg *Target, arrived, cancelled chan struct{}) {
	arrived, cancelled = make(chan struct{}, 1), make(chan struct{})
	testEnded := make(chan struct{})
	tg = backend(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-testEnded:
		case <-r.Context().Done():
			close(cancelled)
		}
	})
	t.Cleanup(func() { close(testEnded) }) // runs before backend's srv.Close
	return tg, arrived, cancelled
}

// A client that leaves while the upstream works is counted 499 and its
// upstream request is cancelled, on the fast path too (where nothing reads
// the client's connection during a quick exchange).
func TestFastPathClientGoneCancelsUpstream(t *testing.T) {
	slow, arrived, cancelled := cancellableBackend(t)
	m := newRecordingMetrics()
	_, url := newProxyWith(t, m, HandlerOptions{}, &Route{Service: "slow", Host: "slow.test", Targets: []*Target{slow}})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n")
	testutil.Recv(t, arrived, "the request to reach the upstream")
	conn.Close()
	testutil.Recv(t, cancelled, "the upstream request to be cancelled after the client left")
	testutil.Eventually(t, "slow route to record 499", func() bool { s := m.statusesOf("slow"); return len(s) == 1 && s[0] == StatusClientClosed })
}

// A pipelined request that arrives while the first one waits on a slow
// upstream is read by the client watch and then served, not lost.
func TestFastPathKeepsAPipelinedRequestReadByTheWatch(t *testing.T) {
	started, sent := make(chan struct{}), make(chan struct{})
	baton, _ := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-sent
			// The watch starts reading 25 ms into a handler (h1's
			// clientWatchDelay) and takes /next's bytes into the
			// connection's buffer whether they came before or during its
			// read; the handler outlives that by far. Were the watch
			// late, the test would pass without testing, never fail.
			time.Sleep(250 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	})
	conn, br := sendRaw(t, baton, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	testutil.Recv(t, started, "the slow handler to start")
	io.WriteString(conn, "GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n")
	close(sent)
	for _, want := range []string{"/slow", "/next"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

func TestFastPathShutdownFinishesInFlightAndClosesIdle(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	ln, err := Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release // in flight until Shutdown is under way
		}
		io.WriteString(w, "done")
	}), ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Close()
	addr := ln.Addr().String()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}

	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	testutil.Recv(t, started, "the slow request to start")
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- ln.Shutdown(ctx) }()
	// Shutdown closes idle connections at once and waits for busy ones.
	idle.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Errorf("idle connection not closed at shutdown: %v", err)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("shutdown returned (%v) with a request in flight", err)
	default:
	}
	releaseOnce()
	if err := testutil.Recv(t, shutdown, "shutdown to return"); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("in-flight request lost at shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" || !resp.Close {
		t.Errorf("in-flight answer %q, Connection: close %v", body, resp.Close)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

// Regression: the client watch read under the connection's idle deadline, so
// a request that outlived the idle timeout stopped being watched and a client
// leaving after that left its upstream request running.
func TestFastPathWatchesRequestsLongerThanTheIdleTimeout(t *testing.T) {
	slow, arrived, cancelled := cancellableBackend(t)
	router := NewRouter(nil)
	table, _ := NewTable([]*Route{{Service: "slow", Host: "slow.test", Targets: []*Target{slow}}})
	router.Store(table)
	ln, err := Listen("127.0.0.1:0", NewHandler(router, HandlerOptions{}), ServerOptions{IdleTimeout: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n")
	testutil.Recv(t, arrived, "the request to reach the upstream")
	// Not a synchronisation: the request must outlive the idle timeout,
	// so time has to pass (three idle timeouts).
	time.Sleep(600 * time.Millisecond)
	conn.Close()
	testutil.Recv(t, cancelled, "the upstream request to be cancelled after the client left")
}

// A handler that aborts (a cut upstream body) ends the client's connection,
// so the client cannot mistake a partial body for a whole one; the listener
// serves the next connection as before.
func TestFastPathAbortedHandlerClosesTheConnection(t *testing.T) {
	baton, _ := serveRaw(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cut" {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	})
	_, body, closed := readOne(t, baton, "GET /cut HTTP/1.1\r\nHost: a.test\r\n\r\n", http.MethodGet, true)
	if body != "partial" || !closed {
		t.Errorf("cut answer: body %q, closed %v; want the partial body, then the end", body, closed)
	}
	if got := exchangeRaw(t, baton, "GET /ok HTTP/1.1\r\nHost: a.test\r\n\r\n", 1); len(got) != 1 || got[0] != "200 fine" {
		t.Errorf("next connection: %v", got)
	}
}

// On HTTPS the fast path serves HTTP/1.1 after its own handshake, HTTP/2 goes
// to net/http untouched, and a connection handed over mid-way (a body) keeps
// r.TLS, on which X-Forwarded-Proto, the cache key and HSTS depend.
func TestFastPathOverTLS(t *testing.T) {
	borrowed := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate and a client trusting it
	defer borrowed.Close()
	tc := &tls.Config{Certificates: borrowed.TLS.Certificates, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
	ln, err := ListenTLS("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fast := h1.IsFastPath(w)
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s fast=%v tls=%v", r.Proto, fast, r.TLS != nil && r.TLS.HandshakeComplete)
	}), tc, ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Close()
	url := "https://" + ln.Addr().String() + "/"

	do := func(client *http.Client, method string, body io.Reader) string {
		req, _ := http.NewRequest(method, url, body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	roots := x509.NewCertPool()
	roots.AddCert(borrowed.Certificate())
	// A custom TLS config without ForceAttemptHTTP2 offers only HTTP/1.1.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	if got := do(h1, http.MethodGet, nil); got != "HTTP/1.1 fast=true tls=true" {
		t.Errorf("HTTP/1.1 GET over TLS: %q", got)
	}
	if got := do(h1, http.MethodPost, strings.NewReader("body")); got != "HTTP/1.1 fast=true tls=true" {
		t.Errorf("HTTP/1.1 POST over TLS: %q", got)
	}
	// HTTP/1.0 is handed to net/http after the handshake and keeps r.TLS.
	tconn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer tconn.Close()
	tconn.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(tconn, "GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(tconn), nil); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(resp.Body); string(b) != "HTTP/1.0 fast=false tls=true" {
		t.Errorf("HTTP/1.0 over TLS (handed to net/http): %q", b)
	}
	// Plain HTTP on the HTTPS port gets a 400 that says why.
	if got := exchangeRaw(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 1); len(got) != 1 || got[0] != "400" {
		t.Errorf("plain HTTP to the HTTPS port: %v, want 400", got)
	}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	if got := do(h2, http.MethodGet, nil); got != "HTTP/2.0 fast=false tls=true" {
		t.Errorf("HTTP/2 GET: %q", got)
	}
}

// trim shortens a long body for a failure message.
func trim(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s... (%d bytes)", s[:40], len(s))
	}
	return s
}
