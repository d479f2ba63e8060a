// Package proxy is baton's data plane: the listeners (plain, TLS, HTTP/3) and
// the handler that routes each request through the route table to a target.
//
// The main types: Listener (server.go) accepts connections and serves them
// with the HTTP/1.1 fast path (proxy/internal/h1) and net/http for HTTP/2 and
// HTTP/1.0; Handler (handler.go) matches a request to a Route of the Table in
// force, holds it while its service has no ready target, balances, forwards
// (upstream connections in proxy/internal/upstreamconn), relays upgrades and
// maps errors to statuses (errors.go); Router (router.go) keeps the Table
// behind one atomic pointer, swapped whole by cutover's switchboard, and wakes
// held requests on each swap; Target (target.go) is one upstream with its
// in-flight accounting (drain tracks it). The loops: Listener.Serve accepts;
// each request runs Handler.ServeHTTP on its connection's goroutine; the hot
// path takes no global lock.
package proxy
