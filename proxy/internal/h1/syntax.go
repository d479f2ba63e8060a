package h1

import (
	"net/http"
	"net/textproto"
	"strings"
)

// HTTP/1.1 field syntax shared by the fast path (requests) and package
// upstreamconn (responses): a block already wholly in a buffer is cut into
// the header map in place, with net/http's checks, or refused: the fast path
// then answers 400, the upstream client leaves the response to
// http.ReadResponse. And the hop-by-hop rule of a proxy (RFC 9110 §7.6.1).

// ParseHeaderLines parses CRLF-separated header lines into h, with canonical
// keys and values trimmed (RFC 9112 §5.1: OWS around the value is not part
// of it), sharing one backing array for the values. It reports false on a
// line without a colon or with a space before it (RFC 9112 §5.1), a folded
// line (obs-fold, §5.2), a bare CR or LF (§2.2), or a byte net/textproto
// rejects (RFC 9110 §5.1: names are tokens; §5.5: values hold no CTL).
func ParseHeaderLines(rest string, h http.Header) bool {
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

// ParseContentLength reads a Content-Length field: -1 when there is none, ok
// false when there are several (RFC 9110 §8.6 lets a recipient merge
// identical ones; baton does not) or the value is not 1*DIGIT (RFC 9110 §8.6), at most 18
// digits so that it cannot overflow.
func ParseContentLength(vv []string) (n int64, ok bool) {
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

// ContainsToken reports whether a comma-separated list (RFC 9110 §5.6.1) in
// vv holds token, compared case-insensitively in ASCII (connection options
// are case-insensitive, RFC 9110 §7.6.1; net/http compares them so).
func ContainsToken(vv []string, token string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if ASCIIEqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// ASCIIEqualFold compares a and b case-insensitively in ASCII only: tokens
// are ASCII, and Unicode folding (strings.EqualFold) would let "ſ" match "s".
func ASCIIEqualFold(a, b string) bool {
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

// ValidHeaderName reports whether k is a field name: a token (RFC 9110 §5.1).
func ValidHeaderName(k string) bool {
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

// ValidFieldValue reports whether v may be a field value: no CR, LF, NUL or
// other CTL but HTAB (RFC 9110 §5.5; obs-text is allowed, as net/http does).
func ValidFieldValue(v string) bool {
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

// RemoveHopHeaders deletes hop-by-hop headers in place, including any named by
// Connection (RFC 9110 §7.6.1). It returns the Upgrade protocol when the
// message asks to switch (RFC 9110 §7.8).
func RemoveHopHeaders(h http.Header) (upgrade string) {
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
