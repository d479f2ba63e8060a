package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawBackend answers each request on a connection with the next canned
// response, as written; after one that starts with "!" (not sent) it closes
// the connection.
func rawBackend(t *testing.T, responses ...string) *Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	next := make(chan string, len(responses))
	for _, r := range responses {
		next <- r
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					var r string
					select {
					case r = <-next:
					default:
						return
					}
					cut := strings.HasPrefix(r, "!")
					if _, err := io.WriteString(conn, strings.TrimPrefix(r, "!")); err != nil || cut || strings.Contains(r, "Connection: close") {
						return
					}
				}
			}()
		}
	}()
	tg := NewTarget("raw", ln.Addr().String(), nil, TransportOptions{})
	t.Cleanup(tg.Close)
	return tg
}

// Responses the in-place parser leaves to net/http still reach the client
// whole: 1xx before the answer, chunked bodies with trailers, HEAD, 204, 304,
// Connection: close, and a body shorter than its length is cut.
func TestUncommonResponsesThroughProxy(t *testing.T) {
	tg := rawBackend(t,
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhints",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nchunk\r\n3\r\ned!\r\n0\r\nX-Sum: 42\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nclose",
		"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Head: 1\r\n\r\n",
		"!HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nafter",
		"!HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ncut short",
	)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "raw", Host: "raw.test", Targets: []*Target{tg}})
	do := func(method string) (*http.Response, string, error) {
		req, _ := http.NewRequest(method, url+"/", nil)
		req.Host = "raw.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), err
	}
	doErr := func(method string) (*http.Response, string, error) {
		req, _ := http.NewRequest(method, url+"/", nil)
		req.Host = "raw.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), err
	}
	if resp, body, _ := do("GET"); resp.StatusCode != 200 || body != "hints" {
		t.Errorf("after 103: %d %q", resp.StatusCode, body)
	}
	if resp, body, _ := do("GET"); body != "chunked!" || resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("chunked: %q trailer %v", body, resp.Trailer)
	}
	if resp, body, _ := do("GET"); resp.StatusCode != 200 || body != "close" {
		t.Errorf("Connection: close: %d %q", resp.StatusCode, body)
	}
	if resp, body, _ := do("GET"); resp.StatusCode != 204 || body != "" || resp.Header.Get("X-A") != "1" {
		t.Errorf("204: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _, _ := do("GET"); resp.StatusCode != 304 || resp.Header.Get("ETag") != `"x"` {
		t.Errorf("304: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body, _ := do("HEAD"); resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Head") != "1" || resp.ContentLength != 5 {
		t.Errorf("HEAD: %d %q %v length %d", resp.StatusCode, body, resp.Header, resp.ContentLength)
	}
	// POST: the client does not retry it on a connection that ends first.
	if resp, body, err := doErr("POST"); err == nil && resp.StatusCode == 200 {
		t.Errorf("a body of 9 declared bytes ending after 5 reached the client as complete: %q", body)
	}
	if _, body, err := do("GET"); err == nil {
		t.Errorf("a body cut short reached the client as complete: %q", body)
	}
}

// A keep-alive upstream connection is reused after a response read in place,
// also when the client did not read the body before leaving.
func TestCommonResponseReusesConnection(t *testing.T) {
	conns := make(chan struct{}, 100)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 100))
	}), ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns <- struct{}{}
		}
	}}
	go hs.Serve(ln)
	defer hs.Close()
	tg := NewTarget("t", ln.Addr().String(), nil, TransportOptions{})
	defer tg.Close()
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})
	for i := 0; i < 10; i++ {
		resp := get(t, url+"/", "app.test")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 100 || !bytes.Equal(b, bytes.Repeat([]byte("y"), 100)) {
			t.Fatalf("body %q", b)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(conns); n != 1 {
		t.Fatalf("%d upstream connections for 10 sequential requests, want 1", n)
	}
}

// The response-header timeout kept from one request to the next on a
// connection never cuts a body, never fails a connection reused after it
// passed, and still ends a response whose header does not come.
func TestHeaderTimeoutAcrossReusedConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv := backend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trickle":
			w.Header().Set("Content-Length", "6")
			io.WriteString(w, "abc")
			w.(http.Flusher).Flush()
			time.Sleep(2 * timeout)
			io.WriteString(w, "def")
		case "/slow":
			time.Sleep(3 * timeout)
			io.WriteString(w, "late")
		default:
			io.WriteString(w, "ok")
		}
	})
	tg := NewTarget("t", srv.Addr, nil, TransportOptions{ResponseHeaderTimeout: timeout})
	t.Cleanup(tg.Close)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})
	body := func(path string) (int, string) {
		resp := get(t, url+path, "app.test")
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return resp.StatusCode, "error: " + err.Error()
		}
		return resp.StatusCode, string(b)
	}
	for i := 0; i < 3; i++ {
		if st, b := body("/"); st != 200 || b != "ok" {
			t.Fatalf("fast: %d %q", st, b)
		}
		if st, b := body("/trickle"); st != 200 || b != "abcdef" {
			t.Fatalf("a body slower than the header timeout: %d %q", st, b)
		}
		if st, b := body("/"); st != 200 || b != "ok" {
			t.Fatalf("fast after trickle: %d %q", st, b)
		}
		time.Sleep(timeout + 50*time.Millisecond) // past any deadline left on the idle connection
		if st, b := body("/"); st != 200 || b != "ok" {
			t.Fatalf("connection reused after its deadline passed: %d %q", st, b)
		}
		start := time.Now()
		if st, _ := body("/slow"); st != http.StatusGatewayTimeout {
			t.Fatalf("header later than the timeout: %d, want 504", st)
		}
		// A timeout is never retried (the retry rule, proxy/internal/
		// upstreamconn): the 504 comes after one header timeout, up to 1/64
		// early when a deadline kept on the reused connection brings it
		// (armHeaderTimeout); the upper bound leaves room for a slow machine.
		if d := time.Since(start); d < timeout-timeout/64-5*time.Millisecond || d > 2*timeout+timeout/2 {
			t.Fatalf("header timeout after %v, want about %v", d, timeout)
		}
	}
}
