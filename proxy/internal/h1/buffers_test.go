package h1

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

// selfSigned is a certificate for 127.0.0.1, made for the test.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "h1 test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveH1 runs a Server with h on a loopback port until the test ends.
func serveH1(t *testing.T, h http.Handler, o Options) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, o, nil)
	go s.Serve(ln)
	t.Cleanup(func() { ln.Close(); s.Close() })
	return s, ln.Addr().String()
}

func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-release
				}
				io.WriteString(w, "answer to "+r.URL.Path)
			})
			o := Options{}
			var clientTLS *tls.Config
			if useTLS {
				o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"http/1.1"}}
				clientTLS = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
			}
			s, addr := serveH1(t, h, o)
			dial := func() net.Conn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				if clientTLS != nil {
					c = tls.Client(c, clientTLS)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			const n = 20
			conns := make([]net.Conn, n)
			readers := make([]*bufio.Reader, n)
			get := func(i int, path string) {
				io.WriteString(conns[i], "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
				resp, err := http.ReadResponse(readers[i], nil)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if string(body) != "answer to "+path {
					t.Fatalf("connection %d got %q", i, body)
				}
			}
			for i := range conns {
				conns[i] = dial()
				readers[i] = bufio.NewReader(conns[i])
				get(i, "/one")
			}
			testutil.Eventually(t, "no idle connection holds buffers", func() bool { return s.BuffersHeld() == 0 })

			// A connection serving a request holds them, and gives them back after.
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.WriteString(conns[0], "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
				resp, err := http.ReadResponse(readers[0], nil)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
				}
			}()
			testutil.Eventually(t, "the serving connection holds its buffers", func() bool { return s.BuffersHeld() == 1 })
			close(release)
			<-done
			testutil.Eventually(t, "it gave them back", func() bool { return s.BuffersHeld() == 0 })

			// Every idle connection still serves its next request, and two
			// pipelined requests are both answered.
			for i := range conns {
				get(i, "/two")
			}
			io.WriteString(conns[1], "GET /a HTTP/1.1\r\nHost: test\r\n\r\nGET /b HTTP/1.1\r\nHost: test\r\n\r\n")
			for _, p := range []string{"/a", "/b"} {
				resp, err := http.ReadResponse(readers[1], nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				if !strings.HasSuffix(string(body), p) {
					t.Fatalf("pipelined %s got %q", p, body)
				}
			}
		})
	}
}

func TestALongIdleConnectionMovesItsWaitAndKeepsItsTimeout(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answer to "+r.URL.Path) })
	s, addr := serveH1(t, h, Options{IdleMoveAfter: 20 * time.Millisecond, IdleTimeout: 2 * time.Second})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(path string) {
		t.Helper()
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "answer to "+path {
			t.Fatalf("%s got %q", path, body)
		}
	}
	get("/before")
	testutil.Eventually(t, "the idle connection's wait moved", func() bool { return s.idleMoves.Load() == 1 })
	get("/after") // the moved wait serves the next request
	testutil.Eventually(t, "it moved again once idle again", func() bool { return s.idleMoves.Load() == 2 })
	// The idle timeout still closes it: the move kept the rest of it.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed at its idle timeout: %v", err)
	}
}

// A handler that takes the connection (an upgrade) gets it with the bytes
// read ahead of the request's end, holds none of the connection's buffers,
// and may keep it after it returns (http.Hijacker), as the WebSocket relay
// does.
func TestHijackedConnectionOutlivesTheHandlerHoldingNoBuffers(t *testing.T) {
	returned := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		go func() {
			<-returned
			defer conn.Close()
			line, err := brw.ReadString('\n') // sent right behind the request
			if err != nil {
				return
			}
			io.WriteString(conn, "echo "+line)
			line, _ = brw.ReadString('\n') // sent after the handler returned
			io.WriteString(conn, "echo "+line)
		}()
	})
	s, addr := serveH1(t, h, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nfirst\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	testutil.Eventually(t, "the server is done with the hijacked connection", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.BuffersHeld() == 0 && len(s.conns) == 0
	})
	close(returned)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if got, _ := br.ReadString('\n'); got != "echo first\n" {
		t.Fatalf("the bytes behind the request: %q", got)
	}
	io.WriteString(c, "second\n")
	if got, _ := br.ReadString('\n'); got != "echo second\n" {
		t.Fatalf("after the handler returned the connection answered %q: closed under the handler?", got)
	}
}
