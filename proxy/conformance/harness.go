package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// IOTimeout bounds every read and write of the suite's sockets, and every
// wait for the backend, so that a hang fails fast instead of at the test
// binary's timeout.
const IOTimeout = 2500 * time.Millisecond

// RouteHost is the host the suite's route serves.
const RouteHost = "a.test"

// ---------------------------------------------------------------------------
// The stack: baton in front of a recording backend.

// Options configure a Stack. The zero value is the default stack: one route
// for RouteHost, path "/", to one backend that answers Echo.
type Options struct {
	// Script answers each request the backend receives; nil is Echo.
	Script func(*Request) Action
	// Transport is passed to proxy.NewTarget.
	Transport proxy.TransportOptions
	// Server is passed to proxy.Listen; a zero ReadHeaderTimeout is IOTimeout
	// (the other limits stay baton's defaults: they are under test).
	Server proxy.ServerOptions
	// Handler is passed to proxy.NewHandler.
	Handler proxy.HandlerOptions
}

// Stack is baton's listener with the real proxy handler, routing RouteHost to
// a recording backend.
type Stack struct {
	Addr    string // baton's address, 127.0.0.1:port
	Up      *Backend
	Target  *proxy.Target
	Router  *proxy.Router
	Handler *proxy.Handler
}

// Start starts a backend and baton in front of it; t.Cleanup stops both.
// At the end of the test every complete request the backend received is
// checked to be well formed (see Message.Problems): whatever a vector sends,
// baton must never forward a malformed message.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	up := StartBackend(t, o.Script)
	target := proxy.NewTarget("static:"+up.Addr, up.Addr, nil, o.Transport)
	t.Cleanup(target.Close)
	router := proxy.NewRouter(nil)
	table, errs := proxy.NewTable([]*proxy.Route{{
		Service: "app",
		Host:    RouteHost,
		Path:    "/",
		Targets: []*proxy.Target{target},
	}})
	if len(errs) > 0 {
		t.Fatalf("table: %v", errs)
	}
	router.Store(table)
	h := proxy.NewHandler(router, o.Handler)
	addr := Serve(t, h, o.Server)
	s := &Stack{Addr: addr, Up: up, Target: target, Router: router, Handler: h}
	t.Cleanup(func() {
		for _, r := range up.Requests() {
			if !r.Complete {
				continue
			}
			if r.Msg == nil {
				t.Errorf("upstream request %d is not an HTTP/1.1 request: %q", r.Seq, r.Raw)
				continue
			}
			for _, p := range r.Msg.Problems {
				t.Errorf("upstream request %d is malformed: %s\n%q", r.Seq, p, r.Raw)
			}
		}
	})
	return s
}

