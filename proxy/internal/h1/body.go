package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

// BadRequestBodyError is a request body whose framing broke the rules
// mid-way (a malformed chunk, a body cut short): the client gets 400 and
// the connection ends; the upstream never gets a whole request.
type BadRequestBodyError struct{ Reason string }

func (e *BadRequestBodyError) Error() string { return "bad request body: " + e.Reason }

func badBody(reason string) error { return &BadRequestBodyError{reason} }

// requestBody is a request body read from the connection's reader: a declared
// length, or chunks (RFC 9112 §7.1) whose trailer section is read, checked
// and dropped. It sends 100 Continue before its first read when the client
// asked for it, and arms the client watch once the body is read to its end
// (until then the watch would race the body for the connection's bytes).
type requestBody struct {
	c         *serverConn
	framing   bodyFraming
	remaining int64 // of the declared length, or of the current chunk
	expect    bool  // 100 Continue not yet sent
	inChunk   bool  // a chunk's data is being read
	eof       bool
	err       error
	closed    bool
}

func (b *requestBody) reset(c *serverConn, rh *requestHead) {
	*b = requestBody{c: c, framing: rh.framing, remaining: rh.length, expect: rh.expect}
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if b.expect {
		b.expect = false
		b.c.resp.sendContinue()
	}
	var n int
	var err error
	if b.framing == bodyChunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readLength(p)
	}
	if err == io.EOF {
		b.eof = true
		b.c.watch.arm()
	} else if err != nil {
		b.err = err
	}
	return n, err
}

func (b *requestBody) readLength(p []byte) (int, error) {
	if b.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	switch {
	case b.remaining == 0:
		return n, io.EOF
	case err == io.EOF:
		// The client ended the connection before the declared length: an
		// incomplete message (RFC 9112 §8), as net/http's body reader says.
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4 << 10

func (b *requestBody) readChunked(p []byte) (int, error) {
	br := b.c.br
	if !b.inChunk {
		size, err := readChunkSize(br)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := b.readTrailer(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		b.remaining, b.inChunk = size, true
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, err
	}
	if b.remaining == 0 {
		// The chunk's data ends with CRLF, exactly (RFC 9112 §7.1:
		// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF).
		crlf, err := br.Peek(2)
		if err != nil {
			return n, unexpected(err)
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return n, badBody("chunk data not followed by CRLF (RFC 9112 §7.1)")
		}
		br.Discard(2)
		b.inChunk = false
	}
	return n, nil
}

// readChunkSize reads "chunk-size [ chunk-ext ] CRLF" (RFC 9112 §7.1.1).
// Extensions are checked for their bytes and dropped: baton forwards none.
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := readLine(br, maxChunkLine)
	if err != nil {
		return 0, err
	}
	digits, ext, _ := strings.Cut(line, ";")
	digits = strings.TrimRight(digits, " \t") // BWS before an extension
	if digits == "" || len(digits) > 15 {
		// 15 hex digits stay below 2^60: no overflow, and no body is that long.
		return 0, badBody("chunk size missing or too large (RFC 9112 §7.1)")
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, badBody("chunk size is not hexadecimal (RFC 9112 §7.1)")
		}
		n = n<<4 | int64(c)
	}
	if !ValidFieldValue(ext) {
		return 0, badBody("invalid byte in a chunk extension (RFC 9112 §7.1.1)")
	}
	return n, nil
}

// readTrailer reads the trailer section after the last chunk: field lines,
// then the empty line. Fields are checked and dropped, so that a framing or
// routing field (Content-Length, Transfer-Encoding, Host) in a trailer can
// never reach the upstream as a header (RFC 9110 §6.5.1).
func (b *requestBody) readTrailer() error {
	total, fields := 0, 0
	lim := b.c.s.limits()
	for {
		line, err := readLine(b.c.br, lim.line)
		if err != nil {
			return err
		}
		if line == "" {
			return nil
		}
		total += len(line) + 2
		fields++
		if total > lim.total || fields > lim.fields {
			return badBody("trailer section too large")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !ValidHeaderName(line[:colon]) || !ValidFieldValue(line[colon+1:]) {
			return badBody("malformed trailer field (RFC 9112 §7.1.2)")
		}
	}
}

// readLine reads one CRLF-terminated line of at most limit bytes, without
// the CRLF; a bare LF or CR is refused (RFC 9112 §2.2).
func readLine(br *bufio.Reader, limit int) (string, error) {
	for n := 1; ; {
		buf, err := br.Peek(min(n, br.Size()))
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i == 0 || buf[i-1] != '\r' {
				return "", badBody("bare LF in chunked framing (RFC 9112 §2.2)")
			}
			line := string(buf[:i-1])
			br.Discard(i + 1)
			if strings.IndexByte(line, '\r') >= 0 {
				return "", badBody("bare CR in chunked framing (RFC 9112 §2.2)")
			}
			return line, nil
		}
		if len(buf) > limit || len(buf) >= br.Size() {
			return "", badBody("line too long in chunked framing")
		}
		if err != nil {
			return "", unexpected(err)
		}
		n = max(n+1, br.Buffered())
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close marks the body done. What is left unread stays unread: the
// connection then closes after the response (see serverConn.serveRequest),
// as the next request cannot be found without reading it.
func (b *requestBody) Close() error {
	b.closed = true
	return nil
}

// complete reports whether the body was read to its end without error.
func (b *requestBody) complete() bool {
	return b.eof && b.err == nil
}
