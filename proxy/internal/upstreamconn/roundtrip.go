package upstreamconn

import (
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// The retry rule. A request goes upstream a second time only when the first
// attempt cannot have been processed (RFC 9112 §9.3.1: no automatic retry of
// a request that is not idempotent, unless it cannot have been acted on), as
// net/http's Transport decides (nothingWrittenError, and a reused connection
// closed before the answer for a replayable request):
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
// exactly at its framing. A 101 the request asked for comes with the raw
// connection as its body (an io.ReadWriteCloser). The caller closes the body,
// then releases ex.
func (c *Client) RoundTrip(ex *Exchange) (*http.Response, error) {
	ex.req.Method = ex.Method
	resp, err := c.try(ex, true)
	var f *attemptFailure
	if errors.As(err, &f) && mayRetry(f, ex.Replayable, ex.Body != nil) {
		resp, err = c.try(ex, false)
	}
	if errors.As(err, &f) {
		err = f.err
	}
	return resp, err
}

// errUnaskedUpgrade is a 101 the request did not ask for, or one that names
// another protocol than the request's Upgrade (httputil.ReverseProxy refuses
// it the same way): relaying it would open a tunnel past routing.
var errUnaskedUpgrade = errors.New("upstream switched protocols without being asked to")

func (c *Client) try(ex *Exchange, reuse bool) (*http.Response, error) {
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
		if ex.Upgrade == "" || !h1.ASCIIEqualFold(resp.Header.Get("Upgrade"), ex.Upgrade) {
			uc.conn.Close()
			return nil, errUnaskedUpgrade
		}
		resp.Body = newUpgradedConn(uc.conn, uc.br)
		return resp, nil
	}
	ex.pb = pooledBody{body: resp.Body, uc: uc, c: c, ex: ex, keep: !resp.Close && !doubt, sawEOF: resp.Body == http.NoBody}
	resp.Body = &ex.pb
	return resp, nil
}

// timeoutError is a response header that did not come within
// ResponseHeaderTimeout; its text is net/http Transport's.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// Replayable is net/http's Transport rule (isReplayable) for a request that
// may be sent again when a reused connection died before its answer: a safe
// method (RFC 9110 §9.2.1; safe methods are idempotent, §9.2.2), or a
// request that carries an idempotency key. The retry rule adds that it has
// no body.
func Replayable(method string, h http.Header) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := h["Idempotency-Key"]
	_, xkey := h["X-Idempotency-Key"]
	return key || xkey
}