// Serve runs h on baton's listener (proxy.Listen) on 127.0.0.1:0 and returns
// its address; t.Cleanup closes it.
func Serve(t testing.TB, h http.Handler, so proxy.ServerOptions) string {
	t.Helper()
	if so.ReadHeaderTimeout == 0 {
		so.ReadHeaderTimeout = IOTimeout
	}
	ln, err := proxy.Listen("127.0.0.1:0", h, so, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ln.Serve()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// ---------------------------------------------------------------------------
// The recording backend.

// Request is one message the backend read, as bytes.
type Request struct {
	Conn     int    // the backend connection it came on, 1-based in accept order
	N        int    // its place on that connection, 1-based
	Seq      int    // its place among all requests the backend read, 1-based
	Raw      []byte // the exact bytes, head, framing and body
	Complete bool   // false when the connection ended (or the framing broke) mid-message
	Msg      *Message
}

// Line is the request line, or "" when there is none.
func (r *Request) Line() string {
	line, _, _ := strings.Cut(string(r.Raw), "\r\n")
	return line
}

// Action is how the backend answers one request.
type Action struct {
	Write  []byte // written in one write
	Close  bool   // then close the connection (FIN)
	Reset  bool   // then abort the connection (RST)
	Hang   bool   // write nothing, now or later: the connection is still read and recorded, never answered
	Tunnel bool   // after Write, relay the connection: every byte read is recorded (Tunneled) and written back as "echo:" + bytes
	Later  *Later // after Write, when triggered, write more on the idle connection
}

// Later is a write the backend makes on a connection after it answered, once
// the test triggers it: bytes arriving on a connection baton holds idle.
type Later struct {
	Trigger chan struct{} // closed by the test
	Write   []byte
	Close   bool          // close the connection after the write
	Written chan struct{} // closed by the backend once Write returned (and the connection closed, with Close)
}

// NewLater returns a Later writing b.
func NewLater(b string, closeAfter bool) *Later {
	return &Later{Trigger: make(chan struct{}), Write: []byte(b), Close: closeAfter, Written: make(chan struct{})}
}

// Respond is a keep-alive 200 with body, framed by Content-Length.
func Respond(body string) Action {
	return Action{Write: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)}
}

// Raw answers with exactly these bytes.
func Raw(b string) Action { return Action{Write: []byte(b)} }

// EchoBody is the body of Echo's answer to a request: "path=<target>", and
// " cookie=<value>" when the request has a Cookie.
func EchoBody(r *Request) string {
	_, target, _ := strings.Cut(r.Line(), " ")
	target, _, _ = strings.Cut(target, " ")
	body := "path=" + target
	if r.Msg != nil {
		if c := r.Msg.Header["Cookie"]; len(c) > 0 {
			body += " cookie=" + strings.Join(c, "; ")
		}
	}
	return body
}

// Echo is the backend's correct answer: 200 with EchoBody.
func Echo(r *Request) Action { return Respond(EchoBody(r)) }

// Backend is the raw recording upstream.
type Backend struct {
	Addr string

	script func(*Request) Action
	ln     net.Listener
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every event
	reqs     []*Request
	conns    map[int]net.Conn
	accepted int
	closed   map[int]bool
	tunneled []byte
}

// StartBackend listens on 127.0.0.1:0; script answers each request (nil is
// Echo). t.Cleanup closes the listener and every connection and waits for
// the backend's goroutines.
func StartBackend(t testing.TB, script func(*Request) Action) *Backend {
	t.Helper()
	if script == nil {
		script = Echo
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{
		Addr:    ln.Addr().String(),
		script:  script,
		ln:      ln,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		conns:   map[int]net.Conn{},
		closed:  map[int]bool{},
	}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *Backend) close() {
	close(b.done)
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Backend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		select {
		case <-b.done:
			b.mu.Unlock()
			c.Close()
			return
		default:
		}
		b.accepted++
		id := b.accepted
		b.conns[id] = c
		b.notifyLocked()
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(id, c)
	}
}

func (b *Backend) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Backend) serve(id int, c net.Conn) {
	defer b.wg.Done()
	defer func() {
		c.Close()
		b.mu.Lock()
		b.closed[id] = true
		b.notifyLocked()
		b.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	mute := false
	for n := 1; ; n++ {
		raw, complete := readMessage(br)
		if len(raw) == 0 {
			return
		}
		r := &Request{Conn: id, N: n, Raw: raw, Complete: complete}
		if complete {
			r.Msg, _ = ParseMessage(raw)
		}
		b.mu.Lock()
		r.Seq = len(b.reqs) + 1
		b.reqs = append(b.reqs, r)
		b.notifyLocked()
		b.mu.Unlock()
		if !complete {
			return
		}
		if mute {
			continue
		}
		a := b.script(r)
		if a.Hang {
			mute = true
			continue
		}
		if len(a.Write) > 0 {
			if _, err := c.Write(a.Write); err != nil {
				return
			}
		}
		switch {
		case a.Reset:
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			return
		case a.Close:
			return
		case a.Tunnel:
			b.tunnel(c, br)
			return
		}
		if l := a.Later; l != nil {
			select {
			case <-l.Trigger:
			case <-b.done:
				return
			}
			_, err := c.Write(l.Write)
			if l.Close || err != nil {
				c.Close()
			}
			close(l.Written)
			if l.Close || err != nil {
				return
			}
		}
	}
}

func (b *Backend) tunnel(c net.Conn, br *bufio.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			b.mu.Lock()
			b.tunneled = append(b.tunneled, buf[:n]...)
			b.notifyLocked()
			b.mu.Unlock()
			if _, werr := c.Write(append([]byte("echo:"), buf[:n]...)); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Requests is every request received so far, in arrival order.
func (b *Backend) Requests() []*Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

// Accepted is the number of connections the backend accepted.
func (b *Backend) Accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accepted
}

// Tunneled is every byte read on connections relayed after a Tunnel action.
func (b *Backend) Tunneled() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.tunneled)
}

