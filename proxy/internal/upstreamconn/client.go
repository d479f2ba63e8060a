package upstreamconn

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// Options tune a client's connection pool. Zero values take the defaults.
type Options struct {
	// DialTimeout bounds a connect (default 5s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response header once the
	// request is written (default 60s; 504 beyond).
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout is how long an idle connection is kept (default 90s).
	IdleConnTimeout time.Duration
	// MaxIdleConns bounds the idle connections kept (default 512).
	MaxIdleConns int
}

func (o Options) withDefaults() Options {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = 60 * time.Second
	}
	if o.IdleConnTimeout == 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = 512
	}
	return o
}

// Client speaks HTTP/1.1 to one target on the serving goroutine: the
// request is written and the response read by the goroutine that handles the
// client, with no hand-off to per-connection reader and writer goroutines as
// in http.Transport. Idle connections are kept in a LIFO stack, so the warmest
// connection is reused and the rest can time out.
type Client struct {
	addr          string
	dialer        net.Dialer
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int

	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

// upConn is one upstream connection, in use or idle in the pool.
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

// New returns a client of the upstream at addr (host:port), with o's
// settings (defaults filled in). It dials nothing until a request.
func New(addr string, o Options) *Client {
	o = o.withDefaults()
	return &Client{
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
func (c *Client) get() *upConn {
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

func (c *Client) put(uc *upConn) {
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

// CloseIdle drops every idle connection; connections in use go back to the
// pool (or are closed) when their response ends.
func (c *Client) CloseIdle() {
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
func (c *Client) dial(ex *Exchange) (*upConn, error) {
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
