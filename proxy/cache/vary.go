package cache

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// absent stands for a request header that was not sent: it matches only
// another absent header (RFC 9111 §4.1). NUL cannot occur in a header value.
const absent = "\x00"

// varyNames returns the canonical, sorted, de-duplicated field names listed in
// the response's Vary, and star when it lists "*" (never matches: not stored).
func varyNames(h http.Header) (names []string, star bool) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
			case f == "*":
				return nil, true
			default:
				names = append(names, textproto.CanonicalMIMEHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), false
}

// varyValues returns the request's values of the named fields, normalised so
// that equal field values compare equal (several lines joined, spaces trimmed).
func varyValues(names []string, h http.Header) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = normalised(h[n])
	}
	return out
}

func normalised(vv []string) string {
	switch len(vv) {
	case 0:
		return absent
	case 1:
		return strings.TrimSpace(vv[0])
	}
	parts := make([]string, len(vv))
	for i, v := range vv {
		parts[i] = strings.TrimSpace(v)
	}
	return strings.Join(parts, ", ")
}

// varyMatch reports whether the request carries the values an entry was stored
// under. The common single-valued header is compared without allocating.
func varyMatch(names, values []string, h http.Header) bool {
	for i, n := range names {
		vv := h[n]
		var got string
		switch len(vv) {
		case 0:
			got = absent
		case 1:
			got = strings.TrimSpace(vv[0])
		default:
			got = normalised(vv)
		}
		if got != values[i] {
			return false
		}
	}
	return true
}