// wait blocks until cond (called under the lock) holds, or fails t after IOTimeout.
func (b *Backend) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(IOTimeout)
	defer timer.Stop()
	for {
		b.mu.Lock()
		ok, ch := cond(), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("backend: no %s within %v", what, IOTimeout)
		}
	}
}

// WaitRequest waits for the backend's n-th request (1-based, over all
// connections) and returns it.
func (b *Backend) WaitRequest(t testing.TB, n int) *Request {
	t.Helper()
	b.wait(t, fmt.Sprintf("request %d", n), func() bool { return len(b.reqs) >= n })
	return b.Requests()[n-1]
}

// WaitClosed waits until the backend's connection id (1-based) has ended.
func (b *Backend) WaitClosed(t testing.TB, id int) {
	t.Helper()
	b.wait(t, fmt.Sprintf("end of connection %d", id), func() bool { return b.closed[id] })
}

// WaitTunneled waits until the tunneled bytes hold s.
func (b *Backend) WaitTunneled(t testing.TB, s string) {
	t.Helper()
	b.wait(t, fmt.Sprintf("tunneled %q", s), func() bool { return bytes.Contains(b.tunneled, []byte(s)) })
}

var crlf = []byte("\r\n")

// readMessage reads one request: the head up to CRLFCRLF, then a body framed
// by Transfer-Encoding: chunked (as last coding) or Content-Length, or none.
// It returns every byte it read, and false when the connection ended or the
// framing could not be followed before the message did.
func readMessage(br *bufio.Reader) ([]byte, bool) {
	var buf []byte
	for !bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
		c, err := br.ReadByte()
		if err != nil {
			return buf, false
		}
		buf = append(buf, c)
		if len(buf) == 2 && string(buf) == "\r\n" {
			buf = buf[:0] // a CRLF between messages (RFC 9112 §2.2)
		}
	}
	chunked, length := headFraming(string(buf))
	switch {
	case chunked:
		for {
			line, ok := readLine(br, &buf)
			if !ok {
				return buf, false
			}
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseUint(strings.TrimSpace(size), 16, 62)
			if err != nil {
				return buf, false
			}
			if n == 0 {
				for {
					line, ok := readLine(br, &buf)
					if !ok {
						return buf, false
					}
					if line == "" {
						return buf, true
					}
				}
			}
			if !readN(br, &buf, int64(n)+2) {
				return buf, false
			}
		}
	case length > 0:
		return buf, readN(br, &buf, length)
	}
	return buf, length >= 0
}

// headFraming finds the framing of a request head: chunked when the last
// transfer coding is chunked, else the first Content-Length (-1 when it is
// not a number).
func headFraming(head string) (chunked bool, length int64) {
	var te []string
	cl := ""
	lines := strings.Split(head, "\r\n")
	for _, l := range lines[1:] {
		name, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch {
		case strings.EqualFold(name, "Transfer-Encoding"):
			te = append(te, v)
		case strings.EqualFold(name, "Content-Length") && cl == "":
			cl = strings.TrimSpace(v)
			if cl == "" {
				cl = "x"
			}
		}
	}
	if len(te) > 0 {
		codings := strings.Split(strings.Join(te, ","), ",")
		return strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked"), 0
	}
	if cl == "" {
		return false, 0
	}
	n, err := strconv.ParseInt(cl, 10, 63)
	if err != nil {
		return false, -1
	}
	return false, n
}

