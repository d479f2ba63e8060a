package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scriptedBackend answers the first request on its first connection with
// first (raw bytes); extra follows in a write of its own, once late is closed
// when extraLate (the connection is idle in baton's pool by then), signalled
// on wrote. Every other request gets "path=<path>", correctly framed.
func scriptedBackend(t *testing.T, first, extra string, late <-chan struct{}) (*Target, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	wrote := make(chan struct{})
	go func() {
		for n := 0; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn, firstConn bool) {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if firstConn && i == 0 {
						io.WriteString(conn, first)
						if late != nil {
							<-late
						}
						io.WriteString(conn, extra)
						close(wrote)
						continue
					}
					body := "path=" + req.URL.Path
					io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
				}
			}(conn, n == 0)
		}
	}()
	tg := NewTarget("scripted", ln.Addr().String(), nil, TransportOptions{})
	t.Cleanup(tg.Close)
	return tg, wrote
}

// Regression: bytes an upstream sent past a response's framing were read as
// the next, unrelated client's response. After each mis-framed answer, two
// more clients on new connections must get their own answers.
func TestMisframedUpstreamBytesNeverReachAnotherClient(t *testing.T) {
	stolen := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen"
	cases := []struct {
		name, method, first, extra string
	}{
		{"body longer than its length, one write", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + stolen, ""},
		{"HEAD answered with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", stolen},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n\r\n", stolen},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\n\r\n", stolen},
		{"length and chunked", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", stolen},
		{"408 on the idle connection", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 408 Request Timeout\r\nContent-Length: 6\r\n\r\nstolen"},
	}
	for _, tc := range cases {
		for _, late := range []bool{false, true} {
			if late && tc.extra == "" {
				continue
			}
			name := tc.name
			if late {
				name += ", on the idle connection"
			}
			t.Run(name, func(t *testing.T) {
				var lateCh chan struct{}
				if late {
					lateCh = make(chan struct{})
				}
				tg, wrote := scriptedBackend(t, tc.first, tc.extra, lateCh)
				_, url := newProxy(t, HandlerOptions{}, &Route{Service: "s", Host: "s.test", Targets: []*Target{tg}})
				client := func(path, method string) (int, string) {
					tr := &http.Transport{DisableKeepAlives: true}
					defer tr.CloseIdleConnections()
					req, _ := http.NewRequest(method, url+path, nil)
					req.Host = "s.test"
					resp, err := (&http.Client{Transport: tr}).Do(req)
					if err != nil {
						return 0, err.Error()
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return resp.StatusCode, string(b)
				}
				if _, body := client("/c0", tc.method); strings.Contains(body, "stolen") {
					t.Fatalf("the first client got the extra bytes as its body: %q", body)
				}
				if lateCh != nil {
					close(lateCh)
				}
				<-wrote
				for _, p := range []string{"/c1", "/c2"} {
					if code, body := client(p, "GET"); code != 200 || body != "path="+p {
						t.Errorf("client %s got %d %q, want its own answer", p, code, body)
					}
				}
			})
		}
	}
}
