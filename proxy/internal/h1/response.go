package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// response is the fast path's http.ResponseWriter, http.Flusher and
// http.Hijacker. It frames the body as net/http does: the declared
// Content-Length; else, for an answer that ends within pendingBodySize, a
// computed one; else chunks (which a Flush before the end also chooses), with
// trailers after the last chunk (RFC 9112 §6.3, §7.1).
type response struct {
	c      *serverConn
	req    *http.Request
	header http.Header

	status      int
	wroteHeader bool
	committed   bool // the status line and header are in the write buffer
	bodyAllowed bool
	chunked     bool
	declared    int64 // Content-Length the handler set; -1 when none
	written     int64
	pending     []byte
	closeAfter  bool
	err         error
}

func (w *response) reset(r *http.Request) {
	clear(w.header)
	w.req = r
	w.status = 0
	w.wroteHeader, w.committed, w.chunked, w.closeAfter = false, false, false, false
	w.bodyAllowed = false
	w.declared, w.written = -1, 0
	w.pending = w.pending[:0]
	w.err = nil
}

// IsFastPath reports whether w is the fast path's ResponseWriter: the
// request it answers was read by this package, not by net/http.
func IsFastPath(w http.ResponseWriter) bool {
	_, ok := w.(*response)
	return ok
}

// BodyAllowedForStatus: 1xx, 204 and 304 have no body (RFC 9110 §6.4.1).
func BodyAllowedForStatus(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		// net/http's checkWriteHeaderCode: a status code has three digits
		// (RFC 9110 §15).
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		// An informational answer (103 Early Hints) goes out now; the final
		// one follows (RFC 9110 §15.2). 101 never reaches here: the handler
		// writes an upgrade's 101 itself, after Hijack.
		w.writeStatusAndHeader(code, false)
		w.flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	w.bodyAllowed = BodyAllowedForStatus(code)
	if !w.bodyAllowed {
		// RFC 9110 §8.6: no Content-Length on a 204 (nor, from baton, a 304).
		delete(w.header, "Content-Length")
	} else if n, ok := ParseContentLength(w.header["Content-Length"]); ok && n >= 0 {
		w.declared = n
	} else {
		delete(w.header, "Content-Length")
	}
	if ContainsToken(w.header["Connection"], "close") {
		// The handler's Connection: close ends the connection after this
		// response (RFC 9112 §9.6), as in net/http.
		w.closeAfter = true
	}
}

func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

// write takes the bytes of p, or else of s (io.WriteString needs no copy).
func (w *response) write(p []byte, s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n := len(p) + len(s)
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if n == 0 {
		return 0, nil
	}
	if w.req.Method == http.MethodHead {
		// A HEAD answer has no body (RFC 9110 §9.3.2); net/http drops the
		// bytes and reports them written, too.
		return n, nil
	}
	if w.declared >= 0 && w.written+int64(n) > w.declared {
		// More than the declared length would run into the next response:
		// net/http refuses the write with the same error.
		return 0, http.ErrContentLength
	}
	w.written += int64(n)
	if !w.committed {
		if w.declared < 0 && len(w.pending)+n <= cap(w.pending) {
			w.pending = append(w.pending, p...)
			w.pending = append(w.pending, s...)
			return n, nil
		}
		w.commit(w.declared < 0)
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(n), 16))
		bw.WriteString("\r\n")
	}
	if p != nil {
		bw.Write(p)
	} else {
		bw.WriteString(s)
	}
	if w.chunked {
		bw.WriteString("\r\n")
	}
	if err := w.checkWrite(); err != nil {
		return 0, err
	}
	return n, nil
}

// Flush sends what is buffered; a body of unknown length is chunked from here on.
func (w *response) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.declared < 0 && w.bodyAllowed && w.req.Method != http.MethodHead)
	}
	w.flush()
}

// commit writes the status line and header, then the pending body.
func (w *response) commit(chunked bool) {
	w.committed = true
	w.chunked = chunked
	w.writeStatusAndHeader(w.status, true)
	if len(w.pending) > 0 {
		pending := w.pending
		w.pending = w.pending[:0]
		w.written -= int64(len(pending))
		w.write(pending, "")
	}
}

