package middleware

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// setPath makes p, a path in its escaped (on-the-wire) form, the request's
// path, the way Traefik's path middlewares leave a request: URL.Path is p
// decoded, URL.RawPath is p where Go's default encoding of Path differs from
// it, and RequestURI is the origin-form target (path, then "?" and the raw
// query) that baton sends upstream byte for byte. Every middleware that
// rewrites the path goes through here, so the target upstream sees always
// follows the rewrite. A p that does not start with "/" gets one (a target
// without it is not origin-form); an empty p stays empty and is sent as "/".
// A p that is not a valid encoding of its decoding is sent as Go re-encodes
// that decoding, as net/http would send it for Traefik. The error is the
// decoding's (a bad %-escape).
func setPath(r *http.Request, p string) error {
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	dec, err := unescapePath(p)
	if err != nil {
		return err
	}
	u := r.URL
	u.Opaque = ""
	u.Path, u.RawPath = dec, ""
	if u.EscapedPath() != p {
		u.RawPath = p
		if u.EscapedPath() != p {
			// p is no valid encoding of dec: Go sends its own encoding.
			u.RawPath = ""
		}
	}
	r.RequestURI = u.RequestURI()
	return nil
}

// unescapePath is url.PathUnescape without its allocation when p holds no
// %-escape.
func unescapePath(p string) (string, error) {
	if strings.IndexByte(p, '%') < 0 {
		return p, nil
	}
	return url.PathUnescape(p)
}

// cleanTarget reports whether p (escaped, starting with "/") is left as it
// is by the path cleaning Traefik applies after stripping or replacing a path
// (url.URL.JoinPath): no "." or ".." segment and no empty segment ("//"),
// a trailing slash kept. Traefik answers 400 to a request whose rewritten
// path is not clean, so that "/api/../admin" under stripPrefix(/api) can not
// reach "/admin" by a different spelling. The empty path is clean.
func cleanTarget(p string) bool {
	if p == "" {
		return true
	}
	c := path.Clean(p) // no allocation when p is already clean
	if c == p {
		return true
	}
	return len(p) == len(c)+1 && p[len(p)-1] == '/' && p[:len(c)] == c
}

// encodedPrefixLen is the length of the part of the escaped path raw that
// decodes to the first len(decodedPrefix) bytes: a %XX escape is one decoded
// byte. It lets a prefix matched on the decoded path be cut from the escaped
// one (Traefik's rule: the prefix is matched on URL.Path, and the same number
// of decoded bytes is cut from URL.RawPath).
func encodedPrefixLen(raw string, decodedLen int) int {
	i, n := 0, 0
	for i < len(raw) && n < decodedLen {
		if raw[i] == '%' && i+2 < len(raw) {
			i += 3
		} else {
			i++
		}
		n++
	}
	return i
}

// ensureLeadingSlash is Traefik's: "" stays "", anything else starts with "/".
func ensureLeadingSlash(s string) string {
	if s == "" || s[0] == '/' {
		return s
	}
	return "/" + s
}

// escapeInvariant reports whether s reads the same escaped and decoded: no
// '%' and no byte that a path must carry %-escaped (so a prefix or path from
// a label can be put in front of an escaped path and of its decoding alike).
// These are RFC 3986 pchar and "/" without pct-encoded.
func escapeInvariant(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validEscapedPath reports whether p is made of pchar, "/" and well-formed
// %XX escapes only (what may stand in a request target's path).
func validEscapedPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !isHexDigit(p[i+1]) || !isHexDigit(p[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if !escapeInvariant(p[i : i+1]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// answerStatusText answers code with its status text as the body, as Traefik's
// middlewares do (http.Error).
func answerStatusText(w http.ResponseWriter, code int) {
	http.Error(w, http.StatusText(code), code)
}

// parseBoolOption reads a boolean option as Traefik's label parser does
// (strconv.ParseBool: true, false, 1, 0, t, f in any case); def when unset.
func parseBoolOption(o *options, key string, def bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, &OptionError{Option: key, Value: v, Reason: "not a boolean (true or false)"}
	}
	return b, nil
}

// parseIntOption reads an integer option between lo and hi; set reports whether it
// was given.
func parseIntOption(o *options, key string, lo, hi int64) (n int64, set bool, err error) {
	v, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if perr != nil {
		return 0, true, &OptionError{Option: key, Value: v, Reason: "not an integer"}
	}
	if n < lo || n > hi {
		return 0, true, &OptionError{Option: key, Value: v, Reason: "out of range " + strconv.FormatInt(lo, 10) + ".." + strconv.FormatInt(hi, 10)}
	}
	return n, true, nil
}

// refuseOptions fails on the first of keys that is set, with reason.
func refuseOptions(o *options, reason string, keys ...string) error {
	for _, k := range keys {
		if v, ok := o.get(k); ok {
			return &OptionError{Option: k, Value: v, Reason: reason}
		}
	}
	return nil
}
