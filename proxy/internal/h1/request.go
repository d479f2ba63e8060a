package h1

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The fast path is the only reader of HTTP/1.1 request heads: it serves every
// HTTP/1.1 request itself (bodies too), answers a doubtful one with an error
// and closes, and hands net/http only HTTP/2 and, after the same checks,
// HTTP/1.0, for one request (see CloseAfterOne). There is no second parser
// that could read a message another way (RFC 9112 §11.2, request smuggling).

// refusal is a request baton answers itself, then closes the connection:
// the status, and the rule it broke, which the body names.
type refusal struct {
	status int
	reason string
}

func refuse(status int, reason string) *refusal { return &refusal{status, reason} }

// bodyFraming is how a request's body is delimited (RFC 9112 §6.3).
type bodyFraming uint8

const (
	bodyNone bodyFraming = iota
	bodyLength
	bodyChunked
)

// requestHead is what parseRequestHead makes of a request head.
type requestHead struct {
	req      *http.Request
	framing  bodyFraming
	length   int64
	expect   bool // Expect: 100-continue
	http10   bool // handed to net/http after the checks
	options  bool // OPTIONS *: answered by baton itself
	upgrades bool // the request asks to switch protocols
}

// headLimits bound a request head, as nginx (8 KiB a line with
// large_client_header_buffers, 32 KiB in all) and haproxy (tune.http.maxhdr
// 101 fields) bound theirs.
type headLimits struct {
	line, total, fields int
}

// parseRequestHead parses the request line and header lines of block
// (without the empty line) strictly. A request that cannot be read in exactly
// one way is refused.
func (c *serverConn) parseRequestHead(block string, lim headLimits) (requestHead, *refusal) {
	var rh requestHead
	line, rest, _ := strings.Cut(block, "\r\n")
	if len(block) > lim.line {
		if len(line) > lim.line {
			return rh, refuse(http.StatusRequestURITooLong, "request line longer than "+kib(lim.line))
		}
		for l := rest; l != ""; {
			var field string
			field, l, _ = strings.Cut(l, "\r\n")
			if len(field) > lim.line {
				return rh, refuse(http.StatusRequestHeaderFieldsTooLarge, "a header field longer than "+kib(lim.line))
			}
		}
	}
	if rest != "" && strings.Count(rest, "\r\n")+1 > lim.fields {
		return rh, refuse(http.StatusRequestHeaderFieldsTooLarge, "more than "+strconv.Itoa(lim.fields)+" header fields")
	}
	// RFC 9112 §3: method SP request-target SP HTTP-version, one space each.
	method, rest1, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest1, " ")
	if !ok1 || !ok2 || !ValidHeaderName(method) || target == "" {
		return rh, refuse(http.StatusBadRequest, "malformed request line (RFC 9112 §3)")
	}
	switch proto {
	case "HTTP/1.1":
	case "HTTP/1.0":
		rh.http10 = true
	default:
		if len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && proto[5] >= '0' && proto[5] <= '9' && proto[6] == '.' && proto[7] >= '0' && proto[7] <= '9' {
			return rh, refuse(http.StatusHTTPVersionNotSupported, "HTTP version "+proto+" not supported")
		}
		return rh, refuse(http.StatusBadRequest, "malformed HTTP version (RFC 9112 §2.3)")
	}
	if method == http.MethodConnect {
		return rh, refuse(http.StatusMethodNotAllowed, "CONNECT is not served: baton is not a forward proxy")
	}
	for i := 0; i < len(target); i++ {
		if b := target[i]; b <= ' ' || b >= 0x7f || b == '#' {
			// A fragment is never sent (RFC 9110 §4.2.5); a byte outside
			// visible ASCII is not a URI (RFC 3986).
			return rh, refuse(http.StatusBadRequest, "invalid byte in the request target (RFC 9112 §3.2)")
		}
	}

	h := c.header
	clear(h)
	if !ParseHeaderLines(rest, h) {
		// A line without a colon, a space before it (RFC 9112 §5.1), obs-fold
		// (§5.2), a bare CR or LF (§2.2), a control byte: all refused.
		return rh, refuse(http.StatusBadRequest, "malformed header field (RFC 9112 §5)")
	}

	// The request target: origin-form, absolute-form, or OPTIONS *
	// (RFC 9112 §3.2); authority-form is CONNECT's, refused above.
	fr := new(request)
	fr.req = *c.proto
	r := &fr.req
	host := ""
	switch {
	case target[0] == '/':
		if !plainTarget(target) {
			u, err := url.ParseRequestURI(target)
			if err != nil {
				return rh, refuse(http.StatusBadRequest, "invalid request target")
			}
			r.URL = u
		} else {
			path, query, hasQuery := strings.Cut(target, "?")
			fr.url = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
			r.URL = &fr.url
		}
	case target == "*":
		if method != http.MethodOptions {
			return rh, refuse(http.StatusBadRequest, "asterisk-form is for OPTIONS only (RFC 9112 §3.2.4)")
		}
		rh.options = true
		r.URL = &fr.url
	default:
		u, err := url.ParseRequestURI(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil {
			return rh, refuse(http.StatusBadRequest, "request target is neither origin-form nor an http(s) absolute URI (RFC 9112 §3.2)")
		}
		// RFC 9112 §3.2.2: the authority of an absolute-form target is the
		// host; the Host field is ignored (but must still be valid).
		host = u.Host
		r.URL = u
	}

	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return rh, refuse(http.StatusBadRequest, "more than one Host field (RFC 9112 §3.2)")
	case len(hosts) == 1 && !validHost(hosts[0]):
		return rh, refuse(http.StatusBadRequest, "invalid Host field (RFC 9112 §3.2)")
	case len(hosts) == 0 && !rh.http10:
		return rh, refuse(http.StatusBadRequest, "missing Host field (RFC 9112 §3.2)")
	}
	if host == "" && len(hosts) == 1 {
		host = hosts[0]
	}
	delete(h, "Host")

	f, rf := requestFraming(h, rh.http10)
	if rf != nil {
		return rh, rf
	}
	rh.framing = f
	// As net/http: the framing is the server's, not a field the handler sees.
	delete(h, "Transfer-Encoding")
	if rh.framing == bodyLength {
		rh.length, _ = ParseContentLength(h["Content-Length"])
		if rh.length == 0 {
			// A length of 0 is no body (RFC 9112 §6.3): nothing to read.
			rh.framing = bodyNone
		}
	}
	if e := h["Expect"]; e != nil {
		if len(e) != 1 || !ASCIIEqualFold(e[0], "100-continue") {
			return rh, refuse(http.StatusExpectationFailed, "only Expect: 100-continue is understood (RFC 9110 §10.1.1)")
		}
		// Without a body there is nothing to continue: no 100 is sent (a
		// server may omit it, RFC 9110 §10.1.1).
		rh.expect = rh.framing != bodyNone
	}
	closing := false
	if conn := h["Connection"]; conn != nil {
		// Upgrade counts only when Connection names it (RFC 9110 §7.8);
		// close ends the connection after the response (RFC 9112 §9.6).
		rh.upgrades = ContainsToken(conn, "upgrade") && h["Upgrade"] != nil
		closing = ContainsToken(conn, "close")
	}
	if rh.http10 {
		// HTTP/1.0 is served by net/http, for this one request (CloseAfterOne).
		closing = true
	}

	r.Method = method
	if rh.http10 {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	} else {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	}
	r.Header = h
	r.Body = http.NoBody
	r.Close = closing
	r.Host = host
	r.RemoteAddr = c.remote
	r.RequestURI = target
	r.TLS = c.tls
	switch rh.framing {
	case bodyLength:
		r.ContentLength = rh.length
	case bodyChunked:
		r.ContentLength = -1
		r.TransferEncoding = transferChunked
	}
	rh.req = r
	return rh, nil
}

