package upstreamconn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// readResponse reads the final response for ex: the common response (HTTP/1.1,
// a final status with a body of one Content-Length, the whole header in the
// buffer) is parsed in place into the exchange's pooled response, header map
// and body; anything else goes to http.ReadResponse, after its framing was
// judged (judgeResponseHead, framing.go). doubt is set when the response may
// be relayed but its connection must not carry another one.
func (ex *Exchange) readResponse(br *bufio.Reader) (resp *http.Response, doubt bool, err error) {
	ex.answered = false
	for n1xx := 0; ; n1xx++ {
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		ex.answered = true
		resp, ok, err := ex.readCommonResponse(br)
		if ok || err != nil {
			return resp, false, err
		}
		f, err := judgeResponseHead(br, ex.Method)
		if err != nil {
			return nil, false, err
		}
		if resp, err = http.ReadResponse(br, &ex.req); err != nil {
			return nil, false, err
		}
		code := resp.StatusCode
		if code >= 200 || code == http.StatusSwitchingProtocols {
			return resp, f.doubt, nil
		}
		// An informational answer (RFC 9110 §15.2). As net/http's
		// Transport: at most a few, then the final one. 100 Continue is
		// baton's own business with the client (the request body is already
		// sent); the others (102, 103 Early Hints) are relayed, as
		// httputil.ReverseProxy relays them.
		if n1xx >= max1xxResponses {
			return nil, false, errors.New("too many 1xx informational responses")
		}
		if code != http.StatusContinue && ex.Client1xx != nil {
			relay1xx(ex.Client1xx, code, resp.Header)
		}
	}
}

// relay1xx writes an informational response to the client with its own
// fields, then takes them out of the final response's header again.
func relay1xx(w http.ResponseWriter, code int, h http.Header) {
	h1.RemoveHopHeaders(h)
	dst := w.Header()
	for k, vv := range h {
		if _, set := dst[k]; !set {
			dst[k] = vv
			defer delete(dst, k)
		}
	}
	w.WriteHeader(code)
}

// max1xxResponses is net/http's Transport's bound.
const max1xxResponses = 5

var headerEnd = []byte("\r\n\r\n")

// readCommonResponse parses what http.ReadResponse would, with the same
// result, for the common case only. ok is false, with nothing read from br,
// for everything else: HEAD, 1xx, 204, 304, another protocol version,
// Transfer-Encoding, Trailer, Pragma (net/http rewrites it), no or more than
// one Content-Length, bare LF line ends, folded lines, bytes net/http rejects,
// or a header not wholly buffered.
func (ex *Exchange) readCommonResponse(br *bufio.Reader) (*http.Response, bool, error) {
	if ex.Method == http.MethodHead {
		return nil, false, nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, headerEnd)
	if end < 0 || len(buf) < 12 || string(buf[:9]) != "HTTP/1.1 " {
		return nil, false, nil
	}
	code := 0
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return nil, false, nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false, nil
	}
	block := string(buf[:end]) // status line and header lines; keys and values are cut from it
	statusLine, rest, _ := strings.Cut(block, "\r\n")
	if len(statusLine) > 12 && statusLine[12] != ' ' || strings.IndexByte(statusLine, '\n') >= 0 {
		return nil, false, nil
	}
	if ex.respHeader == nil {
		ex.respHeader = make(http.Header, 8)
	} else {
		clear(ex.respHeader)
	}
	h := ex.respHeader
	if !h1.ParseHeaderLines(rest, h) {
		return nil, false, nil
	}
	if h["Transfer-Encoding"] != nil || h["Trailer"] != nil || h["Pragma"] != nil {
		return nil, false, nil
	}
	length, ok := h1.ParseContentLength(h["Content-Length"])
	if !ok || length < 0 {
		return nil, false, nil
	}
	// As net/http: "Connection: close" ends the connection after this
	// response and is itself dropped from the header.
	closing := h1.ContainsToken(h["Connection"], "close")
	if closing {
		delete(h, "Connection")
	}
	br.Discard(end + len(headerEnd))
	ex.resp = http.Response{
		Status:        statusLine[9:],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: length,
		Close:         closing,
		Request:       &ex.req,
	}
	if length > 0 {
		ex.lb = lengthBody{br: br, remaining: length, closing: closing}
		ex.resp.Body = &ex.lb
	}
	return &ex.resp, true, nil
}

// lengthBody is a response body of a declared length, read from the
// connection's reader as net/http's body reads one: EOF with the last bytes,
// io.ErrUnexpectedEOF when the connection ends early, and Close reads what is
// left unless the connection closes after this response.
type lengthBody struct {
	br        *bufio.Reader
	remaining int64
	closing   bool
	sawEOF    bool
	closed    bool
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF || b.remaining <= 0 {
		b.sawEOF = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		b.sawEOF = true
		if b.remaining > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil && n > 0 && b.remaining == 0 {
		err = io.EOF
		b.sawEOF = true
	}
	return n, err
}

// Close reads what is left only when it is already buffered; a body left
// unread on the wire fails the close, so the connection is not reused.
func (b *lengthBody) Close() error {
	if b.closed {
		return nil
	}
	var err error
	if !b.sawEOF && !b.closing {
		if b.remaining > int64(b.br.Buffered()) {
			err = errBodyNotRead
		} else {
			_, err = io.Copy(io.Discard, b)
		}
	}
	b.closed = true
	return err
}

var errBodyNotRead = errors.New("response body closed before its end")
