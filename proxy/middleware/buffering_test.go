package middleware

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestBufferingOptions(t *testing.T) {
	next := &recorder{}
	for _, c := range []struct {
		kv     []string
		option string
	}{
		{[]string{"retryexpression", "IsNetworkError() && Attempts() < 2"}, "retryexpression"},
		{[]string{"maxrequestbodybytes", "-1"}, "maxrequestbodybytes"},
		{[]string{"memrequestbodybytes", "1MB"}, "memrequestbodybytes"},
		{[]string{"maxresponsebodybytes", "-5"}, "maxresponsebodybytes"},
		{[]string{"memresponsebodybytes", "x"}, "memresponsebodybytes"},
		{[]string{"maxrequestbody", "10"}, "maxrequestbody"},
	} {
		_, err := buildErr("buffering", Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
	}
	if _, err := buildErr("buffering", Env{}, next); err != nil {
		t.Errorf("no options: %v", err)
	}
}

// chunked is a request body of unknown length (no Content-Length).
func chunkedReq(body string) *http.Request {
	r := httptest.NewRequest("POST", "http://app.example/upload", io.NopCloser(strings.NewReader(body)))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	r.RemoteAddr = "10.0.0.1:1"
	return r
}

func TestBufferingRequestLimit(t *testing.T) {
	next := &recorder{}
	h := build(t, "buffering", Env{}, next, "maxrequestbodybytes", "10")

	// Over the limit by Content-Length: refused before a byte is read.
	r := httptest.NewRequest("POST", "http://app.example/", nil)
	r.ContentLength = 11
	r.Body = io.NopCloser(failingBody{errors.New("the body was read")})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || w.Body.String() != "Request Entity Too Large" {
		t.Errorf("Content-Length 11: status %d body %q, want 413 without reading the body", w.Code, w.Body.String())
	}
	// Over the limit as read (chunked): refused, the upstream sees nothing.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, chunkedReq("01234567890"))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 11 bytes: status %d, want 413", w.Code)
	}
	if next.count() != 0 {
		t.Fatalf("the upstream got %d over-limit requests", next.count())
	}
	// Over the limit past what memory holds (the rest goes to a file).
	t.Setenv("TMPDIR", t.TempDir())
	hm := build(t, "buffering", Env{}, next, "maxrequestbodybytes", "10", "memrequestbodybytes", "4")
	for _, body := range []string{"01234567890", "0123456789abcdef"} {
		w = httptest.NewRecorder()
		hm.ServeHTTP(w, chunkedReq(body))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked %d bytes, 4 in memory: status %d, want 413", len(body), w.Code)
		}
	}
	if next.count() != 0 {
		t.Fatalf("the upstream got %d over-limit requests", next.count())
	}
	// An over-limit body is read no further than the limit.
	long := &countingReader{left: 1 << 20}
	r = chunkedReq("")
	r.Body = io.NopCloser(long)
	hm.ServeHTTP(httptest.NewRecorder(), r)
	if long.read > 11 {
		t.Errorf("%d bytes of an over-limit body read, want at most 11", long.read)
	}
	w = httptest.NewRecorder()
	hm.ServeHTTP(w, chunkedReq("0123456789"))
	if w.Code != 200 || string(next.body[0]) != "0123456789" {
		t.Fatalf("chunked 10 bytes, 4 in memory: status %d, upstream body %q", w.Code, next.body[0])
	}
	next.reqs, next.body = nil, nil

	// At the limit: the upstream gets the body, with its length.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, chunkedReq("0123456789"))
	if w.Code != 200 || w.Body.String() != "upstream" {
		t.Fatalf("chunked 10 bytes: status %d body %q", w.Code, w.Body.String())
	}
	up := next.last(t)
	if up.ContentLength != 10 || len(up.TransferEncoding) != 0 || string(next.body[0]) != "0123456789" {
		t.Errorf("upstream: Content-Length %d, Transfer-Encoding %v, body %q; want 10, none, the body", up.ContentLength, up.TransferEncoding, next.body[0])
	}
}

func TestBufferingSpillsToDisk(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	big := strings.Repeat("0123456789abcdef", 1000)
	var seen int64
	next := &recorder{serve: func(w http.ResponseWriter, r *http.Request) {
		seen = r.ContentLength
		files, _ := os.ReadDir(dir)
		if len(files) != 1 {
			t.Errorf("%d temporary files while the request is served, want 1 (the body past 64 bytes)", len(files))
		}
		w.Header().Set("X-Upstream", "yes")
		for i := 0; i < 10; i++ {
			io.WriteString(w, big)
		}
	}}
	h := build(t, "buffering", Env{}, next, "memrequestbodybytes", "64", "memresponsebodybytes", "100", "maxrequestbodybytes", "100000")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, chunkedReq(big))
	if seen != int64(len(big)) || string(next.body[0]) != big {
		t.Errorf("the upstream got %d bytes (Content-Length %d), want %d", len(next.body[0]), seen, len(big))
	}
	if w.Code != 200 || w.Body.String() != strings.Repeat(big, 10) || w.Header().Get("X-Upstream") != "yes" {
		t.Errorf("response: status %d, %d bytes, X-Upstream %q", w.Code, w.Body.Len(), w.Header().Get("X-Upstream"))
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("%d temporary files left", len(files))
	}
}

