package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// serverConn is one client connection on the fast path.
type serverConn struct {
	s      *Server
	conn   net.Conn // the *tls.Conn after the handshake, on HTTPS
	tls    *tls.ConnectionState
	remote string
	br     *bufio.Reader
	bw     *bufio.Writer
	idle   atomic.Bool // waiting for a request: Shutdown may close it

	// ctx is every request's context on this connection: requests on one
	// connection are sequential, and a client that leaves ends them all.
	ctx    context.Context
	cancel context.CancelCauseFunc
	proto  *http.Request // carries ctx; each request is a copy

	header   http.Header // the request header, reused
	resp     response
	body     requestBody
	upgrade  bool      // the request being served asks to switch protocols
	hijacked bool      // the handler took the connection (an upgrade)
	deadline time.Time // the read deadline set on conn

	watch clientWatch

	// bufs are held while a request is served, and given back while the
	// connection waits for the next one (buffers.go); src feeds the reader
	// with the first read's bytes, then the connection.
	bufs *connBuffers
	src  aheadReader
	raw  syscall.RawConn // the plain TCP socket, for firstRead; nil on HTTPS
	one  [1]byte         // an HTTPS connection's first read (firstReadByte)
	// moved: the connection waits on a fresh goroutine, its deadline the
	// rest of the idle timeout (awaitRequest).
	moved bool
	// served: a request head was read; before, the head timeout runs from
	// the accept (awaitRequest).
	served bool
}

// headerEnd ends a message head: the CRLF of its last line and the empty line.
var headerEnd = []byte("\r\n\r\n")

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// connEnd is how a connection's serving goroutine stops.
type connEnd uint8

const (
	endClose   connEnd = iota // the connection is done: close it
	endHandOff                // net/http has it now (HTTP/2, HTTP/1.0)
	endMoved                  // another goroutine waits on it (moveIdle)
)

func (c *serverConn) serve() {
	if c.s.opts.TLSConfig != nil {
		switch c.handshake() {
		case handshakeFailed:
			c.finish(endClose)
			return
		case handshakeHTTP2:
			c.finish(endHandOff)
			return
		}
	}
	if tc, ok := c.conn.(*net.TCPConn); ok {
		c.raw, _ = tc.SyscallConn()
	}
	c.resp.c = c
	c.watch.init(c)
	c.run()
}

// run serves requests until the connection ends, is handed off, or has been
// idle long enough to be moved to a goroutine of its own (moveIdle).
func (c *serverConn) run() {
	end := endClose
	defer func() { c.finish(end) }()
	defer func() {
		// As net/http: a panicking handler is logged and its connection
		// closed; http.ErrAbortHandler is the quiet way to abort.
		if r := recover(); r != nil && r != http.ErrAbortHandler {
			c.s.logger.Error("handler panicked", zap.Any("panic", r), zap.String("client", c.remote), zap.Stack("stack"))
		}
	}()
	for {
		switch c.awaitRequest() {
		case awaitEnd:
			return
		case awaitMove:
			end = endMoved
			go c.run()
			return
		}
		block, size, rf, err := c.readHeader(!c.served)
		c.served = true
		if err != nil {
			return // the header timeout (slowloris) or the client left
		}
		var rh requestHead
		if rf == nil {
			rh, rf = c.parseRequestHead(block, c.s.limits())
		}
		switch {
		case rf != nil:
			c.refuse(rf)
			return
		case rh.http10:
			// HTTP/1.0 (no chunked, keep-alive by request) is net/http's,
			// checked as strictly first, for one request (CloseAfterOne).
			c.handOff()
			end = endHandOff
			return
		}
		c.br.Discard(size)
		if !c.serveRequest(&rh) {
			return
		}
	}
}

// finish ends a serving goroutine's part in the connection.
func (c *serverConn) finish(end connEnd) {
	switch end {
	case endMoved:
		return
	case endClose:
		c.s.forget(c)
		if !c.hijacked {
			c.conn.Close()
			c.giveBuffers()
		}
		// A hijacked connection is the handler's (http.Hijacker, as in
		// net/http): it may outlive the handler (the WebSocket relay does,
		// on goroutines of its own) and closes it itself.
	}
	c.cancel(net.ErrClosed)
}

// awaitResult is what awaitRequest found.
type awaitResult uint8

const (
	awaitRequest awaitResult = iota // a request's first bytes are here
	awaitEnd                        // the client left, idle timeout, shutdown
	awaitMove                       // idle for IdleMoveAfter: move the wait
)

