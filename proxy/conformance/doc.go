// Package conformance is a raw-socket HTTP/1.1 conformance suite for baton's
// edge (issue "Edge safety").
//
// Its tests start baton's real listener stack in-process, through the public
// API of package proxy (Listen, NewHandler, NewRouter, NewTable, NewTarget),
// on 127.0.0.1:0. A test writes a request as exact bytes over a real TCP
// connection and reads baton's answer as bytes. The upstream is a raw
// recording backend (Backend): a TCP listener that keeps the exact bytes of
// every request it receives, split into messages by their own framing, and
// answers each with a scripted raw response, which may be mis-framed on
// purpose. Tests wait for what the backend received through channels, never
// with sleeps, and every listener and connection is closed by t.Cleanup.
//
// A vector states the behaviour baton must have, not the behaviour it has:
// the status baton answers (and where it matters, its header fields), whether
// the client's connection stays usable (a second request on it is answered)
// or is closed, and the exact bytes the upstream got: the request line and
// the body byte for byte, the header fields as a multimap (the order of
// baton's fields is not stable) without the values baton sets itself
// (X-Request-Id, X-Forwarded-*), and the framing fields on their own.
//
// The files:
//
//   - harness.go: the baton stack, the recording backend, the raw client
//     connection, and the parser of recorded requests (ParseMessage);
//     harness_test.go tests them.
//   - vector_test.go: the vector table type, its runner, and the matchers
//     of what the upstream received (nothing, requests(want{...}), every, ...).
//   - framing_test.go: request framing (RFC 9112 §2.2, §5, §6, §7),
//     pipelining, and limits.
//   - target_test.go: request targets (RFC 9112 §3.2).
//   - response_test.go: responses towards the client (1xx, 204, 304) and upgrades.
//   - forwarded_test.go: X-Forwarded-For, X-Real-Ip and Forwarded.
//   - upstream_test.go: a misbehaving upstream must not leak one client's
//     answer to another, and what is retried.
//   - fastpath_test.go: which requests baton's fast path serves.
//
// Run it with
//
//	go test -race ./proxy/conformance/
//
// and a single area with -run, e.g. -run 'TestRequestFraming/cl-and-te'.
package conformance
