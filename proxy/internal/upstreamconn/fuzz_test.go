package upstreamconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzBackend answers the first request on the first connection with raw,
// and every later request (any connection) with "next-<n>", framed exactly.
// It records on which connection each request came.
type fuzzBackend struct {
	ln    net.Listener
	raw   []byte
	nonce string // in every later answer: the fuzzer cannot forge it

	mu    sync.Mutex
	conns []int // connection number of each request, in order
}

func startFuzzBackend(t testing.TB, raw []byte) *fuzzBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var nb [8]byte
	rand.Read(nb[:])
	b := &fuzzBackend{ln: ln, raw: raw, nonce: hex.EncodeToString(nb[:])}
	go func() {
		for n := 0; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(conn, n)
		}
	}()
	return b
}

func (b *fuzzBackend) serve(conn net.Conn, n int) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		b.mu.Lock()
		b.conns = append(b.conns, n)
		i := len(b.conns)
		b.mu.Unlock()
		if i == 1 {
			conn.Write(b.raw)
			continue
		}
		body := "next-" + strconv.Itoa(i) + "-" + b.nonce
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
}

// reusableByNetHTTP reads raw as the answer to method as net/http's
// Transport would (1xx skipped, the body read to its end) and reports
// whether that connection could carry another request: a clean end, no
// Connection: close, nothing left over.
func reusableByNetHTTP(raw []byte, method string) bool {
	br := bufio.NewReader(bytes.NewReader(raw))
	req := &http.Request{Method: method}
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return false
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return false
		}
		if resp.StatusCode < 200 {
			continue
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.Close {
			return false
		}
		return br.Buffered() == 0
	}
}

// FuzzUpstreamClientNeverMixesResponses serves random bytes as an upstream's
// answer to baton's upstream client, then sends a second request. The second
// request must get its own answer (with a nonce the fuzzer cannot forge),
// never a byte of the first answer nor an error the first one caused; and
// where net/http would not reuse the connection, baton must not have reused
// it either.
func FuzzUpstreamClientNeverMixesResponses(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen",
		"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nxyz",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nraw",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		if len(raw) > 4<<10 {
			return
		}
		b := startFuzzBackend(t, raw)
		defer b.ln.Close()
		c := New(b.ln.Addr().String(), Options{
			DialTimeout: time.Second, ResponseHeaderTimeout: 5 * time.Second, IdleConnTimeout: time.Minute, MaxIdleConns: 4,
		})
		defer c.CloseIdle()
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		// A first answer that never ends is cut by its context; the header
		// timeout is generous, so that load on the machine cannot make the
		// second answer late and fake a finding.
		first := roundTripOnce(c, method, "/first", 120*time.Millisecond)
		second := roundTripOnce(c, http.MethodGet, "/second", 5*time.Second)
		if second.err != nil || second.body != "next-2-"+b.nonce {
			t.Fatalf("second request got %d %q (%v), not its own answer (first: %d %q, %v)\nraw: %q", second.status, second.body, second.err, first.status, first.body, first.err, raw)
		}
		b.mu.Lock()
		conns := append([]int(nil), b.conns...)
		b.mu.Unlock()
		reused := len(conns) >= 2 && conns[0] == conns[1]
		if reused && !reusableByNetHTTP(raw, method) {
			t.Fatalf("baton reused a connection net/http would have closed\nraw: %q", raw)
		}
	})
}

type fuzzResult struct {
	status int
	body   string
	err    error
}

func roundTripOnce(c *Client, method, path string, timeout time.Duration) fuzzResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ex := NewExchange(ctx)
	defer ex.Release()
	ex.Method = method
	ex.Target, ex.Host = path, "fuzz.test"
	ex.Header = http.Header{}
	ex.Replayable = true
	resp, err := c.RoundTrip(ex)
	if err != nil {
		return fuzzResult{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return fuzzResult{status: 101, err: errUnaskedUpgrade}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return fuzzResult{status: resp.StatusCode, body: strings.TrimSpace(string(body)), err: err}
}