func readLine(br *bufio.Reader, buf *[]byte) (string, bool) {
	start := len(*buf)
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", false
		}
		*buf = append(*buf, c)
		if c == '\n' && len(*buf)-start >= 2 && (*buf)[len(*buf)-2] == '\r' {
			return string((*buf)[start : len(*buf)-2]), true
		}
		if len(*buf)-start > 64<<10 {
			return "", false
		}
	}
}

func readN(br *bufio.Reader, buf *[]byte, n int64) bool {
	var b bytes.Buffer
	got, _ := io.CopyN(&b, br, n)
	*buf = append(*buf, b.Bytes()...)
	return got == n
}

// ---------------------------------------------------------------------------
// Parsing what the backend received.

// Fields is a header multimap: canonical name -> values in order.
type Fields map[string][]string

// Get is the values of name joined by ", " ("" when absent).
func (f Fields) Get(name string) string {
	return strings.Join(f[textproto.CanonicalMIMEHeaderKey(name)], ", ")
}

// Has reports whether name is present.
func (f Fields) Has(name string) bool {
	_, ok := f[textproto.CanonicalMIMEHeaderKey(name)]
	return ok
}

// String lists the fields sorted by name, one "Name: value" a line.
func (f Fields) String() string {
	var lines []string
	for k, vv := range f {
		for _, v := range vv {
			lines = append(lines, k+": "+v)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Message is a request as the upstream received it.
type Message struct {
	RequestLine string
	Method      string
	Target      string
	Proto       string
	Header      Fields   // every header field, framing fields included
	Lines       []string // the header lines as received, in order
	Framing     []string // the raw Content-Length and Transfer-Encoding lines
	Chunked     bool
	ChunkExts   []string // chunk extensions, without the ';'
	Trailer     Fields
	Body        []byte // the payload, de-chunked
	RawBody     []byte // the bytes after the head
	// Problems lists what is not a well-formed HTTP/1.1 request: a CR, LF
	// or NUL inside a line, a folded line, an invalid field name, framing
	// other than one Content-Length or one final chunked, bytes past the
	// message's end.
	Problems []string
}

// ParseMessage parses one recorded request.
func ParseMessage(raw []byte) (*Message, error) {
	head, rest, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return nil, errors.New("no end of head (CRLFCRLF)")
	}
	m := &Message{Header: Fields{}, Trailer: Fields{}, RawBody: rest}
	problem := func(f string, a ...any) { m.Problems = append(m.Problems, fmt.Sprintf(f, a...)) }
	lines := strings.Split(string(head), "\r\n")
	m.RequestLine = lines[0]
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n\x00") {
			problem("CR, LF or NUL inside line %q", l)
		}
	}
	parts := strings.Split(m.RequestLine, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		problem("request line %q is not METHOD SP target SP version", m.RequestLine)
	} else {
		m.Method, m.Target, m.Proto = parts[0], parts[1], parts[2]
		if m.Proto != "HTTP/1.1" {
			problem("version %q, not HTTP/1.1", m.Proto)
		}
	}
	m.Lines = lines[1:]
	parseFields(m.Lines, m.Header, problem)
	for _, l := range m.Lines {
		name, _, _ := strings.Cut(l, ":")
		if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
			m.Framing = append(m.Framing, l)
		}
	}
	te, hasTE := m.Header["Transfer-Encoding"]
	cl, hasCL := m.Header["Content-Length"]
	switch {
	case hasTE && hasCL:
		problem("both Content-Length and Transfer-Encoding: %q", m.Framing)
		fallthrough
	case hasTE:
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			problem("Transfer-Encoding other than one chunked: %q", te)
		}
		m.Chunked = true
		var left []byte
		var err error
		m.Body, m.ChunkExts, left, err = dechunk(rest, m.Trailer, problem)
		if err != nil {
			problem("chunked body: %v", err)
		} else if len(left) > 0 {
			problem("%d bytes after the last chunk: %q", len(left), left)
		}
	case hasCL:
		n, err := strconv.ParseInt(cl[0], 10, 63)
		switch {
		case len(cl) != 1:
			problem("%d Content-Length fields", len(cl))
		case err != nil || strings.ContainsAny(cl[0], "+-"):
			problem("Content-Length %q is not a number", cl[0])
		case n != int64(len(rest)):
			problem("Content-Length %d with %d bytes of body", n, len(rest))
		}
		m.Body = rest
	default:
		if len(rest) > 0 {
			problem("%d bytes of body without framing", len(rest))
		}
	}
	return m, nil
}

