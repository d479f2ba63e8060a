package rule

import (
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Match reports whether the request matches the rule, as Traefik's router
// would decide it:
//
//   - Host and HostRegexp read host: the request's host, lower case, without
//     port (as Traefik's canonical host). Host compares it whole (a value or
//     the host may end with one dot: "a.test." matches "a.test" and back),
//     "*" matches every request, "*.example.com" any one label in place of
//     the "*". A request without a host matches no Host but "*".
//   - Path, PathPrefix and PathRegexp read the routing path (RoutingPath):
//     the path as sent, with percent-escapes decoded except those of
//     reserved characters, so /a%20b is "/a b" but /a%2Fb stays "/a%2Fb".
//     PathPrefix is a plain string prefix ("/api" matches "/apix"); regexps
//     are unanchored unless they anchor themselves.
//   - Method compares the request method with the value upper-cased.
//   - Header and HeaderRegexp read every field line of the header (no comma
//     splitting); a header the client names in Connection is treated as
//     absent, since Traefik's entry point deletes it before routing.
//   - Query and QueryRegexp read the decoded query parameters as
//     url.ParseQuery does (a pair with a ';' or a bad escape is skipped);
//     Query(`k`) wants k present with an empty value.
//   - ClientIP reads clientIP; the zero Addr matches nothing.
func (r *Rule) Match(req *http.Request, host string, clientIP netip.Addr) bool {
	var rp string
	if r.needsPath {
		rp = RoutingPath(req.URL)
	}
	return r.root.match(req, host, rp, clientIP)
}

// MatchRouted is Match with the routing path already computed
// (RoutingPath(req.URL)), for a caller that evaluates several rules on one
// request.
func (r *Rule) MatchRouted(req *http.Request, host, routingPath string, clientIP netip.Addr) bool {
	return r.root.match(req, host, routingPath, clientIP)
}

func (n *node) match(req *http.Request, host, rp string, ip netip.Addr) bool {
	switch n.kind {
	case kAnd:
		return n.left.match(req, host, rp, ip) && n.right.match(req, host, rp, ip)
	case kOr:
		return n.left.match(req, host, rp, ip) || n.right.match(req, host, rp, ip)
	}
	return n.leaf(req, host, rp, ip) != n.not
}

func (n *node) leaf(req *http.Request, host, rp string, ip netip.Addr) bool {
	switch n.kind {
	case kHost:
		if n.anyHost {
			return true
		}
		return host != "" && hostMatches(host, n.s, n.wild)
	case kHostRegexp:
		return n.reEmpty || n.re.MatchString(host)
	case kPath:
		return rp == n.s
	case kPathPrefix:
		return strings.HasPrefix(rp, n.s)
	case kPathRegexp:
		return n.re.MatchString(rp)
	case kMethod:
		return req.Method == n.s
	case kHeader:
		return slices.Contains(headerValues(req.Header, n.s), n.v)
	case kHeaderRegexp:
		return slices.ContainsFunc(headerValues(req.Header, n.s), n.re.MatchString)
	case kQuery, kQueryRegexp:
		return queryMatches(req.URL.RawQuery, n.s, n.v, n.re)
	case kClientIP:
		return ip.IsValid() && n.prefix.Contains(ip.Unmap())
	}
	return false
}

// hostMatches is Traefik's Host matcher on a lower-case host: the host
// against the value, then the value without a trailing dot, then the host
// without one.
func hostMatches(host, expr string, wild bool) bool {
	if domainMatches(host, expr, wild) {
		return true
	}
	if last := len(expr) - 1; expr[last] == '.' && domainMatches(host, expr[:last], wild) {
		return true
	}
	if last := len(host) - 1; host[last] == '.' && domainMatches(host[:last], expr, wild) {
		return true
	}
	return false
}

// domainMatches: equal, or for "*.rest" the host with its first label
// replaced by "*" equals it.
func domainMatches(host, expr string, wild bool) bool {
	if !wild {
		return host == expr
	}
	i := strings.IndexByte(host, '.')
	return i >= 0 && host[i:] == expr[1:]
}

// headerValues are the request's values for a canonical key, or none when the
// client listed the key in Connection: Traefik's forwarded-headers step
// deletes such headers before routing, and re-sets Upgrade to its first
// value when Connection names it.
func headerValues(h http.Header, key string) []string {
	vs := h[key]
	if len(vs) == 0 {
		return nil
	}
	conn := h["Connection"]
	if len(conn) == 0 || !listsToken(conn, key) {
		return vs
	}
	if key == "Upgrade" {
		return vs[:1]
	}
	return nil
}

func listsToken(lines []string, key string) bool {
	for _, line := range lines {
		for line != "" {
			var tok string
			tok, line, _ = strings.Cut(line, ",")
			if strings.EqualFold(strings.Trim(tok, " \t"), key) {
				return true
			}
		}
	}
	return false
}

// maxQueryParams is net/url's bound: past it ParseQuery returns nothing.
const maxQueryParams = 10000

// queryMatches reads a raw query as url.ParseQuery does and reports whether
// a parameter named key has the value want (re nil) or one matching re. It
// does not allocate unless a value to match a regexp has escapes.
func queryMatches(q, key, want string, re *regexp.Regexp) bool {
	if q == "" || strings.Count(q, "&")+1 > maxQueryParams {
		return false
	}
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !validQueryEscapes(k) || !validQueryEscapes(v) || !unescapedEquals(k, key) {
			continue
		}
		if re == nil {
			if unescapedEquals(v, want) {
				return true
			}
			continue
		}
		if strings.IndexByte(v, '%') >= 0 || strings.IndexByte(v, '+') >= 0 {
			v, _ = url.QueryUnescape(v)
		}
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

func validQueryEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// unescapedEquals reports whether the query component s (valid escapes)
// decodes to want, without decoding it into a new string.
func unescapedEquals(s, want string) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		case '+':
			c = ' '
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// RoutingPath is the path Traefik routes on: the request's escaped path
// (url.URL.EscapedPath: as the client sent it, when that is a valid
// encoding) with every percent-escape decoded except those of RFC 3986's
// reserved characters and of % itself, written in upper-case hex as Traefik
// lists them ("%2F" stays, "%2f" and "%20" are decoded). It is neither
// r.URL.Path (which decodes %2F to /) nor the raw target. It allocates only
// when the path has escapes to keep or decode.
func RoutingPath(u *url.URL) string {
	if u.RawPath == "" {
		// EscapedPath would be u.Path escaped; of the characters escaping
		// writes as %XX, only these are reserved and stay escaped.
		if !strings.ContainsAny(u.Path, "?#[]!'()*%") {
			return u.Path
		}
	} else if u.RawPath == u.Path && validRawPath(u.RawPath) {
		// No escapes (RawPath was kept for a sub-delim such as '!').
		return u.RawPath
	}
	return decodeUnreserved(u.EscapedPath())
}

// validRawPath: RawPath holds no % and no byte EscapedPath would refuse.
func validRawPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '.', '_', '~', '/', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']':
			continue
		}
		return false
	}
	return true
}

// reservedEscapes are the escapes Traefik keeps as they are (its
// reservedCharacters: RFC 3986 gen-delims and sub-delims, and %25).
var reservedEscapes = map[string]bool{
	"%3A": true, "%2F": true, "%3F": true, "%23": true, "%5B": true, "%5D": true, "%40": true,
	"%21": true, "%24": true, "%26": true, "%27": true, "%28": true, "%29": true, "%2A": true,
	"%2B": true, "%2C": true, "%3B": true, "%3D": true, "%25": true,
}

func decodeUnreserved(esc string) string {
	if strings.IndexByte(esc, '%') < 0 {
		return esc
	}
	var b strings.Builder
	b.Grow(len(esc))
	for i := 0; i < len(esc); i++ {
		c := esc[i]
		if c != '%' || i+2 >= len(esc) || !isHex(esc[i+1]) || !isHex(esc[i+2]) {
			// A bad escape cannot come from net/url (Traefik answers 400).
			b.WriteByte(c)
			continue
		}
		if e := esc[i : i+3]; reservedEscapes[e] {
			b.WriteString(e)
		} else {
			b.WriteByte(unhex(esc[i+1])<<4 | unhex(esc[i+2]))
		}
		i += 2
	}
	return b.String()
}
