package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keep is what must become of the client's connection after baton's answer.
type keep int

const (
	// open: a second request on the connection gets its own answer.
	open keep = iota + 1
	// closed: baton closes the connection after its answer.
	closed
	// either: closed, or a second request gets its own answer (never an
	// answer that belongs to bytes of the first request).
	either
)

func (k keep) String() string { return [...]string{"?", "open", "closed", "open or closed"}[k] }

// vector is one raw request and what baton must do with it.
type vector struct {
	name   string
	raw    string    // the exact bytes, sent in one write
	status []int     // baton's status must be one of these (see is)
	keep   keep      // what becomes of the connection
	up     upstream  // what the backend must have received (the probe excluded)
	resp   respCheck // more checks of baton's answer, when it is well formed
	next   []string  // bodies of further answers (pipelined requests), each a 200
	script func(*Request) Action
	opts   Options
}

func is(codes ...int) []int { return codes }

// probe is the request sent to tell whether a connection is still usable.
const (
	probe     = "GET /probe HTTP/1.1\r\nHost: " + RouteHost + "\r\n\r\n"
	probeLine = "GET /probe HTTP/1.1"
	probeBody = "path=/probe"
)

func runVectors(t *testing.T, vs []vector) {
	t.Helper()
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.name] {
			t.Fatalf("two vectors named %q", v.name)
		}
		seen[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			v.run(t)
		})
	}
}

func (v vector) run(t *testing.T) {
	o := v.opts
	if v.script != nil {
		o.Script = v.script
	}
	s := Start(t, o)
	c := Dial(t, s.Addr)
	if err := c.Send(v.raw); err != nil {
		t.Fatalf("send: %v", err)
	}
	method, _, _ := strings.Cut(v.raw, " ")
	resp, info, err := c.ReadFinal(method)
	if resp != nil {
		t.Logf("baton answered %q", resp.StatusLine)
	}
	ok := false
	switch {
	case resp == nil:
		t.Errorf("no answer (%v); want status %v", err, v.status)
	case err != nil:
		t.Errorf("malformed answer: %v\ngot %q", err, c.In())
	case !slices.Contains(v.status, resp.Status):
		t.Errorf("status %d, want %v\n%s", resp.Status, v.status, describe(resp))
	default:
		ok = true
	}
	for _, r := range info {
		if r.Header.Has("Content-Length") || r.Header.Has("Transfer-Encoding") {
			t.Errorf("informational answer %q has framing fields:\n%s", r.StatusLine, r.Head)
		}
	}
	if resp != nil && err == nil && v.resp != nil {
		v.resp(t, resp)
	}
	if ok {
		for _, body := range v.next {
			r, err := c.Read("GET")
			switch {
			case err != nil:
				t.Errorf("pipelined answer (want %q): %v\ngot so far %q", body, err, c.In())
			case r.Status != 200 || string(r.Body) != body:
				t.Errorf("pipelined answer %d %q, want 200 %q", r.Status, r.Body, body)
			}
		}
	}
	checkKeep(t, c, v.keep, resp, err)
	if tun := s.Up.Tunneled(); tun != "" {
		t.Errorf("bytes tunneled to the upstream: %q", tun)
	}
	var reqs []*Request
	for _, r := range s.Up.Requests() {
		if r.Line() != probeLine {
			reqs = append(reqs, r)
		}
	}
	t.Logf("upstream got %d request(s)", len(reqs))
	if v.up != nil {
		v.up(t, reqs)
	}
}

