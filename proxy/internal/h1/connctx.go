package h1

import (
	"context"
	"sync/atomic"
)

// connContext is every request's context on one connection, with one slot
// for a func to run when it ends. An HTTP/1.1 connection serves one request
// at a time, so the upstream client's "client gone" hook (upstreamconn's
// Exchange) needs no more than one slot: setting and clearing it costs two
// atomic operations per request, where context.AfterFunc allocates a child
// context and takes the parent's lock each time.
type connContext struct {
	context.Context
	cancel context.CancelCauseFunc
	hook   atomic.Pointer[func()]
}

// newConnContext is a connection's context below base; end ends it. The
// slot's func runs when it ends, however it ends: end, or base cancelled
// (watched only when base can be: an AfterFunc costs a child map and a
// context a connection, which ten thousand idle connections notice).
func newConnContext(base context.Context) (c *connContext, end context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(base)
	c = &connContext{Context: ctx, cancel: cancel}
	if base.Done() != nil {
		context.AfterFunc(ctx, c.fire)
	}
	return c, c.end
}

// end cancels the context with cause and runs the slot's func.
func (c *connContext) end(cause error) {
	c.cancel(cause)
	c.fire()
}

// OnDone makes *f run in its own goroutine when the connection ends, as
// context.AfterFunc would; at most one func is set at a time.
func (c *connContext) OnDone(f *func()) {
	c.hook.Store(f)
	if c.Err() != nil {
		c.fire() // ended before the store: fire would have found the slot empty
	}
}

// StopOnDone clears the slot if it still holds f, and reports whether that
// kept *f from running (context.AfterFunc's stop func).
func (c *connContext) StopOnDone(f *func()) bool { return c.hook.CompareAndSwap(f, nil) }

// fire runs the func in the slot, exactly once: whoever swaps it out owns it.
func (c *connContext) fire() {
	if f := c.hook.Swap(nil); f != nil {
		go (*f)()
	}
}
