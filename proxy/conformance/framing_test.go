package conformance

import (
	"fmt"
	"strings"
	"testing"
)

// h is a request head: the request line, Host: a.test, then lines, each
// without its CRLF, then the empty line.
func h(requestLine string, lines ...string) string {
	var b strings.Builder
	b.WriteString(requestLine + "\r\nHost: " + RouteHost + "\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

const helloChunked = "5\r\nhello\r\n0\r\n\r\n"

// Request framing: RFC 9112 §6 (message body), §7 (transfer codings), §5
// (field lines), §2.2 (message parsing).
func TestRequestFraming(t *testing.T) {
	t.Parallel()
	runVectors(t, []vector{
		// Baselines: well-framed requests go through, byte for byte.
		{name: "baseline/get", raw: h("GET /x HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1"})},
		{name: "baseline/post-content-length", raw: h("POST /x HTTP/1.1", "Content-Length: 5") + "hello",
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello"})},
		{name: "baseline/post-chunked", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + helloChunked,
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello"})},
		{name: "baseline/chunked-coding-name-is-case-insensitive", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: Chunked") + helloChunked,
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello"})},
		{name: "baseline/http10-content-length", raw: "POST /x HTTP/1.0\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello",
			status: is(200), keep: closed, up: requests(want{line: "POST /x HTTP/1.1", body: "hello"})},

		// Content-Length with Transfer-Encoding (§6.3: "ought to be handled as an error").
		{name: "cl-and-te", raw: h("POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked") + helloChunked,
			status: is(400), keep: closed, up: nothing},
		{name: "te-and-cl", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 5") + helloChunked,
			status: is(400), keep: closed, up: nothing},
		{name: "cl-and-te-smuggled-get", raw: h("POST / HTTP/1.1", "Content-Length: 4", "Transfer-Encoding: chunked") + "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-and-te-folded", raw: h("POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding:", " chunked") + helloChunked,
			status: is(400), keep: closed, up: nothing},

		// A Transfer-Encoding other than a final chunked on HTTP/1.1 (§6.3, §7).
		{name: "te-gzip", raw: h("POST / HTTP/1.1", "Transfer-Encoding: gzip") + "hello",
			status: is(501, 400), keep: closed, up: nothing},
		{name: "te-chunked-gzip", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked, gzip") + helloChunked,
			status: is(501, 400), keep: closed, up: nothing},
		{name: "te-identity", raw: h("POST / HTTP/1.1", "Transfer-Encoding: identity") + "hello",
			status: is(501, 400), keep: closed, up: nothing},
		{name: "te-xchunked", raw: h("POST / HTTP/1.1", "Transfer-Encoding: xchunked") + helloChunked,
			status: is(501, 400), keep: closed, up: nothing},
		{name: "te-two-lines-gzip-last", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip") + helloChunked,
			status: is(501, 400), keep: closed, up: nothing},

		// Any Transfer-Encoding on HTTP/1.0 (§6.1: the framing is faulty).
		{name: "te-http10", raw: "POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + helloChunked,
			status: is(400), keep: closed, up: nothing},
		{name: "te-http10-with-cl", raw: "POST / HTTP/1.0\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
			status: is(400), keep: closed, up: nothing},
		{name: "te-http10-keep-alive", raw: "POST / HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + helloChunked,
			status: is(400), keep: closed, up: nothing},

		// obs-fold (§5.2: a server may reject it with 400; baton does).
		{name: "obs-fold-sp", raw: h("GET / HTTP/1.1", "X-A: 1", " 2"),
			status: is(400), keep: closed, up: nothing},
		{name: "obs-fold-htab", raw: h("GET / HTTP/1.1", "X-A: 1", "\t2"),
			status: is(400), keep: closed, up: nothing},
		{name: "obs-fold-on-a-body-request", raw: h("POST / HTTP/1.1", "Content-Length: 5", "X-A: 1", " 2") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "obs-fold-host", raw: "GET / HTTP/1.1\r\nHost:\r\n a.test\r\n\r\n",
			status: is(400), keep: closed, up: nothing},
		{name: "whitespace-before-first-field", raw: "GET / HTTP/1.1\r\n X-A: 1\r\nHost: a.test\r\n\r\n",
			status: is(400), keep: closed, up: nothing},

		// Bytes that are not allowed in a head.
		{name: "bare-cr-in-value", raw: h("GET / HTTP/1.1", "X-A: a\rb"),
			status: is(400), keep: closed, up: nothing},
		{name: "bare-cr-as-line-end", raw: h("GET / HTTP/1.1", "X-A: a\rX-B: b"),
			status: is(400), keep: closed, up: nothing},
		{name: "bare-cr-in-request-line", raw: h("GET /x\ry HTTP/1.1"),
			status: is(400), keep: closed, up: nothing},
		{name: "nul-in-value", raw: h("GET / HTTP/1.1", "X-A: a\x00b"),
			status: is(400), keep: closed, up: nothing},
		{name: "ctl-in-value", raw: h("GET / HTTP/1.1", "X-A: a\x01b"),
			status: is(400), keep: closed, up: nothing},
		{name: "space-before-colon-host", raw: "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n",
			status: is(400), keep: closed, up: nothing},
		{name: "space-before-colon", raw: h("GET / HTTP/1.1", "X-A : 1"),
			status: is(400), keep: closed, up: nothing},
		{name: "tab-before-colon", raw: h("GET / HTTP/1.1", "X-A\t: 1"),
			status: is(400), keep: closed, up: nothing},
		{name: "space-before-colon-content-length", raw: h("POST / HTTP/1.1", "Content-Length : 5") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "empty-field-name", raw: h("GET / HTTP/1.1", ": x"),
			status: is(400), keep: closed, up: nothing},
		{name: "invalid-byte-in-field-name", raw: h("GET / HTTP/1.1", "X{A}: 1"),
			status: is(400), keep: closed, up: nothing},

		// Content-Length values (§6.3: an invalid one is unrecoverable).
		{name: "cl-duplicate-different", raw: h("POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 6") + "hello!",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-duplicate-same", raw: h("POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 5") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-list-same", raw: h("POST / HTTP/1.1", "Content-Length: 5, 5") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-list-different", raw: h("POST / HTTP/1.1", "Content-Length: 5, 6") + "hello!",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-plus", raw: h("POST / HTTP/1.1", "Content-Length: +5") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-minus", raw: h("POST / HTTP/1.1", "Content-Length: -1") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-hex", raw: h("POST / HTTP/1.1", "Content-Length: 0x5") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-20-digits", raw: h("POST / HTTP/1.1", "Content-Length: 99999999999999999999") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-not-a-number", raw: h("POST / HTTP/1.1", "Content-Length: abc") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-empty", raw: h("POST / HTTP/1.1", "Content-Length: ") + "hello",
			status: is(400), keep: closed, up: nothing},
		{name: "cl-space-inside", raw: h("POST / HTTP/1.1", "Content-Length: 5 5") + "hello",
			status: is(400), keep: closed, up: nothing},

		// Chunked bodies (§7.1).
		{name: "chunk-size-overflow", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked") + "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
			status: is(400), keep: closed, up: noComplete},
		{name: "chunk-size-not-hex", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked") + "zz\r\nhello\r\n0\r\n\r\n",
			status: is(400), keep: closed, up: noComplete},
		{name: "chunk-data-longer-than-size", raw: h("POST / HTTP/1.1", "Transfer-Encoding: chunked") + "5\r\nhelloXX\r\n0\r\n\r\n",
			status: is(400), keep: closed, up: noComplete},
		{name: "chunk-extension", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5;name=value\r\nhello\r\n0\r\n\r\n",
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello", checks: []msgCheck{noChunkExt}})},
		{name: "chunk-extension-quoted", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5;name=\"a b\"\r\nhello\r\n0;last\r\n\r\n",
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello", checks: []msgCheck{noChunkExt}})},
		{name: "chunk-bare-lf", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5\nhello\r\n0\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, hasBody("hello"))},
		// Framing fields in the trailer section (RFC 9110 §6.5.1): refused,
		// or dropped, never forwarded.
		{name: "trailer-content-length", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, hasBody("hello"), lacks("Content-Length", "99"))},
		{name: "trailer-transfer-encoding", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, hasBody("hello"), lacks("Transfer-Encoding", "gzip"))},
		{name: "trailer-host", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nHost: evil.test\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, hasBody("hello"), lacks("Host", "evil"))},
		{name: "trailer-declared-host", raw: h("POST /x HTTP/1.1", "Transfer-Encoding: chunked", "Trailer: Host") + "5\r\nhello\r\n0\r\nHost: evil.test\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, hasBody("hello"), lacks("Host", "evil"))},

		// Bare LF line ends (§2.2: a recipient MAY accept them): one
		// well-formed answer, at most one request upstream.
		{name: "bare-lf-everywhere", raw: "GET /x HTTP/1.1\nHost: a.test\n\n",
			status: is(200, 400), keep: either, up: atMost(1, lineIs("GET /x HTTP/1.1"))},
		{name: "bare-lf-in-one-line", raw: "GET /x HTTP/1.1\r\nHost: a.test\nX-A: 1\r\n\r\n",
			status: is(200, 400), keep: either, up: atMost(1, lineIs("GET /x HTTP/1.1"))},
		{name: "bare-lf-with-body", raw: "POST /x HTTP/1.1\nHost: a.test\nContent-Length: 5\n\nhello",
			status: is(200, 400), keep: either, up: atMost(1, lineIs("POST /x HTTP/1.1"), hasBody("hello"))},
	})
}

// Pipelined requests: every request of one write is answered, in order, and
// the upstream sees each as its own message with its exact body.
func TestPipelining(t *testing.T) {
	t.Parallel()
	runVectors(t, []vector{
		{name: "post-content-length-then-get", raw: h("POST /one HTTP/1.1", "Content-Length: 5") + "hello" + h("GET /two HTTP/1.1"),
			status: is(200), resp: bodyIs("path=/one"), next: []string{"path=/two"}, keep: open,
			up: requests(want{line: "POST /one HTTP/1.1", body: "hello"}, want{line: "GET /two HTTP/1.1"})},
		{name: "post-chunked-then-get", raw: h("POST /one HTTP/1.1", "Transfer-Encoding: chunked") + helloChunked + h("GET /two HTTP/1.1"),
			status: is(200), resp: bodyIs("path=/one"), next: []string{"path=/two"}, keep: open,
			up: requests(want{line: "POST /one HTTP/1.1", body: "hello"}, want{line: "GET /two HTTP/1.1"})},
		{name: "get-then-post-then-get", raw: h("GET /one HTTP/1.1") + h("POST /two HTTP/1.1", "Content-Length: 3") + "abc" + h("GET /three HTTP/1.1"),
			status: is(200), resp: bodyIs("path=/one"), next: []string{"path=/two", "path=/three"}, keep: open,
			up: requests(want{line: "GET /one HTTP/1.1"}, want{line: "POST /two HTTP/1.1", body: "abc"}, want{line: "GET /three HTTP/1.1"})},
	})
}

// fields returns n fields "X-F<i>: v<i>".
func fields(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("X-F%d: v%d", i, i)
	}
	return out
}

// Limits, as strict as nginx's and haproxy's defaults: a field line of at
// most 8 KiB, a header section of at most 32 KiB, at most 100 fields.
func TestLimits(t *testing.T) {
	t.Parallel()
	bigLine := "X-Big: " + strings.Repeat("a", 8<<10) // 8 KiB + 7 bytes
	var kLines []string                               // 34 lines of 1 KiB: 34 KiB
	for i := 0; i < 34; i++ {
		name := fmt.Sprintf("X-K%02d: ", i)
		kLines = append(kLines, name+strings.Repeat("k", 1024-len(name)))
	}
	sevenK := "X-Seven: " + strings.Repeat("s", 7<<10-len("X-Seven: "))
	sixty := append(fields(58), sevenK) // with Host: 60 fields
	runVectors(t, []vector{
		{name: "field-line-over-8k", raw: h("GET / HTTP/1.1", bigLine),
			status: is(431, 400), keep: closed, up: nothing},
		{name: "header-section-over-32k", raw: h("GET / HTTP/1.1", kLines...),
			status: is(431, 400), keep: closed, up: nothing},
		{name: "over-100-fields", raw: h("GET / HTTP/1.1", fields(100)...), // with Host: 101
			status: is(431, 400), keep: closed, up: nothing},
		{name: "over-100-fields-on-a-body-request", raw: h("POST / HTTP/1.1", append(fields(100), "Content-Length: 5")...) + "hello",
			status: is(431, 400), keep: closed, up: nothing},
		{name: "7k-line-and-60-fields", raw: h("GET /x HTTP/1.1", sixty...),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", fields: sixty})},

		// TE is hop-by-hop, but "trailers" is meant for the next hop (gRPC needs it).
		{name: "te-trailers-forwarded", raw: h("GET /x HTTP/1.1", "TE: trailers"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", fields: []string{"Te: trailers"}})},
		{name: "te-trailers-forwarded-with-a-body", raw: h("POST /x HTTP/1.1", "TE: trailers", "Content-Length: 5") + "hello",
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hello", fields: []string{"Te: trailers"}})},
		{name: "te-gzip-not-forwarded", raw: h("GET /x HTTP/1.1", "TE: gzip"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1"})},
		{name: "te-trailers-and-deflate-forwards-trailers-only", raw: h("GET /x HTTP/1.1", "TE: trailers, deflate;q=0.5"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", fields: []string{"Te: trailers"}})},
	})
}
