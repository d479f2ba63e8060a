package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
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

var aLongTimeAgo = time.Unix(1, 0)

// exchange is one proxied request on its way to a target and back: what the
// upstream client writes, and what cancelling it needs. It replaces a context
// per request: a cancel (the client left, a drain reached its bound) records
// its cause and expires the deadlines of the upstream connection in use, or
// aborts the dial in progress. Exchanges are pooled; gen tells a cancel func
// handed to a tracker for an earlier request that its request is over.
type exchange struct {
	req           http.Request // Method only: what ReadResponse needs to know (HEAD)
	uri, host     string
	header        http.Header
	body          io.ReadCloser // nil when there is none
	contentLength int64
	clientCtx     context.Context
	// replayable: the method is GET, HEAD, OPTIONS or TRACE, or the request
	// carries Idempotency-Key (see mayRetry).
	replayable bool
	// upgrade is the protocol the request asks to switch to ("" = none); a
	// 101 naming another is refused.
	upgrade string
	// client1xx gets the informational responses (103 Early Hints) relayed.
	client1xx http.ResponseWriter
	// answered: a byte of a response arrived for this attempt.
	answered bool

	ownGen uint64 // gen of the current request, read by the owner only

	mu         sync.Mutex
	gen        uint64
	cause      error    // why the exchange was cancelled; nil while it runs
	conn       net.Conn // the upstream connection in use
	dialCancel context.CancelCauseFunc

	onClientGone func()      // ex.clientGone, bound once per exchange
	stopWatch    func() bool // stops watching the client's context
	pb           pooledBody

	// The response, when readCommonResponse parsed it.
	resp       http.Response
	respHeader http.Header
	lb         lengthBody
}

var exchanges = sync.Pool{New: func() any {
	ex := new(exchange)
	ex.onClientGone = ex.clientGone
	return ex
}}

// newExchange starts an exchange for a request of the client whose context is ctx.
func newExchange(ctx context.Context) *exchange {
	ex := exchanges.Get().(*exchange)
	ex.mu.Lock()
	ex.gen++
	ex.ownGen = ex.gen
	ex.cause = nil
	ex.mu.Unlock()
	ex.clientCtx = ctx
	ex.stopWatch = context.AfterFunc(ctx, ex.onClientGone)
	return ex
}

// release ends the exchange. It goes back to the pool unless the client-gone
// func already started, which may still be using it.
func (ex *exchange) release() {
	if !ex.stopWatch() {
		return
	}
	ex.mu.Lock()
	ex.gen++ // a late cancel of this request finds nothing to cancel
	ex.conn = nil
	ex.dialCancel = nil
	ex.mu.Unlock()
	ex.req.Method = ""
	ex.uri, ex.host, ex.upgrade = "", "", ""
	ex.replayable, ex.client1xx = false, nil
	ex.header, ex.body, ex.clientCtx, ex.stopWatch = nil, nil, nil, nil
	ex.pb = pooledBody{}
	ex.resp = http.Response{}
	ex.lb = lengthBody{}
	clear(ex.respHeader)
	exchanges.Put(ex)
}

// cancelFunc is the cancel func a tracker gets for the current request.
func (ex *exchange) cancelFunc() context.CancelCauseFunc {
	gen := ex.ownGen
	return func(cause error) { ex.cancel(gen, cause) }
}

func (ex *exchange) clientGone() {
	ex.mu.Lock()
	gen := ex.gen
	ex.mu.Unlock()
	ex.cancel(gen, context.Cause(ex.clientCtx))
}

// cancel ends the request gen with cause; the first cause wins.
func (ex *exchange) cancel(gen uint64, cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	ex.mu.Lock()
	if ex.gen != gen || ex.cause != nil {
		ex.mu.Unlock()
		return
	}
	ex.cause = cause
	if ex.conn != nil {
		ex.conn.SetDeadline(aLongTimeAgo)
	}
	dc := ex.dialCancel
	ex.mu.Unlock()
	if dc != nil {
		dc(cause)
	}
}