func (w *response) writeStatusAndHeader(code int, final bool) {
	bw := w.c.bw
	bw.WriteString(statusLine(code))
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) || !ValidHeaderName(k) {
			// Trailers go after the last chunk; a name that is not a token
			// (RFC 9110 §5.1) is dropped, as net/http drops it.
			continue
		}
		switch k {
		case "Transfer-Encoding":
			continue // framing is the server's
		case "Content-Length":
			if w.declared < 0 || !final {
				continue // never on a 1xx (RFC 9110 §8.6)
			}
		}
		writeField(bw, k, vv)
	}
	if !final {
		bw.WriteString("\r\n")
		return
	}
	if _, ok := w.header["Date"]; !ok {
		// An origin with a clock sends Date (RFC 9110 §6.6.1); net/http
		// adds it unless the handler set one (or set it to nil).
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case w.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case w.declared < 0 && w.bodyAllowed && w.req.Method != http.MethodHead:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(w.pending)))
		bw.WriteString("\r\n")
	}
	if w.closeAfter || w.req.Close || w.c.s.shutting.Load() {
		// The last response on the connection says so (RFC 9112 §9.6).
		if _, ok := w.header["Connection"]; !ok {
			bw.WriteString("Connection: close\r\n")
		}
	}
	bw.WriteString("\r\n")
}

// finish ends the response: header if not yet sent, pending body, last
// chunk and trailers, and one flush.
func (w *response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	if w.chunked && w.err == nil {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		w.writeTrailers()
		bw.WriteString("\r\n")
	}
	if w.declared >= 0 && w.written < w.declared && w.bodyAllowed && w.req.Method != http.MethodHead {
		// Fewer bytes than declared: the client cannot find the next answer
		// (RFC 9112 §8, an incomplete message); net/http closes too.
		w.closeAfter = true
	}
	w.flush()
	return w.err
}

// writeTrailers writes the trailer section after the last chunk (RFC 9112
// §7.1.2): the fields declared in Trailer and those set under
// http.TrailerPrefix, as net/http does.
func (w *response) writeTrailers() {
	bw := w.c.bw
	for _, names := range w.header["Trailer"] {
		for _, name := range strings.Split(names, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			writeField(bw, name, w.header[name])
		}
	}
	for k, vv := range w.header {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok || !ValidHeaderName(name) {
			continue
		}
		writeField(bw, name, vv)
	}
}

func (w *response) flush() {
	if w.err == nil {
		w.c.bw.Flush()
		w.checkWrite()
	}
}

// checkWrite notes the first failed write to the client: the client is gone,
// so its requests end, as net/http cancels a request's context then.
func (w *response) checkWrite() error {
	if w.err == nil {
		// A bufio.Writer keeps its first error; an empty Write returns it.
		if _, err := w.c.bw.Write(nil); err != nil {
			w.err = err
			w.c.clientGone(err)
		}
	}
	return w.err
}

// writeField writes a header or trailer field, one line per value, with CR
// and LF in values as spaces, as net/http does, so that a value cannot start
// a field of its own.
func writeField(bw *bufio.Writer, name string, vv []string) {
	for _, v := range vv {
		bw.WriteString(name)
		bw.WriteString(": ")
		if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
			bw.WriteString(v)
		} else {
			for i := 0; i < len(v); i++ {
				b := v[i]
				if b == '\r' || b == '\n' {
					b = ' '
				}
				bw.WriteByte(b)
			}
		}
		bw.WriteString("\r\n")
	}
}

var statusLines [600]string

func init() {
	for code := 100; code < len(statusLines); code++ {
		if text := http.StatusText(code); text != "" {
			statusLines[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
}

func statusLine(code int) string {
	if code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return "HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}

// httpDate is the Date header for now, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]

// sendContinue answers Expect: 100-continue as the handler starts reading
// the body (RFC 9110 §10.1.1), unless the final answer already went out.
func (w *response) sendContinue() {
	if w.wroteHeader || w.err != nil {
		return
	}
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.flush()
}

// Hijack hands the connection to the handler (a protocol upgrade): the
// client watch stops first, so the handler is the connection's only reader.
// Only a request that asked to upgrade may take it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if !c.upgrade || w.wroteHeader {
		return nil, nil, http.ErrNotSupported
	}
	c.watch.disarm()
	c.hijacked = true
	c.s.forget(c)
	// The connection's buffers go back to the pool: a relayed WebSocket may
	// idle for hours, and 8 KiB of buffers each would be most of its cost.
	// The handler gets a reader holding just what was read ahead of the
	// request's end, then the connection, and a small writer.
	unread := c.unread()
	c.giveBuffers()
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(unread), c.conn), max(len(unread), 16))
	br.Peek(len(unread))
	return c.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(c.conn, 512)), nil
}