func TestBufferingResponseLimit(t *testing.T) {
	body := "0123456789"
	next := &recorder{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, body[:5])
		if n, err := io.WriteString(w, body[5:]); n != 5 || err != nil {
			t.Errorf("a write past the limit returned %d, %v: the upstream's copy would fail", n, err)
		}
	}}
	h := build(t, "buffering", Env{}, next, "maxresponsebodybytes", "9")
	w := do(h, "GET", "http://app.example/", "10.0.0.1:1")
	if w.Code != http.StatusInternalServerError || w.Body.String() != "Internal Server Error" {
		t.Errorf("response over the limit: status %d body %q, want 500 Internal Server Error", w.Code, w.Body.String())
	}
	if w.Header().Get("X-Upstream") != "" {
		t.Error("the over-limit response's headers reached the client")
	}
	h = build(t, "buffering", Env{}, next, "maxresponsebodybytes", "10")
	w = do(h, "GET", "http://app.example/", "10.0.0.1:1")
	if w.Code != http.StatusCreated || w.Body.String() != body || w.Header().Get("X-Upstream") != "yes" {
		t.Errorf("response at the limit: status %d body %q", w.Code, w.Body.String())
	}
	// The first status is the one, as net/http keeps it.
	h = build(t, "buffering", Env{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != http.StatusAccepted {
		t.Errorf("two WriteHeader calls: status %d, want the first (202)", w.Code)
	}
}

// Nothing reaches the client before the upstream is done, flush or not.
func TestBufferingHoldsTheResponse(t *testing.T) {
	client := httptest.NewRecorder()
	next := &recorder{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, "data: 1\n\n")
		if err := http.NewResponseController(w).Flush(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Flush: %v, want not supported", err)
		}
		if client.Body.Len() != 0 || client.Code != 200 || client.Header().Get("Content-Type") != "" {
			t.Error("the client got part of the response before the upstream was done")
		}
		io.WriteString(w, "data: 2\n\n")
	}}
	h := build(t, "buffering", Env{}, next)
	h.ServeHTTP(client, httptest.NewRequest("GET", "http://app.example/", nil))
	if client.Body.String() != "data: 1\n\ndata: 2\n\n" {
		t.Errorf("body %q", client.Body.String())
	}
}

func TestBufferingNoBody(t *testing.T) {
	for _, c := range []struct {
		method string
		code   int
	}{{"HEAD", 200}, {"GET", 204}, {"GET", 304}} {
		next := &recorder{serve: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.code)
			io.WriteString(w, "body")
		}}
		h := build(t, "buffering", Env{}, next)
		w := do(h, c.method, "http://app.example/", "10.0.0.1:1")
		if w.Code != c.code || w.Body.Len() != 0 {
			t.Errorf("%s %d: status %d, body %q; want no body", c.method, c.code, w.Code, w.Body.String())
		}
	}
	// An upstream that writes nothing is a 200 with no body.
	h := build(t, "buffering", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("nothing written: status %d body %q", w.Code, w.Body.String())
	}
}

// countingReader is a body of left bytes that counts what is read.
type countingReader struct{ left, read int }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.left)
	c.left -= n
	c.read += n
	return n, nil
}

type failingBody struct{ err error }

func (f failingBody) Read([]byte) (int, error) { return 0, f.err }

func TestBufferingBrokenRequestBody(t *testing.T) {
	next := &recorder{}
	h := build(t, "buffering", Env{}, next)
	r := chunkedReq("")
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("abc"), failingBody{errors.New("malformed chunk")}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("malformed body: status %d, want 400", w.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = chunkedReq("").WithContext(ctx)
	r.Body = io.NopCloser(failingBody{context.Canceled})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 499 {
		t.Errorf("client gone: status %d, want 499", w.Code)
	}
	if next.count() != 0 {
		t.Error("the upstream got a request whose body failed")
	}
}

// An upgrade goes through: the connection is hijacked past the buffer.
func TestBufferingHijack(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
		brw.Flush()
	})
	h := build(t, "buffering", Env{}, next)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br) // a 101 has no body: what follows is the tunnel's
	if resp.StatusCode != 101 || string(rest) != "hello" {
		t.Errorf("upgrade: %d %q", resp.StatusCode, rest)
	}
}

// hijackWriter is a client connection that can be hijacked; it records
// whether anything was written to it as a response afterwards.
type hijackWriter struct {
	httptest.ResponseRecorder
	conn        net.Conn
	wroteHeader bool
}

func (h *hijackWriter) WriteHeader(code int) { h.wroteHeader = true }
func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

func TestBufferingNothingAfterHijack(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	hw := &hijackWriter{ResponseRecorder: *httptest.NewRecorder(), conn: a}
	h := build(t, "buffering", Env{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
			t.Errorf("hijack: %v", err)
		}
	}))
	h.ServeHTTP(hw, httptest.NewRequest("GET", "http://app.example/", nil))
	if hw.wroteHeader {
		t.Error("a response was written on the hijacked connection")
	}
}

func BenchmarkBuffering(b *testing.B) {
	h, err := buildErr("buffering", Env{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world")
	}), "maxrequestbodybytes", "1048576")
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 2048)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "http://app.example/", strings.NewReader(body))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