// cancelCause is the cause the exchange was cancelled with, or nil.
func (ex *exchange) cancelCause() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.cause
}

// dialContext returns the context a dial runs under and the func to call
// when the dial returns; it fails when the exchange was already cancelled.
func (ex *exchange) dialContext() (context.Context, func(), error) {
	ctx, cancel := context.WithCancelCause(ex.clientCtx)
	ex.mu.Lock()
	if err := ex.cause; err != nil {
		ex.mu.Unlock()
		cancel(err)
		return nil, nil, err
	}
	ex.dialCancel = cancel
	ex.mu.Unlock()
	return ctx, func() {
		ex.mu.Lock()
		ex.dialCancel = nil
		ex.mu.Unlock()
		cancel(nil)
	}, nil
}

// attach makes conn the connection a cancel expires; it fails when the
// exchange was already cancelled.
func (ex *exchange) attach(conn net.Conn) error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.cause != nil {
		return ex.cause
	}
	ex.conn = conn
	return nil
}

// detach forgets the connection and reports whether the exchange was
// cancelled (then the connection's deadlines may have been expired).
func (ex *exchange) detach() (cancelled bool) {
	ex.mu.Lock()
	ex.conn = nil
	cancelled = ex.cause != nil
	ex.mu.Unlock()
	return cancelled
}

// setReadDeadline sets uc's read deadline unless a cancel already expired it.
func (ex *exchange) setReadDeadline(uc *upConn, t time.Time) {
	ex.mu.Lock()
	if ex.cause == nil && ex.conn == uc.conn {
		uc.conn.SetReadDeadline(t)
		uc.readDeadline = t
	}
	ex.mu.Unlock()
}

// armHeaderTimeout sets the deadline for the response header on uc. Moving a
// connection's deadline costs a runtime timer update, twice per request when
// it is set and cleared each time; instead a deadline that is still at least
// timeout-timeout/64 away (set by a request on this connection less than
// timeout/64 ago, under a second for the default 60s) is kept, so the header
// timeout may fire up to 1/64 of it early.
func (ex *exchange) armHeaderTimeout(uc *upConn, timeout time.Duration) {
	d := time.Now().Add(timeout)
	if !uc.readDeadline.IsZero() && d.Sub(uc.readDeadline) <= timeout>>6 {
		return
	}
	ex.setReadDeadline(uc, d)
}