// awaitRequest waits, idle, for the first bytes of the next request. The
// first request of a connection is not idle time: its whole head, from the
// accept (or the TLS handshake) on, gets ReadHeaderTimeout, as in net/http;
// a client that connects and sends nothing (slowloris) is closed then, not
// after IdleTimeout.
func (c *serverConn) awaitRequest() awaitResult {
	c.idle.Store(true)
	if c.s.shutting.Load() {
		return awaitEnd
	}
	if c.bufs != nil && (c.br.Buffered() > 0 || len(c.src.ahead) > 0) {
		// The next request is here already (pipelined, RFC 9112 §9.3.2).
		c.idle.Store(false)
		return awaitRequest
	}
	idle, moveAfter := c.s.opts.IdleTimeout, c.s.opts.IdleMoveAfter
	move := c.served && !c.moved && idle > 2*moveAfter
	switch {
	case !c.served:
		c.setDeadline(time.Now().Add(c.s.opts.ReadHeaderTimeout))
	case move:
		c.keepDeadline(moveAfter)
	case !c.moved:
		c.keepDeadline(idle)
	}
	// Idle: wait holding no buffer (an idle connection costs its socket).
	c.giveBuffers()
	b, ahead, err := c.firstRead()
	if err != nil {
		if move && errors.Is(err, os.ErrDeadlineExceeded) {
			// Idle for IdleMoveAfter: the rest of the idle timeout is waited
			// for on a fresh goroutine.
			c.moved = true
			c.s.idleMoves.Add(1)
			c.setDeadline(time.Now().Add(idle - moveAfter))
			return awaitMove
		}
		return awaitEnd
	}
	c.moved = false
	c.takeBuffers(b, ahead)
	c.br.Peek(1) // the first read's bytes into the reader: readHeader looks there
	c.idle.Store(false)
	return awaitRequest
}

// firstReadByte is firstRead on HTTPS (and on any connection without a raw
// socket): crypto/tls keeps its own record buffers, so a one-byte read waits
// as well as a larger one; the rest of the decrypted record stays in the
// tls.Conn, where the reader's next read finds it without a system call.
func (c *serverConn) firstReadByte() (*connBuffers, []byte, error) {
	n, err := c.conn.Read(c.one[:])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return nil, nil, err
	}
	return buffersPool.Get().(*connBuffers), c.one[:1], nil
}

// refuse answers a request baton will not serve, names the rule it broke,
// and ends the connection: after a doubtful head, where the next message
// starts is not known (RFC 9112 §9.6: close after a 400 on framing).
func (c *serverConn) refuse(rf *refusal) {
	c.s.refusals.Add(1)
	if c.s.logger.Core().Enabled(zap.DebugLevel) {
		c.s.logger.Debug("request refused", zap.String("client", c.remote), zap.Int("status", rf.status), zap.String("reason", rf.reason))
	}
	c.bw.WriteString(statusLine(rf.status))
	c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	c.bw.WriteString(strconv.Itoa(len(rf.reason) + 1))
	if rf.status == http.StatusMethodNotAllowed {
		// A 405 names the methods the target takes (RFC 9110 §15.5.6).
		c.bw.WriteString("\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
	}
	c.bw.WriteString("\r\n\r\n")
	c.bw.WriteString(rf.reason)
	c.bw.WriteString("\n")
	c.bw.Flush()
	// Let the client read the answer before the close resets the connection
	// (unread bytes of its request would make the kernel send RST), as
	// net/http does after answering a bad request (closeWriteAndWait).
	if tc, ok := c.conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		c.conn.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, io.LimitReader(c.conn, 256<<10))
	}
}

type handshakeResult int

const (
	handshakeHTTP1 handshakeResult = iota
	handshakeHTTP2                 // handed to net/http's HTTP/2 server
	handshakeFailed
)

// handshake runs the TLS handshake, bounded by ReadHeaderTimeout as in
// net/http. An HTTP/2 connection is handed to net/http as it is (no byte of
// it read); an ACME TLS-ALPN-01 validation (RFC 8737) ends with its handshake.
func (c *serverConn) handshake() handshakeResult {
	tc := tls.Server(c.conn, c.s.opts.TLSConfig)
	if d := c.s.opts.ReadHeaderTimeout; d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// Plain HTTP on the HTTPS port: say so, as net/http does.
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		if c.s.logger.Core().Enabled(zap.DebugLevel) {
			c.s.logger.Debug("TLS handshake failed", zap.String("client", c.remote), zap.Error(err))
		}
		return handshakeFailed
	}
	tc.SetDeadline(time.Time{})
	state := tc.ConnectionState()
	c.conn, c.tls = tc, &state
	switch state.NegotiatedProtocol {
	case "h2":
		c.s.forget(c)
		if !c.s.fallback.give(tc) {
			tc.Close()
		}
		return handshakeHTTP2
	case "", "http/1.1":
		return handshakeHTTP1
	}
	return handshakeFailed // acme-tls/1: the CA has seen the certificate
}