// checkKeep checks what became of the connection after resp (err when the
// answer could not be read).
func checkKeep(t *testing.T, c *Conn, k keep, resp *Response, err error) {
	t.Helper()
	if err != nil || resp.UntilClose || resp.Status == 101 {
		// The answer ended with the connection, or the connection is no
		// longer HTTP: there is nothing more to probe.
		if resp != nil && resp.Status == 101 {
			t.Errorf("baton switched protocols (101): the connection became a tunnel")
			return
		}
		if k == open {
			t.Errorf("connection: closed with the answer, want open")
		}
		return
	}
	if k == closed {
		// A close comes at once; bytes that came unasked are told apart
		// from the answer to a second request if they come within a moment.
		// Either way a second request then tells open from closed.
		switch st, extra := c.After(100 * time.Millisecond); st {
		case StateClosed:
			return
		case StateExtra:
			t.Errorf("connection: unasked bytes after the answer, want closed: %q", extra)
			return
		}
		if c.Send(probe) != nil {
			return // closed meanwhile
		}
		r, err := c.Read("GET")
		switch {
		case err == nil:
			t.Errorf("connection: stayed open, want closed (a second request got %d %q)", r.Status, r.Body)
		case r == nil && isClosedErr(err):
		default:
			t.Errorf("connection: neither closed nor answering (%v), want closed", err)
		}
		return
	}
	// open or either: a second request must get its own answer.
	if err := c.Send(probe); err != nil {
		if k == open {
			t.Errorf("connection: closed (%v), want open", err)
		}
		return
	}
	r, err := c.Read("GET")
	switch {
	case err != nil && r == nil:
		if !isClosedErr(err) {
			t.Errorf("connection: a second request got neither an answer nor a close (%v), want %s", err, k)
		} else if k == open {
			t.Errorf("connection: closed after the answer (a second request got %v), want open", err)
		}
	case err != nil:
		t.Errorf("connection: a second request got a malformed answer: %v\nall bytes read: %q", err, c.In())
	case r.Status != 200 || string(r.Body) != probeBody:
		t.Errorf("connection: a second request got an answer not its own: %d %q (want 200 %q)\nall bytes read: %q", r.Status, r.Body, probeBody, c.In())
	}
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func describe(r *Response) string {
	body := string(r.Body)
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("%s\n\n%s", r.Head, body)
}

// respCheck checks baton's answer further.
type respCheck func(t *testing.T, r *Response)

// noField: the answer has none of these fields.
func noField(names ...string) respCheck {
	return func(t *testing.T, r *Response) {
		t.Helper()
		for _, n := range names {
			if r.Header.Has(n) {
				t.Errorf("answer has %s: %q, want none\n%s", n, r.Header.Get(n), r.Head)
			}
		}
	}
}

func hasField(name string) respCheck {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if !r.Header.Has(name) {
			t.Errorf("answer has no %s field\n%s", name, r.Head)
		}
	}
}

func bodyIs(want string) respCheck {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if string(r.Body) != want {
			t.Errorf("answer body %q, want %q", r.Body, want)
		}
	}
}

func all(cs ...respCheck) respCheck {
	return func(t *testing.T, r *Response) {
		t.Helper()
		for _, c := range cs {
			c(t, r)
		}
	}
}

// ---------------------------------------------------------------------------
// What the upstream received.

// upstream checks the requests the backend received.
type upstream func(t *testing.T, got []*Request)

func dump(reqs []*Request) string {
	var b strings.Builder
	for _, r := range reqs {
		state := "complete"
		if !r.Complete {
			state = "INCOMPLETE"
		}
		fmt.Fprintf(&b, "\n  #%d (conn %d, %s) %q", r.Seq, r.Conn, state, r.Raw)
	}
	return b.String()
}

// nothing: the backend received no byte of a request.
func nothing(t *testing.T, got []*Request) {
	t.Helper()
	if len(got) > 0 {
		t.Errorf("upstream got %d request(s), want none:%s", len(got), dump(got))
	}
}

// noComplete: the backend got no complete request (a head cut short is allowed).
func noComplete(t *testing.T, got []*Request) {
	t.Helper()
	for _, r := range got {
		if r.Complete {
			t.Errorf("upstream got a complete request, want none:%s", dump(got))
			return
		}
	}
}

// requests: the backend received exactly these requests, in order, each whole.
func requests(ws ...want) upstream {
	return func(t *testing.T, got []*Request) {
		t.Helper()
		if len(got) != len(ws) {
			t.Errorf("upstream got %d request(s), want %d:%s", len(got), len(ws), dump(got))
			return
		}
		for i, w := range ws {
			w.match(t, got[i])
		}
	}
}

