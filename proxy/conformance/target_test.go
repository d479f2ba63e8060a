package conformance

import "testing"

// Request targets (RFC 9112 §3.2). An origin-form target goes upstream byte
// for byte; an absolute-form one is routed by its authority and goes upstream
// in origin form; anything else is not forwarded.
func TestRequestTargets(t *testing.T) {
	t.Parallel()
	runVectors(t, []vector{
		// Neither origin-form nor an absolute http(s) URL.
		{name: "scheme-opaque", raw: h("GET a:b HTTP/1.1"),
			status: is(400), keep: either, up: nothing},
		{name: "scheme-path", raw: h("GET x:/admin HTTP/1.1"),
			status: is(400), keep: either, up: nothing},
		{name: "fragment", raw: h("GET /a#frag HTTP/1.1"),
			status: is(400), keep: either, up: nothing},
		{name: "relative-path", raw: h("GET admin HTTP/1.1"),
			status: is(400), keep: either, up: nothing},
		{name: "connect", raw: "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
			status: is(405), keep: either, up: nothing},
		{name: "options-asterisk", raw: h("OPTIONS * HTTP/1.1"),
			status: is(200, 204), resp: hasField("Allow"), keep: open, up: nothing},

		// Host (§3.2: a missing, repeated or invalid Host is a 400).
		{name: "no-host", raw: "GET / HTTP/1.1\r\n\r\n",
			status: is(400), keep: either, up: nothing},
		{name: "two-hosts", raw: "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
			status: is(400), keep: either, up: nothing},
		{name: "invalid-host", raw: "GET / HTTP/1.1\r\nHost: a.test/evil\r\n\r\n",
			status: is(400), keep: either, up: nothing},

		// Absolute form (§3.2.2): routed by the target's authority, which
		// replaces Host; upstream in origin form.
		{name: "absolute-form", raw: h("GET http://a.test/x?y HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /x?y HTTP/1.1"})},
		{name: "absolute-form-overrides-host", raw: "GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n",
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1"})},
		{name: "absolute-form-unrouted-authority", raw: h("GET http://b.test/x HTTP/1.1"),
			status: is(404), keep: open, up: nothing},
		{name: "absolute-form-empty-path", raw: h("GET http://a.test HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET / HTTP/1.1"})},

		// Origin form: byte for byte.
		{name: "origin-escaped-slash-and-space", raw: h("GET /a%2Fb?x=%20 HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /a%2Fb?x=%20 HTTP/1.1"})},
		{name: "origin-empty-query", raw: h("GET /p? HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /p? HTTP/1.1"})},
		{name: "origin-sub-delims", raw: h("GET /!$&'()*+,;=:@ HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /!$&'()*+,;=:@ HTTP/1.1"})},
		{name: "origin-double-slashes", raw: h("GET //x//y HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET //x//y HTTP/1.1"})},
		{name: "origin-lower-case-escapes", raw: h("GET /%7e%7E?q=%2f HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /%7e%7E?q=%2f HTTP/1.1"})},
		{name: "origin-query-with-slashes-and-question-marks", raw: h("GET /p?a=/b?c HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /p?a=/b?c HTTP/1.1"})},
		{name: "origin-on-a-body-request", raw: h("POST /a%2Fb?x=%20 HTTP/1.1", "Content-Length: 2") + "hi",
			status: is(200), keep: open, up: requests(want{line: "POST /a%2Fb?x=%20 HTTP/1.1", body: "hi"})},
	})
}
