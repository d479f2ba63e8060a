package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// HTTP/1.1 header parsing shared by the upstream client (responses) and the
// client-facing fast path (requests): a block already wholly in a buffer is
// cut into the header map in place, with net/http's checks, or refused so that
// the caller can hand the message to net/http, which says why it is bad.

// parseHeaderLines parses CRLF-separated header lines into h, with canonical
// keys and values trimmed, sharing one backing array for the values. It
// reports false, for the caller to leave the message to net/http, on a line
// without a colon, a folded line, a bare LF or a byte net/http rejects.
func parseHeaderLines(rest string, h http.Header) bool {
	var vals []string
	if rest != "" {
		vals = make([]string, strings.Count(rest, "\r\n")+1)
	}
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\r\n")
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		key, v := line[:colon], line[colon+1:]
		canonical, upper := true, true
		for i := 0; i < len(key); i++ {
			c := key[i]
			if !validHeaderFieldByte(c) {
				return false
			}
			if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
				canonical = false
			}
			upper = c == '-'
		}
		if !canonical {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
		for i := 0; i < len(v); i++ {
			if !validHeaderValueByte(v[i]) {
				return false
			}
		}
		v = strings.Trim(v, " \t")
		if vv, ok := h[key]; ok {
			h[key] = append(vv, v)
		} else {
			vv, vals = vals[:1:1], vals[1:]
			vv[0] = v
			h[key] = vv
		}
	}
	return true
}

// parseContentLength reads a Content-Length field: -1 when there is none, ok
// false when there are several or the value is not a plain decimal number.
func parseContentLength(vv []string) (n int64, ok bool) {
	switch {
	case len(vv) == 0:
		return -1, true
	case len(vv) > 1 || vv[0] == "" || len(vv[0]) > 18:
		return 0, false
	}
	for i := 0; i < len(vv[0]); i++ {
		c := vv[0][i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// containsToken reports whether a comma-separated list in vv holds token,
// compared case-insensitively in ASCII (as net/http does for Connection).
func containsToken(vv []string, token string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if asciiEqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validHeaderFieldByte and validHeaderValueByte are net/textproto's checks.
func validHeaderFieldByte(c byte) bool {
	const mask = 0 |
		(1<<(10)-1)<<'0' |
		(1<<(26)-1)<<'a' |
		(1<<(26)-1)<<'A' |
		1<<'!' |
		1<<'#' |
		1<<'$' |
		1<<'%' |
		1<<'&' |
		1<<'\'' |
		1<<'*' |
		1<<'+' |
		1<<'-' |
		1<<'.' |
		1<<'^' |
		1<<'_' |
		1<<'`' |
		1<<'|' |
		1<<'~'
	return ((uint64(1)<<c)&(mask&(1<<64-1)) |
		(uint64(1)<<(c-64))&(mask>>64)) != 0
}

func validHeaderValueByte(c byte) bool {
	const mask = 0 |
		(1<<(0x7f-0x21)-1)<<0x21 | // VCHAR: %x21-7E
		1<<0x20 | // SP: %x20
		1<<0x09 // HTAB: %x09
	return ((uint64(1)<<c)&^(mask&(1<<64-1)) |
		(uint64(1)<<(c-64))&^(mask>>64)) == 0
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !validHeaderFieldByte(k[i]) {
			return false
		}
	}
	return true
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !validHeaderValueByte(v[i]) {
			return false
		}
	}
	return true
}

// hopHeaders belong to one connection and are never forwarded (RFC 9110 §7.6.1).
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopHeaders deletes hop-by-hop headers in place, including any named by
// Connection. It returns the Upgrade protocol when the message asks to switch.
func removeHopHeaders(h http.Header) (upgrade string) {
	if c := h["Connection"]; len(c) > 0 {
		for _, v := range c {
			for _, name := range strings.Split(v, ",") {
				name = strings.TrimSpace(name)
				if strings.EqualFold(name, "upgrade") {
					upgrade = h.Get("Upgrade")
				}
				if name != "" {
					h.Del(name)
				}
			}
		}
	}
	if len(h) < len(hopHeaders) {
		// Fewer fields than hop-by-hop names (the common case): test each
		// field instead of looking every name up.
		for k := range h {
			if isHopHeader(k) {
				delete(h, k)
			}
		}
		return upgrade
	}
	for _, name := range hopHeaders {
		if _, ok := h[name]; ok {
			delete(h, name)
		}
	}
	return upgrade
}

func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}
