package harness

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// SocketProxy forwards a private unix socket to the Docker socket, so a test
// can cut baton's connection to the engine (as a daemon restart would) and
// restore it. The socket is mode 0600 in the test's temp dir.
type SocketProxy struct {
	Path string

	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	down   bool
	broken bool // answer every request 500, as an engine whose daemon is unwell
}

// NewSocketProxy starts a forwarder to the engine's socket.
func NewSocketProxy(t T) *SocketProxy {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	p := &SocketProxy{Path: filepath.Join(t.TempDir(), "docker.sock"), target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("unix", p.Path)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(p.Path, 0o600)
	p.ln = ln
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *SocketProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		if p.broken {
			p.conns[c] = true
			p.mu.Unlock()
			go p.answerErrors(c)
			continue
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *SocketProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *SocketProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// Break closes every connection and answers each request from now on with
// a 500 and the engine's error body, until Restore: an engine that accepts
// connections but cannot do anything (its storage or containerd gone).
func (p *SocketProxy) Break() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts and forwards connections again. After Break, the
// connections that answered errors are closed: the client's next request
// dials a forwarded one (an engine that recovers answers on any).
func (p *SocketProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		for c := range p.conns {
			c.Close()
		}
	}
	p.down, p.broken = false, false
}

// answerErrors reads requests on c and answers each 500, as the Engine API
// does for an internal error ({"message": ...}), until c closes.
func (p *SocketProxy) answerErrors(c net.Conn) {
	defer func() {
		c.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		body := `{"message":"engine broken by the test's socket proxy"}` + "\n"
		resp := fmt.Sprintf("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
	}
}
