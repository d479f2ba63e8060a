package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// h1Server serves HTTP/1.1 connections (plain, or over TLS after its own
// handshake) itself for the common request, and hands every other connection
// to net/http: HTTP/2 right after the handshake, the rest when a request
// needs it.
//
// Why: on these machines net/http's per-request machinery costs about as much
// as the proxying itself: a background read and its goroutine wake-up to
// notice a client that leaves, three read-deadline moves, a context, a request,
// URL and header map. Here a request with no body is parsed in place from the
// connection's buffer, the handler runs on the connection's goroutine, and a
// client that leaves is noticed by a read started only when the handler takes
// longer than clientWatchDelay.
//
// Anything else (a body, Expect, Upgrade, HTTP/1.0, absolute-form targets, a
// header larger than the buffer, any byte or framing net/http would judge) is
// handed over with the bytes read so far: from then on net/http serves that
// connection, with its own checks and error answers. The fast path never has
// to decide a doubtful message, so it cannot differ from net/http on one.
type h1Server struct {
	handler  http.Handler
	opts     ServerOptions
	logger   *zap.Logger
	fallback *handoffListener
	// tlsConfig, when set, makes this an HTTPS listener: the handshake is
	// done here; HTTP/2 connections go to net/http at once, HTTP/1.1 ones
	// take the fast path like plain ones.
	tlsConfig *tls.Config
	// base is every connection's parent context (it carries the listener's port).
	base context.Context

	shutting atomic.Bool
	refusals atomic.Int64 // requests answered with an error and closed
	mu       sync.Mutex
	conns    map[*h1Conn]struct{}
}

const (
	// clientWatchDelay is how long a handler runs before baton starts reading
	// the client's connection to notice that it left (then the upstream
	// request is cancelled and counted 499).
	clientWatchDelay = 25 * time.Millisecond
	h1ReadBuffer     = 4 << 10 // as net/http's; a larger head grows it up to MaxHeaderBytes
	h1WriteBuffer    = 4 << 10
	// h1PendingBody is how much of a body without Content-Length is held
	// before the header is sent, so that short answers get a length, not chunks.
	h1PendingBody = 2 << 10
)

func newH1Server(h http.Handler, o ServerOptions, fallback *handoffListener, logger *zap.Logger) *h1Server {
	return &h1Server{handler: h, opts: o, logger: logger, fallback: fallback, base: context.Background(), conns: map[*h1Conn]struct{}{}}
}

