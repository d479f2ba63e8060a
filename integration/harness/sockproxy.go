package harness

import (
	"io"
	"net"
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

// Restore accepts connections again.
func (p *SocketProxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