// bodyBuffered reports whether resp's body (parsed in place) lies wholly in br's
// buffer, so that reading it never reads the connection.
func (ex *exchange) bodyBuffered(resp *http.Response, br *bufio.Reader) bool {
	if resp != &ex.resp {
		return false
	}
	return resp.Body == http.NoBody || ex.lb.remaining <= int64(br.Buffered())
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

// The retry rule. A request goes upstream a second time only when the first
// attempt cannot have been processed, as net/http's Transport decides
// (nothingWrittenError, and a reused connection closed before the answer for
// a replayable request):
//   - no byte of it reached the connection, and it has no body to replay
//     (a refused dial is handled apart: it never reaches try);
//   - or it is replayable (GET, HEAD, OPTIONS, TRACE, or it carries
//     Idempotency-Key), has no body, went out on a reused connection, and
//     the upstream closed that connection before any byte of a response.
// Never after a timeout or a cancel, never twice, never on the same connection.

// attemptFailure is what a failed attempt tells the retry rule.
type attemptFailure struct {
	err         error
	reused      bool // the connection came from the pool
	wrote       bool // some bytes of the request reached the connection
	closedEarly bool // the upstream ended the connection before any byte of a response
	timeout     bool // the response header timed out
	cancelled   bool // the client left or a drain cancelled the exchange
}

func (f *attemptFailure) Error() string { return f.err.Error() }
func (f *attemptFailure) Unwrap() error { return f.err }

// mayRetry is the retry rule as a pure decision.
func mayRetry(f *attemptFailure, replayable, hasBody bool) bool {
	switch {
	case f.timeout || f.cancelled || hasBody:
		return false
	case !f.wrote:
		return true
	}
	return replayable && f.reused && f.closedEarly
}

// RoundTrip sends ex's request and returns the response; the body streams from
// the connection and gives it back to the pool when the response ended
// exactly at its framing.
func (c *upstreamClient) RoundTrip(ex *exchange) (*http.Response, error) {
	resp, err := c.try(ex, true)
	var f *attemptFailure
	if errors.As(err, &f) && mayRetry(f, ex.replayable, ex.body != nil) {
		resp, err = c.try(ex, false)
	}
	if errors.As(err, &f) {
		err = f.err
	}
	return resp, err
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

// errUnaskedUpgrade is a 101 the request did not ask for, or one that names
// another protocol than the request's Upgrade (httputil.ReverseProxy refuses
// it the same way): relaying it would open a tunnel past routing.
var errUnaskedUpgrade = errors.New("upstream switched protocols without being asked to")

func (c *upstreamClient) try(ex *exchange, reuse bool) (*http.Response, error) {
	var uc *upConn
	if reuse {
		uc = c.get()
	}
	reused := uc != nil
	if uc == nil {
		var err error
		if uc, err = c.dial(ex); err != nil {
			return nil, err
		}
	}
	// A client that leaves, or a drain that cancels, ends the exchange by
	// expiring the connection's deadlines.
	if err := ex.attach(uc.conn); err != nil {
		uc.conn.Close()
		return nil, err
	}
	uc.w.n = 0
	if err := writeRequest(uc.bw, ex); err != nil {
		cancelled := ex.detach()
		uc.conn.Close()
		return nil, &attemptFailure{err: err, reused: reused, wrote: uc.w.n > 0, cancelled: cancelled}
	}
	if c.headerTimeout > 0 {
		ex.armHeaderTimeout(uc, c.headerTimeout)
	}
	resp, doubt, err := ex.readResponse(uc.br)
	if err != nil {
		cancelled := ex.detach()
		uc.conn.Close()
		f := &attemptFailure{err: err, reused: reused, wrote: true, cancelled: cancelled}
		var ne net.Error
		switch {
		case cancelled:
		case errors.As(err, &ne) && ne.Timeout():
			f.timeout = true
			f.err = &timeoutError{"timeout awaiting response headers"}
		case !ex.answered && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
			// A reused connection that ends before any byte of the answer was
			// most likely closed by the upstream while idle (a keep-alive
			// timeout racing the request, a graceful shutdown).
			f.closedEarly = true
		}
		return nil, f
	}
	// The header timeout must not cut the body. A body already wholly in the
	// reader's buffer never reads the connection: the deadline stays, and the
	// next request on the connection may keep it (see armHeaderTimeout).
	if !uc.readDeadline.IsZero() && !ex.bodyBuffered(resp, uc.br) {
		ex.setReadDeadline(uc, time.Time{})
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		ex.detach()
		if ex.upgrade == "" || !h1.ASCIIEqualFold(resp.Header.Get("Upgrade"), ex.upgrade) {
			uc.conn.Close()
			return nil, errUnaskedUpgrade
		}
		resp.Body = &upgradedConn{Reader: uc.br, conn: uc.conn}
		return resp, nil
	}
	ex.pb = pooledBody{body: resp.Body, uc: uc, c: c, ex: ex, keep: !resp.Close && !doubt, sawEOF: resp.Body == http.NoBody}
	resp.Body = &ex.pb
	return resp, nil
}

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// writeRequest writes req in HTTP/1.1 with one flush: the request line, Host,
// the headers as they are, and the body (chunked when its length is unknown).
func writeRequest(bw *bufio.Writer, ex *exchange) error {
	if err := checkRequestHead(ex); err != nil {
		ex.closeBody()
		return err
	}
	bw.WriteString(ex.req.Method)
	bw.WriteByte(' ')
	bw.WriteString(ex.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(ex.host)
	bw.WriteString("\r\n")
	for k, vv := range ex.header {
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
	case ex.body == nil:
		if m := ex.req.Method; m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case ex.contentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(ex.contentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	if ex.body != nil {
		var err error
		if chunked {
			err = writeChunked(bw, ex.body)
		} else {
			_, err = io.CopyN(bw, ex.body, ex.contentLength)
		}
		ex.body.Close()
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// errInvalidRequestHead is a request line or field that is not valid HTTP/1.1
// syntax. The client side validated what the client sent; this catches what
// baton itself added (a middleware's value with a line break, say) before it
// could start a field of its own upstream.
var errInvalidRequestHead = errors.New("invalid request head for the upstream")

// checkRequestHead validates the request line and every field before a byte
// is written (RFC 9110 §5.1 field names are tokens, §5.5 values hold no CR,
// LF or NUL), so a refused request reaches no upstream.
func checkRequestHead(ex *exchange) error {
	if !h1.ValidHeaderName(ex.req.Method) || !validTarget(ex.uri) || !h1.ValidFieldValue(ex.host) || ex.host == "" {
		return fmt.Errorf("%w: request line %q %q (Host %q)", errInvalidRequestHead, ex.req.Method, ex.uri, ex.host)
	}
	for k, vv := range ex.header {
		if !h1.ValidHeaderName(k) {
			return fmt.Errorf("%w: field name %q", errInvalidRequestHead, k)
		}
		for _, v := range vv {
			if !h1.ValidFieldValue(v) {
				return fmt.Errorf("%w: value of %s", errInvalidRequestHead, k)
			}
		}
	}
	return nil
}

// validTarget: a request target is visible ASCII, and not empty.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (ex *exchange) closeBody() {
	if ex.body != nil {
		ex.body.Close()
	}
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

// pooledBody returns the connection to the pool once the body was read to
// its end, and only when nothing more is buffered: bytes past a response's
// framing (a body longer than its Content-Length, a body after a HEAD or 204
// answer) are not the next request's answer, so such a connection is closed,
// as http.Transport and nginx close it. A body closed before its end (the
// client left mid-download) closes the connection instead of draining it.
type pooledBody struct {
	body   io.ReadCloser
	uc     *upConn
	c      *upstreamClient
	ex     *exchange
	keep   bool // the response's framing allows reuse
	sawEOF bool
	done   bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	cancelled := b.ex.detach()
	// A cancelled exchange expired the connection's deadlines: it is not reused.
	if !b.keep || !b.sawEOF || cancelled {
		b.uc.conn.Close()
		b.body.Close()
		return nil
	}
	err := b.body.Close()
	if err == nil && b.uc.br.Buffered() == 0 {
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

// readResponse reads the final response for ex: the common response (HTTP/1.1,
// a final status with a body of one Content-Length, the whole header in the
// buffer) is parsed in place into the exchange's pooled response, header map
// and body; anything else goes to http.ReadResponse, after its framing was
// judged (see responseFraming). doubt is set when the response may be relayed
// but its connection must not carry another one.
func (ex *exchange) readResponse(br *bufio.Reader) (resp *http.Response, doubt bool, err error) {
	ex.answered = false
	for n1xx := 0; ; n1xx++ {
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		ex.answered = true
		resp, ok, err := ex.readCommonResponse(br)
		if ok || err != nil {
			return resp, false, err
		}
		f, err := judgeResponseHead(br, ex.req.Method)
		if err != nil {
			return nil, false, err
		}
		if resp, err = http.ReadResponse(br, &ex.req); err != nil {
			return nil, false, err
		}
		code := resp.StatusCode
		if code >= 200 || code == http.StatusSwitchingProtocols {
			return resp, f.doubt, nil
		}
		// An informational answer. As net/http's Transport: at most a few,
		// then the final one. 100 Continue is baton's own business with the
		// client (the request body is already sent); the others (102, 103
		// Early Hints) are relayed, as httputil.ReverseProxy relays them.
		if n1xx >= max1xxResponses {
			return nil, false, errors.New("too many 1xx informational responses")
		}
		if code != http.StatusContinue && ex.client1xx != nil {
			relay1xx(ex.client1xx, code, resp.Header)
		}
	}
}

// relay1xx writes an informational response to the client with its own
// fields, then takes them out of the final response's header again.
func relay1xx(w http.ResponseWriter, code int, h http.Header) {
	h1.RemoveHopHeaders(h)
	dst := w.Header()
	for k, vv := range h {
		if _, set := dst[k]; !set {
			dst[k] = vv
			defer delete(dst, k)
		}
	}
	w.WriteHeader(code)
}

// max1xxResponses is net/http's Transport's bound.
const max1xxResponses = 5

var headerEnd = []byte("\r\n\r\n")

// readCommonResponse parses what http.ReadResponse would, with the same
// result, for the common case only. ok is false, with nothing read from br,
// for everything else: HEAD, 1xx, 204, 304, another protocol version,
// Transfer-Encoding, Trailer, Pragma (net/http rewrites it), no or more than
// one Content-Length, bare LF line ends, folded lines, bytes net/http rejects,
// or a header not wholly buffered.
func (ex *exchange) readCommonResponse(br *bufio.Reader) (*http.Response, bool, error) {
	if ex.req.Method == http.MethodHead {
		return nil, false, nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, headerEnd)
	if end < 0 || len(buf) < 12 || string(buf[:9]) != "HTTP/1.1 " {
		return nil, false, nil
	}
	code := 0
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return nil, false, nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false, nil
	}
	block := string(buf[:end]) // status line and header lines; keys and values are cut from it
	statusLine, rest, _ := strings.Cut(block, "\r\n")
	if len(statusLine) > 12 && statusLine[12] != ' ' || strings.IndexByte(statusLine, '\n') >= 0 {
		return nil, false, nil
	}
	if ex.respHeader == nil {
		ex.respHeader = make(http.Header, 8)
	} else {
		clear(ex.respHeader)
	}
	h := ex.respHeader
	if !h1.ParseHeaderLines(rest, h) {
		return nil, false, nil
	}
	if h["Transfer-Encoding"] != nil || h["Trailer"] != nil || h["Pragma"] != nil {
		return nil, false, nil
	}
	length, ok := h1.ParseContentLength(h["Content-Length"])
	if !ok || length < 0 {
		return nil, false, nil
	}
	// As net/http: "Connection: close" ends the connection after this
	// response and is itself dropped from the header.
	closing := h1.ContainsToken(h["Connection"], "close")
	if closing {
		delete(h, "Connection")
	}
	br.Discard(end + len(headerEnd))
	ex.resp = http.Response{
		Status:        statusLine[9:],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: length,
		Close:         closing,
		Request:       &ex.req,
	}
	if length > 0 {
		ex.lb = lengthBody{br: br, remaining: length, closing: closing}
		ex.resp.Body = &ex.lb
	}
	return &ex.resp, true, nil
}

// lengthBody is a response body of a declared length, read from the
// connection's reader as net/http's body reads one: EOF with the last bytes,
// io.ErrUnexpectedEOF when the connection ends early, and Close reads what is
// left unless the connection closes after this response.
type lengthBody struct {
	br        *bufio.Reader
	remaining int64
	closing   bool
	sawEOF    bool
	closed    bool
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF || b.remaining <= 0 {
		b.sawEOF = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		b.sawEOF = true
		if b.remaining > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil && n > 0 && b.remaining == 0 {
		err = io.EOF
		b.sawEOF = true
	}
	return n, err
}

// Close reads what is left only when it is already buffered; a body left
// unread on the wire fails the close, so the connection is not reused.
func (b *lengthBody) Close() error {
	if b.closed {
		return nil
	}
	var err error
	if !b.sawEOF && !b.closing {
		if b.remaining > int64(b.br.Buffered()) {
			err = errBodyNotRead
		} else {
			_, err = io.Copy(io.Discard, b)
		}
	}
	b.closed = true
	return err
}

var errBodyNotRead = errors.New("response body closed before its end")