var transferChunked = []string{"chunked"}

// requestFraming decides how the body is delimited (RFC 9112 §6.1-6.3).
// Every doubtful combination is refused, as haproxy and nginx refuse them:
// Content-Length with Transfer-Encoding (the shape of request smuggling),
// Transfer-Encoding on HTTP/1.0 (which has none, so it would be read twice),
// a transfer coding baton does not decode, or chunked not last.
func requestFraming(h http.Header, http10 bool) (bodyFraming, *refusal) {
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	switch {
	case te != nil && http10:
		return bodyNone, refuse(http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)")
	case te != nil && cl != nil:
		return bodyNone, refuse(http.StatusBadRequest, "Content-Length with Transfer-Encoding (RFC 9112 §6.1, request smuggling)")
	case te != nil:
		codings := 0
		last := ""
		for _, v := range te {
			for v != "" {
				var c string
				c, v, _ = strings.Cut(v, ",")
				if c = strings.Trim(c, " \t"); c != "" {
					codings++
					last = c
				}
			}
		}
		switch {
		case !ASCIIEqualFold(last, "chunked"):
			return bodyNone, refuse(http.StatusBadRequest, "Transfer-Encoding does not end in chunked (RFC 9112 §6.3)")
		case codings > 1:
			return bodyNone, refuse(http.StatusNotImplemented, "transfer codings other than chunked are not implemented (RFC 9112 §6.1)")
		}
		return bodyChunked, nil
	case cl != nil:
		if _, ok := ParseContentLength(cl); !ok {
			return bodyNone, refuse(http.StatusBadRequest, "invalid or repeated Content-Length (RFC 9112 §6.3)")
		}
		return bodyLength, nil
	}
	return bodyNone, nil
}

// request holds a request and its URL in one allocation.
type request struct {
	req http.Request
	url url.URL
}

// plainTarget: an origin-form target whose path has only bytes net/url
// keeps as they are, so that it can be cut without url.ParseRequestURI.
func plainTarget(target string) bool {
	for i := 0; i < len(target); i++ {
		b := target[i]
		if b == '?' {
			return true
		}
		if !plainPathByte(b) {
			return false
		}
	}
	return true
}

// plainPathByte: the bytes net/url keeps as they are in a path.
func plainPathByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '-', '.', '_', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

// validHost checks a Host field against RFC 3986's host [":" port]:
// reg-name (unreserved, pct-encoded, sub-delims) or an IP literal in [].
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch b := h[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("-._~%!$&'()*+,;=:[]", b) >= 0:
		default:
			return false
		}
	}
	return true
}

func kib(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
