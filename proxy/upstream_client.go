package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
	idleAt time.Time
}

var aLongTimeAgo = time.Unix(1, 0)

func newUpstreamClient(addr string, o TransportOptions) *upstreamClient {
	return &upstreamClient{
		addr:          addr,
		dialer:        net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		headerTimeout: o.ResponseHeaderTimeout,
		idleTimeout:   o.IdleConnTimeout,
		maxIdle:       o.MaxIdleConns,
	}
}

func (c *upstreamClient) get(ctx context.Context) (*upConn, bool, error) {
	now := time.Now()
	c.mu.Lock()
	for n := len(c.idle); n > 0; n = len(c.idle) {
		uc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		if now.Sub(uc.idleAt) < c.idleTimeout {
			c.mu.Unlock()
			return uc, true, nil
		}
		uc.conn.Close()
	}
	c.mu.Unlock()
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	return &upConn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 8<<10)}, false, nil
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

// errStaleConn is a reused connection that the upstream had closed while idle:
// nothing of the request was processed, so it is retried on a fresh one.
var errStaleConn = errors.New("upstream closed an idle connection")

// RoundTrip sends req and returns the response; the body streams from the
// connection and gives it back to the pool at EOF.
func (c *upstreamClient) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.try(req, true)
	if errors.Is(err, errStaleConn) && (req.Body == nil || req.Body == http.NoBody) {
		resp, err = c.try(req, false)
	}
	return resp, err
}

func (c *upstreamClient) try(req *http.Request, reuse bool) (*http.Response, error) {
	ctx := req.Context()
	var uc *upConn
	var reused bool
	var err error
	if reuse {
		uc, reused, err = c.get(ctx)
	} else {
		var conn net.Conn
		if conn, err = c.dialer.DialContext(ctx, "tcp", c.addr); err == nil {
			uc = &upConn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 8<<10)}
		}
	}
	if err != nil {
		return nil, err
	}
	// A client that leaves, or a drain that cancels, ends the exchange by
	// expiring the connection's deadlines.
	stop := context.AfterFunc(ctx, func() { uc.conn.SetDeadline(aLongTimeAgo) })
	if err := writeRequest(uc.bw, req); err != nil {
		stop()
		uc.conn.Close()
		if reused && req.Body == nil {
			return nil, fmt.Errorf("%w: %v", errStaleConn, err)
		}
		return nil, err
	}
	if c.headerTimeout > 0 {
		uc.conn.SetReadDeadline(time.Now().Add(c.headerTimeout))
	}
	resp, err := readResponse(uc.br, req)
	if err != nil {
		stop()
		uc.conn.Close()
		// A reused connection that ends before any byte of the answer was
		// closed by the upstream while idle (a keep-alive timeout, a graceful
		// shutdown): ReadResponse reports it as an unexpected EOF.
		if reused && uc.br.Buffered() == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) {
			return nil, fmt.Errorf("%w: %v", errStaleConn, err)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() && ctx.Err() == nil {
			return nil, &timeoutError{"timeout awaiting response headers"}
		}
		return nil, err
	}
	if c.headerTimeout > 0 {
		uc.conn.SetReadDeadline(time.Time{})
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		resp.Body = &upgradedConn{Reader: uc.br, conn: uc.conn}
		return resp, nil
	}
	resp.Body = &pooledBody{body: resp.Body, uc: uc, c: c, stop: stop, keep: !resp.Close && !req.Close}
	return resp, nil
}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// readResponse reads the final response, skipping 1xx informational ones
// except 101 (the caller relays the switch).
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// writeRequest writes req in HTTP/1.1 with one flush: the request line, Host,
// the headers as they are, and the body (chunked when its length is unknown).
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(req.Host)
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		if k == "Host" || k == "Content-Length" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	chunked := false
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case req.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(req.ContentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if chunked {
			err = writeChunked(bw, req.Body)
		} else {
			_, err = io.CopyN(bw, req.Body, req.ContentLength)
		}
		req.Body.Close()
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeChunked(bw *bufio.Writer, body io.Reader) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			bw.WriteString(strconv.FormatInt(int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			// Stream request bodies: the upstream sees each piece as it arrives.
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return err
		}
	}
}

// pooledBody returns the connection to the pool once the body was read to its end.
type pooledBody struct {
	body io.ReadCloser
	uc   *upConn
	c    *upstreamClient
	stop func() bool
	keep bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) { return b.body.Read(p) }

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.body.Close() // drains what is left of a known length, cheaply
	stopped := b.stop()
	// Close drained the rest of the body, so a clean close leaves the
	// connection at a message boundary, ready for the next request.
	if b.keep && err == nil && stopped {
		b.c.put(b.uc)
		return nil
	}
	b.uc.conn.Close()
	return err
}

// upgradedConn is the raw connection after 101 Switching Protocols; the
// reader keeps bytes the upstream sent right after its response.
type upgradedConn struct {
	io.Reader
	conn net.Conn
}

func (u *upgradedConn) Write(p []byte) (int, error) { return u.conn.Write(p) }
func (u *upgradedConn) Close() error                { return u.conn.Close() }

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}
