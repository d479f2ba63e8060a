package middleware

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"

	"go.uber.org/zap"
)

// buffering is Traefik's buffering (oxy's buffer): the request body is read
// whole before the request goes on, and the response is read whole before
// the client gets any of it.
//
//   - maxRequestBodyBytes: a request whose Content-Length, or whose body as
//     read, is larger is answered 413 Request Entity Too Large and never
//     reaches the upstream. 0 (the default) is no limit.
//   - memRequestBodyBytes: up to this much of the body is held in memory,
//     the rest in a temporary file (removed when the request is done).
//     0 is the default, 1MiB.
//   - maxResponseBodyBytes: a response larger than this is not sent; the
//     client gets 500 Internal Server Error instead. 0 is no limit.
//   - memResponseBodyBytes: as memRequestBodyBytes, for the response.
//   - retryExpression: refused; baton does not replay requests on an
//     expression.
//
// The upstream gets the body with its length (a chunked request becomes one
// with a Content-Length), as with oxy. A request body that fails as it is
// read (malformed chunks, cut short) is answered 400, as baton's edge answers
// it without this middleware; a client gone is 499. A response is not
// streamed (no flushes reach the client before it is whole), as in Traefik;
// an upgrade (WebSocket) is let through.
func init() { register("buffering", newBuffering) }

const bufferingDefaultMem = 1 << 20

type buffering struct {
	next             http.Handler
	maxReq, memReq   int64
	maxResp, memResp int64
	log              *zap.Logger
}

func newBuffering(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	b := &buffering{next: next, log: kindLogger(s, env)}
	if v, ok := o.get("retryexpression"); ok {
		return nil, &OptionError{Option: "retryexpression", Value: v, Reason: "not implemented by baton: it does not replay requests on an expression"}
	}
	var err error
	for _, f := range []struct {
		key string
		dst *int64
	}{
		{"maxrequestbodybytes", &b.maxReq},
		{"memrequestbodybytes", &b.memReq},
		{"maxresponsebodybytes", &b.maxResp},
		{"memresponsebodybytes", &b.memResp},
	} {
		if *f.dst, _, err = accessInt(o, f.key, 0); err != nil {
			return nil, err
		}
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	if b.memReq == 0 {
		b.memReq = bufferingDefaultMem
	}
	if b.memResp == 0 {
		b.memResp = bufferingDefaultMem
	}
	if b.maxReq > 0 && b.maxReq < b.memReq {
		b.memReq = b.maxReq
	}
	return b, nil
}

var (
	errBodyTooLarge = errors.New("body larger than the buffering limit")
	memBuffers      = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

const maxPooledBuffer = 64 << 10

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		buf.Reset()
		memBuffers.Put(buf)
	}
}

func (b *buffering) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.maxReq > 0 && r.ContentLength > b.maxReq {
		b.refuse(w, r, errBodyTooLarge)
		return
	}
	sp, err := spool(r.Body, b.memReq, b.maxReq)
	if err != nil {
		b.refuse(w, r, err)
		return
	}
	defer sp.close()
	out := *r
	out.ContentLength = sp.size
	out.TransferEncoding = nil
	if sp.size == 0 {
		out.Body = http.NoBody
	} else {
		out.Body = io.NopCloser(sp.reader())
	}

	bw := &bufferedResponse{w: w, header: http.Header{}, max: b.maxResp, mem: b.memResp}
	defer bw.close()
	b.next.ServeHTTP(bw, &out)
	if bw.hijacked {
		return
	}
	if bw.err == nil {
		if err := bw.buf.rewind(); err != nil {
			bw.err = errors.Join(errSpoolFile, err)
		}
	}
	if bw.err != nil {
		if ce := b.log.Check(zap.DebugLevel, "buffering: response not sent"); ce != nil {
			ce.Write(zap.Error(bw.err))
		}
		writeText(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		return
	}
	dst := w.Header()
	for k, vv := range bw.header {
		dst[k] = append(dst[k], vv...)
	}
	code := bw.code
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	if bw.buf.size > 0 && expectBody(out.Method, code, bw.header) {
		if _, err := io.Copy(w, bw.buf.reader()); err != nil {
			if ce := b.log.Check(zap.DebugLevel, "buffering: writing the response"); ce != nil {
				ce.Write(zap.Error(err))
			}
		}
	}
}

// refuse answers a request whose body could not be buffered.
func (b *buffering) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	var ne net.Error
	switch {
	case errors.Is(err, errBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case r.Context().Err() != nil || errors.Is(err, context.Canceled):
		status = 499
	case errors.As(err, &ne) && ne.Timeout():
		status = http.StatusRequestTimeout
	case errors.Is(err, errSpoolFile):
		status = http.StatusInternalServerError
	}
	if ce := b.log.Check(zap.DebugLevel, "buffering: request refused"); ce != nil {
		ce.Write(zap.Int("status", status), zap.Error(err))
	}
	text := http.StatusText(status)
	if status == 499 {
		text = "Client Closed Request"
	}
	writeText(w, status, text)
}