func parseFields(lines []string, into Fields, problem func(string, ...any)) {
	for _, l := range lines {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			problem("folded line (obs-fold) %q", l)
			continue
		}
		name, v, ok := strings.Cut(l, ":")
		if !ok || name == "" {
			problem("field line without a name and colon %q", l)
			continue
		}
		for i := 0; i < len(name); i++ {
			if !isTokenByte(name[i]) {
				problem("field name %q has byte %q", name, name[i])
				break
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
				problem("field %q has control byte %q", name, c)
				break
			}
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		into[k] = append(into[k], strings.Trim(v, " \t"))
	}
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// dechunk decodes a chunked body, with its trailer fields parsed into trailer.
func dechunk(b []byte, trailer Fields, problem func(string, ...any)) (body []byte, exts []string, left []byte, err error) {
	body = []byte{}
	for {
		line, rest, ok := bytes.Cut(b, crlf)
		if !ok {
			return body, exts, nil, errors.New("chunk-size line without CRLF")
		}
		size, ext, hasExt := strings.Cut(string(line), ";")
		if hasExt {
			exts = append(exts, ext)
		}
		n, perr := strconv.ParseUint(size, 16, 62)
		if perr != nil {
			return body, exts, nil, fmt.Errorf("chunk size %q", size)
		}
		b = rest
		if n == 0 {
			var lines []string
			for {
				tl, rest, ok := bytes.Cut(b, crlf)
				if !ok {
					return body, exts, nil, errors.New("trailer section without end")
				}
				b = rest
				if len(tl) == 0 {
					break
				}
				lines = append(lines, string(tl))
			}
			parseFields(lines, trailer, problem)
			return body, exts, b, nil
		}
		if uint64(len(b)) < n+2 || string(b[n:n+2]) != "\r\n" {
			return body, exts, nil, errors.New("chunk data shorter than its size or without CRLF")
		}
		body = append(body, b[:n]...)
		b = b[n+2:]
	}
}

// ---------------------------------------------------------------------------
// The client side: one raw TCP connection to baton.

// Conn is a client connection to baton; every byte it read is kept (In).
type Conn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
	in *recorder
}

type recorder struct {
	mu  sync.Mutex
	r   io.Reader
	got []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// Dial connects to addr; t.Cleanup closes the connection.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, IOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	in := &recorder{r: c}
	return &Conn{t: t, c: c, br: bufio.NewReader(in), in: in}
}

// Send writes raw in one write. An error (baton closed the connection) is returned.
func (c *Conn) Send(raw string) error {
	c.c.SetWriteDeadline(time.Now().Add(IOTimeout))
	_, err := io.WriteString(c.c, raw)
	return err
}

// In is every byte read from baton so far (including what is buffered).
func (c *Conn) In() string {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return string(c.in.got)
}

// CloseWrite half-closes the connection.
func (c *Conn) CloseWrite() { c.c.(*net.TCPConn).CloseWrite() }

// Response is one response as baton sent it.
type Response struct {
	StatusLine string
	Status     int
	Header     Fields
	Head       string // the status line and field lines, as received
	Body       []byte
	Chunked    bool
	// UntilClose: the body had no framing and ended with the connection.
	UntilClose bool
}

