package proxy

import "context"

// TargetTracker is told about every request and every upgraded connection that a
// target serves. The drain package implements it; the proxy only reports. A drain
// later uses what was reported to wait for in-flight work, cancel what outlives the
// bound (through the cancel func, with a cause the proxy maps to a status), and end
// long-lived connections.
//
// It is per target so that the hot path touches only that target's state: no map
// lookup by address and no global lock per request.
type TargetTracker interface {
	// Begin records a request about to be sent to the target. cancel aborts the
	// request with a cause; the returned token is handed back to Finish.
	Begin(cancel context.CancelCauseFunc) (token uint64)
	// Finish records that the request identified by token has ended.
	Finish(token uint64)
	// Upgraded registers a relayed connection (WebSocket or any Upgrade) and returns
	// the func that deregisters it when the relay ends.
	Upgraded(conn LongLived) (release func())
}

// LongLived is a relayed upgraded connection that a drain may end at its bound.
type LongLived interface {
	// EndGracefully tells both peers that the connection is going away (a WebSocket
	// close frame with status 1001 when the protocol is WebSocket) and closes it.
	EndGracefully()
}

// nopTracker is used for targets nobody drains (static routes before the drain
// package takes them over, tests).
type nopTracker struct{}

func (nopTracker) Begin(context.CancelCauseFunc) uint64 { return 0 }
func (nopTracker) Finish(uint64)                        {}
func (nopTracker) Upgraded(LongLived) func()            { return func() {} }