// expectBody is oxy's rule (RFC 9110) for a response that has a body to send.
func expectBody(method string, code int, h http.Header) bool {
	if method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return false
	}
	if h.Get("Content-Length") == "0" {
		return false
	}
	if s := h.Get("Grpc-Status"); s != "" && s != "0" {
		return false
	}
	return true
}

// spooled is a body held in memory up to a threshold, and in a temporary
// file beyond.
type spooled struct {
	mem  *bytes.Buffer
	file *os.File
	size int64
}

var errSpoolFile = errors.New("buffering: temporary file")

// spool reads body whole, mem bytes in memory and the rest in a file; more
// than max bytes (max > 0) is errBodyTooLarge.
func spool(body io.Reader, mem, max int64) (*spooled, error) {
	sp := &spooled{mem: memBuffers.Get().(*bytes.Buffer)}
	if body == nil || body == http.NoBody {
		return sp, nil
	}
	if _, err := sp.mem.ReadFrom(io.LimitReader(body, mem)); err != nil {
		sp.close()
		return nil, err
	}
	sp.size = int64(sp.mem.Len())
	if sp.size < mem {
		return sp, nil
	}
	// As much as memory holds: is there more?
	var one [1]byte
	n, err := io.ReadFull(body, one[:])
	if n == 0 {
		if err == io.EOF {
			return sp, nil
		}
		sp.close()
		return nil, err
	}
	sp.size++
	if max > 0 && sp.size > max {
		sp.close()
		return nil, errBodyTooLarge
	}
	if err := sp.spill(one[:]); err != nil {
		sp.close()
		return nil, err
	}
	src := body
	if max > 0 {
		src = io.LimitReader(body, max-sp.size+1)
	}
	copied, err := io.Copy(sp.file, src)
	sp.size += copied
	if err != nil {
		sp.close()
		return nil, err
	}
	if max > 0 && sp.size > max {
		sp.close()
		return nil, errBodyTooLarge
	}
	if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
		sp.close()
		return nil, errors.Join(errSpoolFile, err)
	}
	return sp, nil
}

// spill starts the file with p.
func (sp *spooled) spill(p []byte) error {
	f, err := os.CreateTemp("", "baton-buffering-*")
	if err != nil {
		return errors.Join(errSpoolFile, err)
	}
	sp.file = f
	if _, err := f.Write(p); err != nil {
		return errors.Join(errSpoolFile, err)
	}
	return nil
}

func (sp *spooled) reader() io.Reader {
	m := bytes.NewReader(sp.mem.Bytes())
	if sp.file == nil {
		return m
	}
	return io.MultiReader(m, sp.file)
}

func (sp *spooled) close() {
	if sp.file != nil {
		name := sp.file.Name()
		sp.file.Close()
		os.Remove(name)
		sp.file = nil
	}
	if sp.mem != nil {
		putBuffer(sp.mem)
		sp.mem = nil
	}
}

// bufferedResponse is the ResponseWriter the next handler writes to: the
// status, the header and the body are kept until it returns.
type bufferedResponse struct {
	w        http.ResponseWriter
	header   http.Header
	code     int
	max, mem int64
	buf      spooled
	err      error
	hijacked bool
}

func (bw *bufferedResponse) Header() http.Header { return bw.header }

func (bw *bufferedResponse) WriteHeader(code int) {
	// An informational answer (103) is not relayed while the final one is
	// buffered; the first final status is the one (as net/http keeps it).
	if bw.code == 0 && code >= 200 {
		bw.code = code
	}
}

// Write keeps p. Past maxResponseBodyBytes the response is spoiled, but the
// write does not fail (the handler writing would take it for the client
// gone), as with oxy.
func (bw *bufferedResponse) Write(p []byte) (int, error) {
	if bw.code == 0 {
		bw.code = http.StatusOK
	}
	if bw.err != nil {
		return len(p), nil
	}
	if bw.max > 0 && bw.buf.size+int64(len(p)) > bw.max {
		bw.err = errBodyTooLarge
		return len(p), nil
	}
	if bw.buf.mem == nil && bw.buf.file == nil {
		bw.buf.mem = memBuffers.Get().(*bytes.Buffer)
	}
	bw.buf.size += int64(len(p))
	if bw.buf.file == nil {
		room := bw.mem - int64(bw.buf.mem.Len())
		if int64(len(p)) <= room {
			bw.buf.mem.Write(p)
			return len(p), nil
		}
		bw.buf.mem.Write(p[:room])
		if err := bw.buf.spill(p[room:]); err != nil {
			bw.err = err
		}
		return len(p), nil
	}
	if _, err := bw.buf.file.Write(p); err != nil {
		bw.err = errors.Join(errSpoolFile, err)
	}
	return len(p), nil
}

// rewind makes the file ready to be read from its start.
func (sp *spooled) rewind() error {
	if sp.file == nil {
		return nil
	}
	_, err := sp.file.Seek(0, io.SeekStart)
	return err
}

// Hijack lets an upgrade (WebSocket) through: the connection is the
// client's, nothing is buffered any more.
func (bw *bufferedResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(bw.w).Hijack()
	if err == nil {
		bw.hijacked = true
	}
	return c, rw, err
}

func (bw *bufferedResponse) close() { bw.buf.close() }
