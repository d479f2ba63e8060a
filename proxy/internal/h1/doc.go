// Package h1 is the client-facing HTTP/1.1 server of baton's listeners: the
// fast path. Package proxy composes it with a net/http server for what it
// hands over (proxy/server.go); a security fix to how baton reads a request
// is made and reviewed here.
//
// The rules:
//
//   - One strict parser reads every HTTP/1.1 request head (request.go,
//     syntax.go); there is no second parser that could read a message
//     another way (RFC 9112 §11.2, request smuggling). Heads are bounded
//     (Options: 8 KiB a line, 32 KiB and 100 fields by default, as nginx and
//     haproxy bound theirs) and wholly buffered before they are parsed.
//   - A doubtful message is refused, not repaired: the client gets the
//     status of the rule it broke, with the rule named in the body, and the
//     connection is closed, since where the next message starts is not known
//     (RFC 9112 §9.6). 400 for a malformed request line (§3), a bare CR or LF
//     (§2.2), obs-fold (§5.2), a space before a colon (§5.1), an invalid
//     byte, a fragment or another target form (§3.2), a missing, repeated or
//     invalid Host (§3.2), Content-Length with Transfer-Encoding, Transfer-
//     Encoding on HTTP/1.0 or not ending in chunked, a repeated or invalid
//     Content-Length (§6.1, §6.3); 405 for CONNECT (baton is no forward
//     proxy); 414 and 431 past the limits; 417 for an Expect other than
//     100-continue (RFC 9110 §10.1.1); 501 for a transfer coding before
//     chunked (RFC 9112 §6.1); 505 for other HTTP versions. A body whose
//     framing breaks mid-way (a malformed chunk or trailer, a body cut
//     short) is a BadRequestBodyError: 400, and the connection ends
//     (body.go).
//   - Everything else is served here, bodies too: by length or in chunks
//     (extensions dropped, trailers checked and dropped, RFC 9110 §6.5.1),
//     Expect: 100-continue (sent as the handler starts reading the body),
//     absolute-form targets (the authority is the host, RFC 9112 §3.2.2),
//     pipelining, and upgrades, which the handler takes by Hijack.
//     OPTIONS * is answered here (RFC 9110 §9.3.7). Responses are framed as
//     net/http frames them (response.go).
//   - What goes to net/http (Server.Fallback, handoff.go): HTTP/2, right
//     after the TLS handshake (ALPN "h2"), untouched; and HTTP/1.0, after the
//     same checks, for one request: CloseAfterOne closes the connection after
//     it, so that net/http never reads a head the fast path did not check.
//   - A client that leaves is noticed while the handler waits on the upstream
//     (watch.go), and its request's context is cancelled, as net/http
//     cancels it.
//
// The files: server.go (Options, the accept loop, the registry of
// connections, shutdown), conn.go (one connection: the serve loop, the TLS
// handshake, reading a head, refusals), request.go (the request-head
// parser), body.go (request bodies), response.go (the ResponseWriter),
// handoff.go (the hand-off to net/http), watch.go (the client watch),
// syntax.go (field syntax shared with package upstreamconn, and the
// hop-by-hop rule).
package h1
