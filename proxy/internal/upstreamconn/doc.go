// Package upstreamconn is baton's HTTP/1.1 client of its upstreams: one
// Client per target, with its own pool of keep-alive connections. It runs on
// the goroutine that serves the client (no reader and writer goroutine per
// connection, as in http.Transport), and one Exchange, pooled, carries a
// request there and back, and its cancel (the client left, a drain reached
// its bound). Package proxy routes, picks the target and relays the
// response; how baton talks to an upstream is made and reviewed here.
//
// The reuse rule: a connection goes back to the pool only when its response
// ended exactly at its framing: the body read to its end, no byte buffered
// past it (bytes past a response's framing are never the next request's
// answer), no Connection: close, no doubt about the framing (see
// judgeResponseHead: Content-Length with Transfer-Encoding, duplicate
// lengths, a 1xx or 204 that declares a body, obs-fold in a framing field, a
// body read until close; RFC 9112 §6.3, §11.2), and the exchange not
// cancelled. Idle connections are kept in a LIFO stack, up to MaxIdleConns
// and IdleConnTimeout, and probed right before reuse (idleprobe_linux.go):
// one the upstream closed or wrote to while idle is dropped, before a byte of
// the request is written. A body closed before its end closes the connection
// instead of draining it. Elsewhere than Linux nothing is reused.
//
// The retry rule (roundtrip.go, net/http Transport's): a request goes out a
// second time, on a fresh connection, only when the first attempt cannot have
// been processed: no byte of it was written and it has no body; or it is
// Replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key), has no body,
// went out on a reused connection, and the upstream closed that connection
// before any byte of a response (RFC 9112 §9.3.1). Never after a timeout or a
// cancel, never twice.
//
// What is refused: a request line or field that is not HTTP/1.1 syntax (RFC
// 9110 §5.1, §5.5), before a byte is written (request.go; checked unless the
// caller says the head was validated and not touched since, HeadChecked); a 101 the request
// did not ask for, or naming another protocol (a tunnel past routing, as
// httputil.ReverseProxy refuses it); a response with differing
// Content-Lengths (RFC 9112 §6.3 rule 5); a response head larger than the
// 16 KiB read buffer (as nginx's proxy_buffer_size bounds it); more than five
// 1xx responses (net/http Transport's bound); a response header later than
// ResponseHeaderTimeout. Informational responses other than 100 are relayed
// to the client (Exchange.Client1xx).
//
// The common response (HTTP/1.1, a final status, one Content-Length, the head
// wholly buffered) is parsed in place into the Exchange's pooled response, as
// http.ReadResponse would read it (response.go); every other response is left
// to http.ReadResponse, after judgeResponseHead (framing.go).
//
// The files: client.go (Options, the pool, dialing), exchange.go (the
// Exchange and its cancel), roundtrip.go (RoundTrip, one attempt, the retry
// rule), request.go (writing a request), response.go (reading a response,
// 1xx, the in-place parser, bodies of a known length), body.go (the body
// that gives the connection back), framing.go (judgeResponseHead),
// idleprobe_linux.go and idleprobe_other.go (the probe of an idle
// connection), transport.go (HTTPTransport).
//
// Upstreams that are not plain HTTP/1.1 (scheme https: TLS, HTTP/2 or
// HTTP/1.1 by ALPN; scheme h2c: HTTP/2 in clear) go through HTTPTransport,
// net/http's Transport carrying the same Exchange and its cancel; the rules
// above are then net/http's own, of which these are a copy.
package upstreamconn