// Read reads one response (a 1xx included) to a request of method.
func (c *Conn) Read(method string) (*Response, error) {
	c.c.SetReadDeadline(time.Now().Add(IOTimeout))
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		b, err := c.br.ReadByte()
		if err != nil {
			if len(head) == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("response head cut after %q: %w", head, err)
		}
		head = append(head, b)
	}
	r := &Response{Head: string(head[:len(head)-4]), Header: Fields{}}
	lines := strings.Split(r.Head, "\r\n")
	r.StatusLine = lines[0]
	proto, rest, _ := strings.Cut(r.StatusLine, " ")
	code, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || len(code) != 3 {
		return r, fmt.Errorf("bad status line %q", r.StatusLine)
	}
	r.Status = n
	var problems []string
	parseFields(lines[1:], r.Header, func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
	if len(problems) > 0 {
		return r, fmt.Errorf("malformed response head: %s", strings.Join(problems, "; "))
	}
	if method == http.MethodHead || n < 200 || n == 204 || n == 304 {
		return r, nil
	}
	if te := r.Header["Transfer-Encoding"]; len(te) > 0 {
		r.Chunked = true
		r.Body = []byte{}
		for {
			line, err := c.br.ReadString('\n')
			if err != nil {
				return r, fmt.Errorf("chunked body: %w", err)
			}
			size, _, _ := strings.Cut(strings.TrimSuffix(line, "\r\n"), ";")
			sz, err := strconv.ParseUint(size, 16, 62)
			if err != nil {
				return r, fmt.Errorf("chunk size %q", line)
			}
			if sz == 0 {
				for {
					tl, err := c.br.ReadString('\n')
					if err != nil {
						return r, fmt.Errorf("trailer: %w", err)
					}
					if tl == "\r\n" {
						return r, nil
					}
				}
			}
			chunk := make([]byte, sz+2)
			if _, err := io.ReadFull(c.br, chunk); err != nil {
				return r, fmt.Errorf("chunk: %w", err)
			}
			r.Body = append(r.Body, chunk[:sz]...)
		}
	}
	if cl := r.Header["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 63)
		if len(cl) != 1 || err != nil {
			return r, fmt.Errorf("bad Content-Length %q", cl)
		}
		r.Body = make([]byte, n)
		if _, err := io.ReadFull(c.br, r.Body); err != nil {
			return r, fmt.Errorf("body shorter than Content-Length %d: %w", n, err)
		}
		return r, nil
	}
	r.Body, err = io.ReadAll(c.br)
	r.UntilClose = true
	if isReset(err) {
		err = nil
	}
	return r, err
}

// ReadFinal reads responses until a final one (or a 101), and returns it
// with the informational ones before it.
func (c *Conn) ReadFinal(method string) (final *Response, info []*Response, err error) {
	for {
		r, err := c.Read(method)
		if err != nil {
			return r, info, err
		}
		if r.Status >= 200 || r.Status == 101 {
			return r, info, nil
		}
		info = append(info, r)
	}
}

// ReadBytes reads until the connection holds n more bytes, or fails.
func (c *Conn) ReadBytes(n int) (string, error) {
	c.c.SetReadDeadline(time.Now().Add(IOTimeout))
	b := make([]byte, n)
	got, err := io.ReadFull(c.br, b)
	return string(b[:got]), err
}

// State is what became of a connection after a response.
type State int

const (
	StateOpen   State = iota // no byte and no end within the deadline
	StateClosed              // EOF or reset
	StateExtra               // more bytes came, unasked
)

func (s State) String() string {
	return [...]string{"open", "closed", "extra bytes"}[s]
}

// After waits up to wait for baton to close the connection, and reports
// what happened, with any bytes that came.
func (c *Conn) After(wait time.Duration) (State, string) {
	c.c.SetReadDeadline(time.Now().Add(wait))
	b, err := c.br.ReadByte()
	if err == nil {
		rest := make([]byte, c.br.Buffered())
		c.br.Read(rest)
		return StateExtra, string(b) + string(rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return StateOpen, ""
	}
	return StateClosed, ""
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