// looksLikeHTTP reports whether the first bytes of a TLS record are the
// start of a plain HTTP request (net/http's check).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// keepDeadline makes the read deadline about now+d. Moving a deadline costs a
// runtime timer update; one that is already within d/64 of the wanted one
// (set less than d/64 ago) is kept.
func (c *serverConn) keepDeadline(d time.Duration) {
	want := time.Now().Add(d)
	if delta := want.Sub(c.deadline); !c.deadline.IsZero() && delta >= 0 && delta <= d>>6 {
		return
	}
	c.setDeadline(want)
}

func (c *serverConn) setDeadline(t time.Time) {
	c.conn.SetReadDeadline(t)
	c.deadline = t
}

// readHeader returns the request line and header lines, wholly buffered, and
// how many bytes they span with the empty line. A header that does not come in
// its first read gets ReadHeaderTimeout from then on (the first request's
// already runs from awaitRequest). A head larger than the
// 4 KiB buffer moves the connection to a buffer of the head limit; one
// larger than that, or with a bare LF, is refused.
func (c *serverConn) readHeader(first bool) (block string, size int, rf *refusal, err error) {
	armed := first
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf, headerEnd); i >= 0 {
			return string(buf[:i]), i + len(headerEnd), nil, nil
		}
		if bareLF(buf) {
			// RFC 9112 §2.2 lets a recipient take a bare LF as a line end;
			// baton does not, so that no other reader can see a line
			// where baton saw none.
			return "", 0, refuse(http.StatusBadRequest, "bare LF line ending (RFC 9112 §2.2)"), nil
		}
		if len(buf) >= c.br.Size() {
			lim := c.s.limits()
			if c.br.Size() >= lim.total {
				return "", 0, refuse(http.StatusRequestHeaderFieldsTooLarge, "request head larger than "+kib(lim.total)), nil
			}
			c.growReader(lim.total)
			continue
		}
		if !armed {
			c.setDeadline(time.Now().Add(c.s.opts.ReadHeaderTimeout))
			armed = true
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return "", 0, nil, err
		}
	}
}

// bareLF reports whether buf has an LF that no CR precedes.
func bareLF(buf []byte) bool {
	for i := bytes.IndexByte(buf, '\n'); i >= 0; {
		if i == 0 || buf[i-1] != '\r' {
			return true
		}
		j := bytes.IndexByte(buf[i+1:], '\n')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// growReader replaces the 4 KiB reader by one of size, keeping what it
// buffered. Heads this large are rare (big cookies); the connection keeps
// the large reader.
func (c *serverConn) growReader(size int) {
	unread := c.unread()
	c.src.ahead = nil
	c.br = bufio.NewReaderSize(&prefixConn{Conn: c.conn, prefix: unread}, size+len(headerEnd))
}

// serveRequest runs the handler for the request and finishes its response;
// it reports whether the connection may serve another request.
func (c *serverConn) serveRequest(rh *requestHead) (keep bool) {
	r := rh.req
	w := &c.resp
	w.reset(r)
	if rh.options {
		// OPTIONS * asks about the server, not a resource (RFC 9110 §9.3.7):
		// baton answers, as net/http does.
		w.header["Allow"] = allowAll
		w.header["Content-Length"] = zeroLength
		w.WriteHeader(http.StatusOK)
		return w.finish() == nil && !r.Close
	}
	var body *requestBody
	if rh.framing != bodyNone {
		body = &c.body
		body.reset(c, rh)
		r.Body = body
		// A body may take longer than the idle timeout to arrive; as
		// net/http with no ReadTimeout, only the client leaving ends it.
		c.setDeadline(time.Time{})
	} else {
		c.watch.arm()
	}
	c.upgrade = rh.upgrades
	defer func() {
		if p := recover(); p != nil {
			c.watch.disarm()
			panic(p) // serve logs it and closes the connection
		}
	}()
	c.s.handler.ServeHTTP(w, r)
	if c.hijacked {
		return false
	}
	c.watch.disarm()
	if body != nil && !body.complete() {
		// The rest of the body is still on the wire (the handler answered
		// without reading it, or it was malformed): the next request cannot
		// be found, so this response is the connection's last (net/http
		// closes after a body it could not discard, too).
		w.closeAfter = true
		var bad *BadRequestBodyError
		if errors.As(body.err, &bad) && !w.wroteHeader {
			w.header["Content-Type"] = textPlain
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, bad.Error()+"\n")
		}
	}
	if err := w.finish(); err != nil || c.ctx.Err() != nil {
		return false
	}
	return !r.Close && !w.closeAfter && !c.s.shutting.Load()
}

var (
	allowAll   = []string{"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"}
	zeroLength = []string{"0"}
	textPlain  = []string{"text/plain; charset=utf-8"}
)

// clientGone ends the connection's requests: the client left, or a write to
// it failed (net/http cancels a request's context then too).
func (c *serverConn) clientGone(err error) {
	c.cancel(err)
}