// serve runs the accept loop until ln is closed.
func (s *h1Server) serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() || errors.Is(err, net.ErrClosed) {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of file descriptors, say: wait and try again, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("accept failed; retrying", zap.Error(err), zap.Duration("in", backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(conn)
		if c == nil {
			conn.Close()
			continue
		}
		go c.serve()
	}
}

func isTemporaryAccept(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *h1Server) newConn(conn net.Conn) *h1Conn {
	c := &h1Conn{s: s, conn: conn, remote: conn.RemoteAddr().String()}
	c.ctx, c.cancel = context.WithCancelCause(s.base)
	c.proto = new(http.Request).WithContext(c.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

// limits are the bounds of a request head.
func (s *h1Server) limits() headLimits {
	return headLimits{line: s.opts.MaxHeaderLineBytes, total: s.opts.MaxHeaderBytes, fields: s.opts.MaxHeaderFields}
}

func (s *h1Server) forget(c *h1Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// shutdown closes idle connections now and the others once their response is
// sent, and waits for them until ctx ends.
func (s *h1Server) shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.idle.Load() {
				c.conn.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// close ends every connection at once.
func (s *h1Server) close() {
	s.shutting.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.conn.Close()
	}
}

// h1Conn is one client connection on the fast path.
type h1Conn struct {
	s      *h1Server
	conn   net.Conn // the *tls.Conn after the handshake, on HTTPS
	tls    *tls.ConnectionState
	remote string
	br     *bufio.Reader
	bw     *bufio.Writer
	idle   atomic.Bool // waiting for a request: shutdown may close it

	// ctx is every request's context on this connection: requests on one
	// connection are sequential, and a client that leaves ends them all.
	ctx    context.Context
	cancel context.CancelCauseFunc
	proto  *http.Request // carries ctx; each request is a copy

	header   http.Header // the request header, reused
	resp     h1Response
	body     h1Body
	upgrade  bool      // the request being served asks to switch protocols
	hijacked bool      // the handler took the connection (an upgrade)
	deadline time.Time // the read deadline set on conn

	watch clientWatch
}

func (c *h1Conn) serve() {
	handedOff := false
	defer func() {
		c.cancel(net.ErrClosed)
		if !handedOff {
			c.conn.Close()
			c.s.forget(c)
		}
	}()
	defer func() {
		if r := recover(); r != nil && r != http.ErrAbortHandler {
			c.s.logger.Error("handler panicked", zap.Any("panic", r), zap.String("client", c.remote), zap.Stack("stack"))
		}
	}()
	if c.s.tlsConfig != nil {
		switch c.handshake() {
		case handshakeFailed:
			return
		case handshakeHTTP2:
			handedOff = true
			return
		}
	}
	c.br = bufio.NewReaderSize(c.conn, h1ReadBuffer)
	c.bw = bufio.NewWriterSize(c.conn, h1WriteBuffer)
	c.header = make(http.Header, 8)
	c.resp.c = c
	c.resp.header = make(http.Header, 12)
	c.resp.pending = make([]byte, 0, h1PendingBody)
	c.watch.init(c)
	for c.awaitRequest() {
		block, size, rf, err := c.readHeader()
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
			// checked as strictly first, for one request (closeAfterOne).
			c.handOff()
			handedOff = true
			return
		}
		c.br.Discard(size)
		if !c.serveRequest(&rh) {
			return
		}
	}
}

// awaitRequest waits, idle, for the first byte of the next request.
func (c *h1Conn) awaitRequest() bool {
	c.idle.Store(true)
	if c.s.shutting.Load() {
		return false
	}
	c.keepDeadline(c.s.opts.IdleTimeout)
	if _, err := c.br.Peek(1); err != nil {
		return false
	}
	c.idle.Store(false)
	return true
}

// refuse answers a request baton will not serve, names the rule it broke,
// and ends the connection: after a doubtful head, where the next message
// starts is not known (RFC 9112 §9.6: close after a 400 on framing).
func (c *h1Conn) refuse(rf *refusal) {
	c.s.refusals.Add(1)
	if c.s.logger.Core().Enabled(zap.DebugLevel) {
		c.s.logger.Debug("request refused", zap.String("client", c.remote), zap.Int("status", rf.status), zap.String("reason", rf.reason))
	}
	c.bw.WriteString(statusLine(rf.status))
	c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	c.bw.WriteString(strconv.Itoa(len(rf.reason) + 1))
	if rf.status == http.StatusMethodNotAllowed {
		c.bw.WriteString("\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
	}
	c.bw.WriteString("\r\n\r\n")
	c.bw.WriteString(rf.reason)
	c.bw.WriteString("\n")
	c.bw.Flush()
	// Let the client read the answer before the close resets the connection
	// (unread bytes of its request would make the kernel send RST).
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
// it read); an ACME TLS-ALPN-01 validation ends with its handshake.
func (c *h1Conn) handshake() handshakeResult {
	tc := tls.Server(c.conn, c.s.tlsConfig)
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
// start of a plain HTTP request.
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
func (c *h1Conn) keepDeadline(d time.Duration) {
	want := time.Now().Add(d)
	if delta := want.Sub(c.deadline); !c.deadline.IsZero() && delta >= 0 && delta <= d>>6 {
		return
	}
	c.setDeadline(want)
}

func (c *h1Conn) setDeadline(t time.Time) {
	c.conn.SetReadDeadline(t)
	c.deadline = t
}

// readHeader returns the request line and header lines, wholly buffered, and
// how many bytes they span with the empty line. A header that does not come in
// its first read gets ReadHeaderTimeout from then on. A head larger than the
// 4 KiB buffer moves the connection to a buffer of the head limit; one
// larger than that, or with a bare LF, is refused.
func (c *h1Conn) readHeader() (block string, size int, rf *refusal, err error) {
	armed := false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf, headerEnd); i >= 0 {
			return string(buf[:i]), i + len(headerEnd), nil, nil
		}
		if bareLF(buf) {
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
func (c *h1Conn) growReader(size int) {
	buffered, _ := c.br.Peek(c.br.Buffered())
	c.br = bufio.NewReaderSize(&prefixConn{Conn: c.conn, prefix: bytes.Clone(buffered)}, size+len(headerEnd))
}

// serveRequest runs the handler for the request and finishes its response;
// it reports whether the connection may serve another request.
func (c *h1Conn) serveRequest(rh *requestHead) (keep bool) {
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
	var body *h1Body
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
		// be found, so this response is the connection's last.
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
)

// clientGone ends the connection's requests: the client left, or a write to it failed.
func (c *h1Conn) clientGone(err error) {
	c.cancel(err)
}

// handOff gives the connection, with what was read of it, to net/http.
func (c *h1Conn) handOff() {
	buffered, _ := c.br.Peek(c.br.Buffered())
	pc := &prefixConn{Conn: c.conn, prefix: bytes.Clone(buffered), tls: c.tls}
	c.conn.SetReadDeadline(time.Time{})
	c.s.forget(c)
	if !c.s.fallback.give(pc) {
		c.conn.Close()
	}
}

// prefixConn reads the bytes the fast path had buffered before the connection.
// On HTTPS it wraps the *tls.Conn, which net/http then does not see as TLS:
// tls carries the connection's state to its requests (see restoreTLS).
type prefixConn struct {
	net.Conn
	prefix []byte
	tls    *tls.ConnectionState
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type tlsStateKey struct{}

// handedOffTLS is the fallback server's ConnContext: a TLS connection handed
// over after its handshake keeps its state for its requests.
func handedOffTLS(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*prefixConn); ok && pc.tls != nil {
		return context.WithValue(ctx, tlsStateKey{}, pc.tls)
	}
	return ctx
}

// restoreTLS gives requests of a TLS connection handed over mid-way their
// r.TLS (X-Forwarded-Proto, the cache key and HSTS depend on it).
func restoreTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r = r.WithContext(r.Context())
				r.TLS = st
			}
		}
		h.ServeHTTP(w, r)
	})
}

// handoffListener is the net.Listener net/http serves: it accepts the
// connections the fast path gives it.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// clientWatch notices a client that leaves while the handler waits on the
// upstream. It reads the connection only once the handler has run for
// clientWatchDelay: a fast exchange costs a timer reset and stop, not a read.
type clientWatch struct {
	c     *h1Conn
	timer *time.Timer
	mu    sync.Mutex
	state watchState
	done  chan struct{}
}

type watchState uint8

const (
	watchOff      watchState = iota
	watchArmed               // the timer may start a read
	watchReading             // a read is under way
	watchAborting            // the handler ended: the read is being interrupted
	watchEnded               // the read ended by itself (a byte came, or the client left)
)

func (w *clientWatch) init(c *h1Conn) {
	w.c = c
	w.done = make(chan struct{}, 1)
	w.timer = time.AfterFunc(time.Hour, w.read)
	w.timer.Stop()
}

func (w *clientWatch) arm() {
	w.mu.Lock()
	w.state = watchArmed
	w.mu.Unlock()
	w.timer.Reset(clientWatchDelay)
}

// read runs on the timer's goroutine: it waits for the client's next byte. A
// byte (a pipelined request) stays in the buffer; an end or an error means
// the client is gone.
func (w *clientWatch) read() {
	w.mu.Lock()
	if w.state != watchArmed {
		w.mu.Unlock()
		return
	}
	w.state = watchReading
	// No deadline while the handler runs: the idle one must not end the
	// watch of a long request. Under the lock, so that disarm's expired
	// deadline always comes after this one.
	w.c.conn.SetReadDeadline(time.Time{})
	w.mu.Unlock()
	_, err := w.c.br.Peek(1)
	w.mu.Lock()
	aborted := w.state == watchAborting
	w.state = watchEnded
	w.mu.Unlock()
	var ne net.Error
	if err != nil && !aborted && !(errors.As(err, &ne) && ne.Timeout()) {
		w.c.clientGone(err)
	}
	w.done <- struct{}{}
}

// disarm stops the watch; a read under way is interrupted and waited for, so
// that the connection's reader is the serving goroutine's again.
func (w *clientWatch) disarm() {
	w.timer.Stop()
	w.mu.Lock()
	st := w.state
	switch st {
	case watchArmed:
		w.state = watchOff
	case watchReading:
		w.state = watchAborting
	}
	w.mu.Unlock()
	switch st {
	case watchReading:
		w.c.conn.SetReadDeadline(aLongTimeAgo)
		<-w.done
	case watchEnded:
		<-w.done
	default:
		return
	}
	w.c.deadline = time.Time{} // changed by the watch: the next keepDeadline sets it anew
	w.mu.Lock()
	w.state = watchOff
	w.mu.Unlock()
}
