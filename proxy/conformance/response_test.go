package conformance

import (
	"strings"
	"testing"
)

// answer is a backend script: raw for every request but the probe, which
// gets Echo.
func answer(raw string) func(*Request) Action {
	return func(r *Request) Action {
		if r.Line() == probeLine {
			return Echo(r)
		}
		return Raw(raw)
	}
}

// Responses towards the client: no framing fields where a response has no
// body (RFC 9110 §8.6, RFC 9112 §6.1), 1xx before the final answer.
func TestResponseFraming(t *testing.T) {
	t.Parallel()
	get := h("GET /r HTTP/1.1")
	runVectors(t, []vector{
		{name: "baseline/200", raw: get, script: answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			status: is(200), resp: bodyIs("ok"), keep: open, up: requests(want{line: "GET /r HTTP/1.1"})},
		{name: "baseline/head-keeps-content-length", raw: h("HEAD /r HTTP/1.1"), script: answer("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"),
			status: is(200), keep: open, up: requests(want{line: "HEAD /r HTTP/1.1"})},
		{name: "204-with-content-length-0", raw: get, script: answer("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"),
			status: is(204), resp: noField("Content-Length", "Transfer-Encoding"), keep: open, up: requests(want{line: "GET /r HTTP/1.1"})},
		{name: "204", raw: get, script: answer("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"),
			status: is(204), resp: noField("Content-Length", "Transfer-Encoding"), keep: open, up: requests(want{line: "GET /r HTTP/1.1"})},
		{name: "204-on-a-body-request", raw: h("PUT /r HTTP/1.1", "Content-Length: 2") + "hi", script: answer("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"),
			status: is(204), resp: noField("Content-Length", "Transfer-Encoding"), keep: open, up: requests(want{line: "PUT /r HTTP/1.1", body: "hi"})},
		// RFC 9110 §8.6 lets a 304 carry the selected representation's
		// length: no body, and the connection stays usable.
		{name: "304-with-content-length", raw: h("GET /r HTTP/1.1", `If-None-Match: "v1"`), script: answer("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 42\r\n\r\n"),
			status: is(304), resp: noField("Transfer-Encoding"), keep: open, up: requests(want{line: "GET /r HTTP/1.1", fields: []string{`If-None-Match: "v1"`}})},
		{name: "103-early-hints-then-200", raw: get, script: answer("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			status: is(200), resp: bodyIs("ok"), keep: open, up: requests(want{line: "GET /r HTTP/1.1"})},
		{name: "100-unasked-then-200", raw: get, script: answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			status: is(200), resp: bodyIs("ok"), keep: open, up: requests(want{line: "GET /r HTTP/1.1"})},
	})
}

const (
	wsKey     = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept  = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	wsRequest = "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n"
)

var wsFields = []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + wsKey}

// switchTo is a backend that answers 101 to protocol (then relays the
// connection) for every request but the probe.
func switchTo(protocol string) func(*Request) Action {
	return func(r *Request) Action {
		if r.Line() == probeLine {
			return Echo(r)
		}
		return Action{Write: []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + protocol + "\r\nSec-WebSocket-Accept: " + wsAccept + "\r\n\r\n"), Tunnel: true}
	}
}

// Upgrades: only a switch the client asked for, to the protocol it asked
// for, becomes a tunnel.
func TestUpgrades(t *testing.T) {
	t.Parallel()
	runVectors(t, []vector{
		{name: "101-not-asked-for", raw: h("GET /ws HTTP/1.1"), script: switchTo("websocket"),
			status: is(502), keep: either, up: requests(want{line: "GET /ws HTTP/1.1"})},
		{name: "101-not-asked-for-on-a-body-request", raw: h("POST /ws HTTP/1.1", "Content-Length: 2") + "hi", script: switchTo("websocket"),
			status: is(502), keep: either, up: requests(want{line: "POST /ws HTTP/1.1", body: "hi"})},
		{name: "101-not-asked-for-on-http10", raw: "GET /ws HTTP/1.0\r\nHost: a.test\r\n\r\n", script: switchTo("websocket"),
			status: is(502), keep: closed, up: requests(want{line: "GET /ws HTTP/1.1"})},
		{name: "101-to-another-protocol", raw: wsRequest, script: switchTo("h2c"),
			status: is(502), keep: either, up: requests(want{line: "GET /ws HTTP/1.1", fields: wsFields})},
		// A route without h2c: the upgrade is not forwarded (a normal request
		// without Upgrade, or a refusal), and no 101 reaches the client.
		// The backend switches whenever it is asked to.
		{name: "h2c-not-forwarded", raw: h("GET /h HTTP/1.1", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
			script: func(r *Request) Action {
				if r.Msg != nil && r.Msg.Header.Has("Upgrade") {
					return switchTo("h2c")(r)
				}
				return Echo(r)
			},
			status: is(200, 400, 501), keep: either, up: atMost(1, lineIs("GET /h HTTP/1.1"), lacks("Upgrade", ""), lacks("Connection", "upgrade"), lacks("Http2-Settings", ""))},
	})

	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{Script: switchTo("websocket")})
		c := Dial(t, s.Addr)
		if err := c.Send(wsRequest); err != nil {
			t.Fatal(err)
		}
		r, _, err := c.ReadFinal("GET")
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if r.Status != 101 || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			t.Fatalf("answer %q, want 101 with Upgrade: websocket and Connection: Upgrade\n%s", r.StatusLine, r.Head)
		}
		if got := r.Header.Get("Sec-WebSocket-Accept"); got != wsAccept {
			t.Errorf("Sec-WebSocket-Accept %q, want %q", got, wsAccept)
		}
		requests(want{line: "GET /ws HTTP/1.1", fields: wsFields})(t, s.Up.Requests())
		// Bytes flow both ways.
		if err := c.Send("ping"); err != nil {
			t.Fatal(err)
		}
		s.Up.WaitTunneled(t, "ping")
		if got, err := c.ReadBytes(len("echo:ping")); got != "echo:ping" {
			t.Errorf("client read %q (%v), want %q", got, err, "echo:ping")
		}
	})
}
