package upstreamconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// writeRequest writes ex's request in HTTP/1.1 with one flush: the request
// line, Host, the headers as they are, and the body (chunked when its length
// is unknown, RFC 9112 §6.1).
func writeRequest(bw *bufio.Writer, ex *Exchange) error {
	if !ex.HeadChecked {
		if err := checkRequestHead(ex); err != nil {
			ex.closeBody()
			return err
		}
	}
	bw.WriteString(ex.Method)
	bw.WriteByte(' ')
	bw.WriteString(ex.Target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(ex.Host)
	bw.WriteString("\r\n")
	for k, vv := range ex.Header {
		if k == "Host" || k == "Content-Length" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	chunked := false
	switch {
	case ex.Body == nil:
		// A method that expects content says it has none (RFC 9110 §8.6:
		// a user agent should send Content-Length then), as net/http does.
		if m := ex.Method; m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case ex.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(ex.ContentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	if ex.Body != nil {
		var err error
		if chunked {
			err = writeChunked(bw, ex.Body)
		} else {
			_, err = io.CopyN(bw, ex.Body, ex.ContentLength)
		}
		ex.Body.Close()
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// errInvalidRequestHead is a request line or field that is not valid HTTP/1.1
// syntax. The fast path (package h1) validated what the client sent; this catches what
// baton itself added (a middleware's value with a line break, say) before it
// could start a field of its own upstream.
var errInvalidRequestHead = errors.New("invalid request head for the upstream")

// checkRequestHead validates the request line and every field before a byte
// is written (RFC 9110 §5.1 field names are tokens, §5.5 values hold no CR,
// LF or NUL), so a refused request reaches no upstream.
func checkRequestHead(ex *Exchange) error {
	if !h1.ValidHeaderName(ex.Method) || !validTarget(ex.Target) || !h1.ValidFieldValue(ex.Host) || ex.Host == "" {
		return fmt.Errorf("%w: request line %q %q (Host %q)", errInvalidRequestHead, ex.Method, ex.Target, ex.Host)
	}
	for k, vv := range ex.Header {
		if !h1.ValidHeaderName(k) {
			return fmt.Errorf("%w: field name %q", errInvalidRequestHead, k)
		}
		for _, v := range vv {
			if !h1.ValidFieldValue(v) {
				return fmt.Errorf("%w: value of %s", errInvalidRequestHead, k)
			}
		}
	}
	return nil
}

// validTarget: a request target is visible ASCII, and not empty.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (ex *Exchange) closeBody() {
	if ex.Body != nil {
		ex.Body.Close()
	}
}

// chunkBuffers hold what is read of a request body of unknown length before
// it is written as a chunk.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeChunked sends body in the chunked coding (RFC 9112 §7.1), a chunk per
// read, with no extension and no trailer.
func writeChunked(bw *bufio.Writer, body io.Reader) error {
	bp := chunkBuffers.Get().(*[]byte)
	defer chunkBuffers.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			bw.WriteString(strconv.FormatInt(int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			// Stream request bodies: the upstream sees each piece as it arrives.
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return err
		}
	}
}
