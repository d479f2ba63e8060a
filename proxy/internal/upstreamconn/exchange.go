package upstreamconn

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked
// read or write.
var aLongTimeAgo = time.Unix(1, 0)

// Exchange is one proxied request on its way to a target and back: what the
// upstream client writes, and what cancelling it needs. It replaces a context
// per request: a cancel (the client left, a drain reached its bound) records
// its cause and expires the deadlines of the upstream connection in use, or
// aborts the dial in progress. Exchanges are pooled (NewExchange, Release);
// gen tells a cancel func handed to a tracker for an earlier request that its
// request is over.
//
// The caller fills in the request fields after NewExchange; RoundTrip writes
// them as they are, after checking their syntax (see checkRequestHead).
type Exchange struct {
	Method string
	// Target is the request target, in origin form, exactly as it goes
	// upstream.
	Target string
	Host   string
	// Header is written as it is, but for Host, Content-Length and
	// Transfer-Encoding: RoundTrip frames the body itself (writeRequest).
	Header        http.Header
	Body          io.ReadCloser // nil when there is none
	ContentLength int64         // of Body; -1 or 0 with a Body: sent chunked
	// Replayable: the method is GET, HEAD, OPTIONS or TRACE, or the request
	// carries Idempotency-Key (see Replayable and mayRetry).
	Replayable bool
	// Upgrade is the protocol the request asks to switch to ("" = none); a
	// 101 naming another is refused.
	Upgrade string
	// Client1xx gets the informational responses (103 Early Hints) relayed.
	Client1xx http.ResponseWriter
	// HeadChecked: every field and the request line were validated already
	// (the client side parsed them strictly, and nothing else wrote to the
	// request since), so writeRequest need not look at each byte again.
	HeadChecked bool

	req       http.Request // Method only (set by RoundTrip): what ReadResponse needs to know (HEAD)
	clientCtx context.Context
	// answered: a byte of a response arrived for this attempt.
	answered bool

	ownGen uint64 // gen of the current request, read by the owner only

	mu         sync.Mutex
	gen        uint64
	cause      error    // why the exchange was cancelled; nil while it runs
	conn       net.Conn // the upstream connection in use
	dialCancel context.CancelCauseFunc

	onClientGone func()      // ex.clientGone, bound once per exchange
	hook         doneHook    // the client's context, when it has a slot for onClientGone
	stopWatch    func() bool // stops watching the client's context otherwise
	pb           pooledBody

	// The response, when readCommonResponse parsed it.
	resp       http.Response
	respHeader http.Header
	lb         lengthBody
}

var exchanges = sync.Pool{New: func() any {
	ex := new(Exchange)
	ex.onClientGone = ex.clientGone
	return ex
}}

// NewExchange starts an exchange for a request of the client whose context
// is ctx: when ctx ends, the exchange is cancelled with its cause.
func NewExchange(ctx context.Context) *Exchange {
	ex := exchanges.Get().(*Exchange)
	ex.mu.Lock()
	ex.gen++
	ex.ownGen = ex.gen
	ex.cause = nil
	ex.mu.Unlock()
	ex.clientCtx = ctx
	if h, ok := ctx.(doneHook); ok {
		ex.hook = h
		h.OnDone(&ex.onClientGone)
	} else {
		ex.stopWatch = context.AfterFunc(ctx, ex.onClientGone)
	}
	return ex
}

// doneHook is a context that runs one func when it ends, for less than
// context.AfterFunc costs: the context of requests served by proxy/internal/h1
// (one request at a time per connection, so one slot is enough).
type doneHook interface {
	OnDone(f *func())
	StopOnDone(f *func()) bool
}

// stopWatching stops the client-gone func, and reports whether that kept it
// from running.
func (ex *Exchange) stopWatching() bool {
	if ex.hook != nil {
		return ex.hook.StopOnDone(&ex.onClientGone)
	}
	return ex.stopWatch()
}

// Release ends the exchange, once its response body is closed. It goes back
// to the pool unless the client-gone func already started, which may still
// be using it.
func (ex *Exchange) Release() {
	if !ex.stopWatching() {
		return
	}
	ex.mu.Lock()
	ex.gen++ // a late cancel of this request finds nothing to cancel
	ex.conn = nil
	ex.dialCancel = nil
	ex.mu.Unlock()
	ex.Method, ex.req.Method = "", ""
	ex.Target, ex.Host, ex.Upgrade = "", "", ""
	ex.ContentLength = 0
	ex.Replayable, ex.Client1xx, ex.HeadChecked = false, nil, false
	ex.Header, ex.Body, ex.clientCtx, ex.hook, ex.stopWatch = nil, nil, nil, nil, nil
	ex.pb = pooledBody{}
	ex.resp = http.Response{}
	ex.lb = lengthBody{}
	clear(ex.respHeader)
	exchanges.Put(ex)
}

// CancelFunc is the cancel func a tracker gets for the current request: it
// cancels this request only, not a later one the pooled Exchange carries.
func (ex *Exchange) CancelFunc() context.CancelCauseFunc {
	gen := ex.ownGen
	return func(cause error) { ex.cancel(gen, cause) }
}

func (ex *Exchange) clientGone() {
	ex.mu.Lock()
	gen := ex.gen
	ex.mu.Unlock()
	ex.cancel(gen, context.Cause(ex.clientCtx))
}

// cancel ends the request gen with cause; the first cause wins.
func (ex *Exchange) cancel(gen uint64, cause error) {
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

// CancelCause is the cause the exchange was cancelled with, or nil.
func (ex *Exchange) CancelCause() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.cause
}

// dialContext returns the context a dial runs under and the func to call
// when the dial returns; it fails when the exchange was already cancelled.
func (ex *Exchange) dialContext() (context.Context, func(), error) {
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
func (ex *Exchange) attach(conn net.Conn) error {
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
func (ex *Exchange) detach() (cancelled bool) {
	ex.mu.Lock()
	ex.conn = nil
	cancelled = ex.cause != nil
	ex.mu.Unlock()
	return cancelled
}

// setReadDeadline sets uc's read deadline unless a cancel already expired it.
func (ex *Exchange) setReadDeadline(uc *upConn, t time.Time) {
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
func (ex *Exchange) armHeaderTimeout(uc *upConn, timeout time.Duration) {
	d := time.Now().Add(timeout)
	if !uc.readDeadline.IsZero() && d.Sub(uc.readDeadline) <= timeout>>6 {
		return
	}
	ex.setReadDeadline(uc, d)
}

// bodyBuffered reports whether resp's body (parsed in place) lies wholly in br's
// buffer, so that reading it never reads the connection.
func (ex *Exchange) bodyBuffered(resp *http.Response, br *bufio.Reader) bool {
	if resp != &ex.resp {
		return false
	}
	return resp.Body == http.NoBody || ex.lb.remaining <= int64(br.Buffered())
}
