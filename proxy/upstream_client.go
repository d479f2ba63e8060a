package proxy

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// upstreamClient speaks HTTP/1.1 to one target on the serving goroutine: the
// request is written and the response read by the goroutine that handles the
// client, with no hand-off to per-connection reader and writer goroutines as
// in http.Transport. Idle connections are kept in a LIFO stack, so the warmest
// connection is reused and the rest can time out.
type upstreamClient struct {
	addr          string
	dialer        net.Dialer
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int

	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

type upConn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	w      countingWriter // under bw: tells "nothing written" from "sent"
	idleAt time.Time
	// readDeadline is the read deadline set on conn; zero when none.
	readDeadline time.Time
	idle         idleProbe // finds an idle connection closed or written to by the upstream
}

// countingWriter counts the bytes that reached the connection, so that a
// failed write can tell whether the upstream may have seen the request.
type countingWriter struct {
	conn net.Conn
	n    int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.conn.Write(p)
	w.n += int64(n)
	return n, err
}

func newUpstreamClient(addr string, o TransportOptions) *upstreamClient {
	return &upstreamClient{
		addr:          addr,
		dialer:        net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		headerTimeout: o.ResponseHeaderTimeout,
		idleTimeout:   o.IdleConnTimeout,
		maxIdle:       o.MaxIdleConns,
	}
}

// get pops the most recently used idle connection that has not timed out
// and is still clean (see idleProbe), or returns nil. Connections the
// upstream closed or wrote to while idle are dropped here, before anything
// of a request is written: a request with a body then goes out on a fresh
// connection instead of failing on a stale one.
func (c *upstreamClient) get() *upConn {
	now := time.Now()
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			return nil
		}
		uc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if now.Sub(uc.idleAt) < c.idleTimeout && uc.reusable(now) {
			return uc
		}
		uc.conn.Close()
	}
}

// reusable probes an idle connection. A header deadline kept from an earlier
// request (armHeaderTimeout) that has passed would fail the probe; it is
// cleared first.
func (uc *upConn) reusable(now time.Time) bool {
	if !uc.readDeadline.IsZero() && !now.Before(uc.readDeadline) {
		uc.conn.SetReadDeadline(time.Time{})
		uc.readDeadline = time.Time{}
	}
	return uc.idle.usable()
}

func (c *upstreamClient) put(uc *upConn) {
	uc.idleAt = time.Now()
	c.mu.Lock()
	if c.closed || len(c.idle) >= c.maxIdle {
		c.mu.Unlock()
		uc.conn.Close()
		return
	}
	c.idle = append(c.idle, uc)
	c.mu.Unlock()
}

// closeIdle drops every idle connection.
func (c *upstreamClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, uc := range idle {
		uc.conn.Close()
	}
}

// dial opens a new connection; a cancel of the exchange (client gone, drain)
// aborts the dial.
func (c *upstreamClient) dial(ex *exchange) (*upConn, error) {
	ctx, done, err := ex.dialContext()
	if err != nil {
		return nil, err
	}
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	done()
	if err != nil {
		return nil, err
	}
	uc := &upConn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}
	uc.w.conn = conn
	uc.bw = bufio.NewWriterSize(&uc.w, 8<<10)
	uc.idle.init(conn)
	return uc, nil
}