// atMost: the backend received at most n requests, each passing every check.
func atMost(n int, checks ...msgCheck) upstream {
	return func(t *testing.T, got []*Request) {
		t.Helper()
		if len(got) > n {
			t.Errorf("upstream got %d request(s), want at most %d:%s", len(got), n, dump(got))
		}
		every(checks...)(t, got)
	}
}

// every: each request the backend received is complete and passes every check
// (none received passes).
func every(checks ...msgCheck) upstream {
	return func(t *testing.T, got []*Request) {
		t.Helper()
		for _, r := range got {
			if !r.Complete || r.Msg == nil {
				t.Errorf("upstream got an incomplete request #%d: %q", r.Seq, r.Raw)
				continue
			}
			for _, c := range checks {
				c(t, r.Msg)
			}
		}
	}
}

// baton's own fields: their values are not the client's; the forwarded
// headers test asserts them.
var batonFields = []string{"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip", "Forwarded", "Via"}

// want is one request the upstream must have received.
type want struct {
	line   string   // the exact request line
	host   string   // the Host value; "" is RouteHost
	fields []string // the other end-to-end fields, "Name: value" each; exactly these
	body   string   // the exact payload
	checks []msgCheck
}

// endToEnd is m's fields without framing and baton's own.
func endToEnd(m *Message) Fields {
	f := Fields{}
	for k, vv := range m.Header {
		if k == "Content-Length" || k == "Transfer-Encoding" || slices.Contains(batonFields, k) {
			continue
		}
		f[k] = vv
	}
	return f
}

func (w want) match(t *testing.T, r *Request) {
	t.Helper()
	if !r.Complete || r.Msg == nil {
		t.Errorf("upstream request #%d is incomplete: %q", r.Seq, r.Raw)
		return
	}
	m := r.Msg
	if m.RequestLine != w.line {
		t.Errorf("upstream request line %q, want %q", m.RequestLine, w.line)
	}
	if string(m.Body) != w.body {
		t.Errorf("upstream body %q, want %q (framing %q)", m.Body, w.body, m.Framing)
	}
	host := w.host
	if host == "" {
		host = RouteHost
	}
	exp := Fields{"Host": {host}}
	for _, l := range w.fields {
		k, v, _ := strings.Cut(l, ":")
		k = textproto.CanonicalMIMEHeaderKey(k)
		exp[k] = append(exp[k], strings.TrimSpace(v))
	}
	if got := endToEnd(m); got.String() != exp.String() {
		t.Errorf("upstream fields (framing and baton's own left out):\n%s\nwant:\n%s\nrequest: %q", got, exp, r.Raw)
	}
	for _, c := range w.checks {
		c(t, m)
	}
}

// msgCheck checks one request the upstream received.
type msgCheck func(t *testing.T, m *Message)

// hasBody: the payload is exactly body.
func hasBody(body string) msgCheck {
	return func(t *testing.T, m *Message) {
		t.Helper()
		if string(m.Body) != body {
			t.Errorf("upstream body %q, want %q", m.Body, body)
		}
	}
}

// lineIs: the request line is exactly line.
func lineIs(line string) msgCheck {
	return func(t *testing.T, m *Message) {
		t.Helper()
		if m.RequestLine != line {
			t.Errorf("upstream request line %q, want %q", m.RequestLine, line)
		}
	}
}

// lacks: neither the header nor the trailer has a field name whose value
// contains value ("" matches any value).
func lacks(name, value string) msgCheck {
	name = textproto.CanonicalMIMEHeaderKey(name)
	return func(t *testing.T, m *Message) {
		t.Helper()
		for where, f := range map[string]Fields{"header": m.Header, "trailer": m.Trailer} {
			for _, v := range f[name] {
				if value == "" || strings.Contains(strings.ToLower(v), strings.ToLower(value)) {
					t.Errorf("upstream %s has %s: %q, want none%s", where, name, v, map[bool]string{true: "", false: " with " + value}[value == ""])
				}
			}
		}
	}
}

// noChunkExt: no chunk extension reached the upstream.
func noChunkExt(t *testing.T, m *Message) {
	t.Helper()
	if len(m.ChunkExts) > 0 {
		t.Errorf("upstream got chunk extensions %q, want none", m.ChunkExts)
	}
}
