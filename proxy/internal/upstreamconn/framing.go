package upstreamconn

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// responseFraming is what judgeResponseHead found in a response head that
// http.ReadResponse is about to read.
type responseFraming struct {
	// doubt: the response may be relayed, but its connection must not carry
	// another request, because where the message ends is not certain.
	doubt bool
}

var (
	errResponseHeadTooLarge = errors.New("upstream response header larger than the read buffer")
	errResponseFraming      = errors.New("upstream response framing is ambiguous")
)

// judgeResponseHead looks at the response head in br (read in full into the
// buffer, which bounds it as nginx's proxy_buffer_size does) before
// http.ReadResponse parses it. net/http reads some doubtful shapes without a
// word: Content-Length with Transfer-Encoding (it drops the length, RFC 9112
// §6.3 rule 3), identical duplicate lengths, a 204 that declares a body, a
// folded framing field. Such a response may be relayed, but its connection
// must not be reused (RFC 9112 §6.3: "ought to be handled as an error";
// §11.2 response splitting). Differing lengths are refused outright.
func judgeResponseHead(br *bufio.Reader, method string) (responseFraming, error) {
	var f responseFraming
	head, err := peekHead(br)
	if err != nil {
		return f, err
	}
	status, lines, _ := strings.Cut(string(head), "\r\n")
	code := statusCode(status)
	var lengths []string
	te := false
	for lines != "" {
		var line string
		line, lines, _ = strings.Cut(lines, "\r\n")
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			f.doubt = true // obs-fold (RFC 9112 §5.2): net/http joins it, baton trusts it no further
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		switch {
		case h1.ASCIIEqualFold(strings.TrimRight(name, " \t"), "Content-Length"):
			lengths = append(lengths, strings.Trim(value, " \t"))
		case h1.ASCIIEqualFold(strings.TrimRight(name, " \t"), "Transfer-Encoding"):
			te = true
		}
	}
	for _, l := range lengths[min(1, len(lengths)):] {
		if l != lengths[0] {
			return f, errResponseFraming // RFC 9112 §6.3 rule 5: unrecoverable
		}
		f.doubt = true
	}
	noBody := method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	switch {
	case te && len(lengths) > 0:
		f.doubt = true
	case code < 200 || code == http.StatusNoContent:
		// RFC 9110 §8.6: no Content-Length (other than 0) and no
		// Transfer-Encoding in a 1xx or 204.
		if te || len(lengths) > 0 && lengths[0] != "0" {
			f.doubt = true
		}
	case code == http.StatusNotModified:
		f.doubt = f.doubt || te
	case !noBody && !te && len(lengths) == 0:
		f.doubt = true // read until close: nothing can follow it
	}
	return f, nil
}

// peekHead returns the response head up to its empty line, wholly buffered.
func peekHead(br *bufio.Reader) ([]byte, error) {
	for n := br.Buffered(); ; n = br.Buffered() + 1 {
		buf, err := br.Peek(n)
		if i := bytes.Index(buf, headerEnd); i >= 0 {
			return buf[:i], nil
		}
		if len(buf) >= br.Size() {
			return nil, errResponseHeadTooLarge
		}
		if err != nil {
			return nil, err
		}
	}
}

// statusCode reads the status code of a status line, or 0.
func statusCode(line string) int {
	if len(line) < 12 || line[8] != ' ' {
		return 0
	}
	code := 0
	for _, c := range []byte(line[9:12]) {
		if c < '0' || c > '9' {
			return 0
		}
		code = code*10 + int(c-'0')
	}
	return code
}
