package cache

import (
	"net/http"
	"strings"
)

// A primary key is service NUL method-class scheme NUL host NUL path ["?" query].
// The method class is always "G": only GET responses are stored and HEAD reads
// them. The scheme ("h" plain, "s" TLS) keeps an http-to-https redirect from
// being served on https. The service comes first so that two services routed
// for the same host (a cutover) never see each other's entries.
const methodClassGET = 'G'

// keyBufSize is the stack buffer most keys fit in; longer ones spill to the heap.
const keyBufSize = 256

// appendKey appends r's primary key on service to dst.
func appendKey(dst []byte, service string, r *http.Request) []byte {
	dst = append(dst, service...)
	scheme := byte('h')
	if r.TLS != nil {
		scheme = 's'
	}
	dst = append(dst, 0, methodClassGET, scheme, 0)
	dst = appendLower(dst, r.Host)
	dst = append(dst, 0)
	dst = append(dst, r.URL.EscapedPath()...)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		dst = append(dst, '?')
		dst = append(dst, r.URL.RawQuery...)
	}
	return dst
}

// appendLower appends s lower-cased: host names are case-insensitive.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// keyParts returns the service and the path of a primary key, for Purge.
func keyParts(key string) (service, path string) {
	i := strings.IndexByte(key, 0)
	service = key[:i]
	rest := key[i+4:] // skip NUL, method class, scheme, NUL
	j := strings.IndexByte(rest, 0)
	path = rest[j+1:]
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	return service, path
}

// underPrefix reports whether path lies under prefix, segment-wise: "/api"
// holds "/api" and "/api/users" but not "/apiary". "" and "/" hold everything.
func underPrefix(path, prefix string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}
