package cache

import (
	"strings"
)

// deltaMax is where delta-seconds saturate (RFC 9111 §1.2.2): larger values
// mean "2^31 seconds", never an overflow.
const deltaMax = 1 << 31

// requestControl holds the Cache-Control request directives the cache honours
// (RFC 9111 §5.2.1). A zero value with maxAge and minFresh at -1 means none.
type requestControl struct {
	noStore  bool
	noCache  bool
	maxAge   int64 // -1: absent
	minFresh int64 // -1: absent
}

// responseControl holds the Cache-Control response directives that decide
// whether a shared cache may store a response and for how long (RFC 9111 §5.2.2).
type responseControl struct {
	noStore, noCache, private        bool
	public, mustRevalidate, proxyRev bool
	sMaxAge, maxAge                  int64 // -1: absent, -2: present but malformed
}

func parseRequestControl(values []string) requestControl {
	rc := requestControl{maxAge: -1, minFresh: -1}
	for _, v := range values {
		for v != "" {
			var name, arg string
			name, arg, v = nextDirective(v)
			switch {
			case strings.EqualFold(name, "no-store"):
				rc.noStore = true
			case strings.EqualFold(name, "no-cache"):
				rc.noCache = true
			case strings.EqualFold(name, "max-age"):
				if rc.maxAge == -1 {
					rc.maxAge = deltaSeconds(arg)
				}
			case strings.EqualFold(name, "min-fresh"):
				if rc.minFresh == -1 {
					rc.minFresh = deltaSeconds(arg)
				}
			}
		}
	}
	// A malformed max-age asks for nothing older than "unknown": treat it as 0,
	// the safe reading; a malformed min-fresh is ignored.
	if rc.maxAge == -2 {
		rc.maxAge = 0
	}
	if rc.minFresh == -2 {
		rc.minFresh = -1
	}
	return rc
}

func parseResponseControl(values []string) responseControl {
	rc := responseControl{sMaxAge: -1, maxAge: -1}
	for _, v := range values {
		for v != "" {
			var name, arg string
			name, arg, v = nextDirective(v)
			switch {
			case strings.EqualFold(name, "no-store"):
				rc.noStore = true
			case strings.EqualFold(name, "no-cache"):
				// Also the qualified form no-cache="field": storing without those
				// fields is allowed, but baton does not revalidate, so it stays out.
				rc.noCache = true
			case strings.EqualFold(name, "private"):
				rc.private = true
			case strings.EqualFold(name, "public"):
				rc.public = true
			case strings.EqualFold(name, "must-revalidate"):
				rc.mustRevalidate = true
			case strings.EqualFold(name, "proxy-revalidate"):
				rc.proxyRev = true
			case strings.EqualFold(name, "s-maxage"):
				if rc.sMaxAge == -1 { // the first occurrence wins (§4.2.1)
					rc.sMaxAge = deltaSeconds(arg)
				}
			case strings.EqualFold(name, "max-age"):
				if rc.maxAge == -1 {
					rc.maxAge = deltaSeconds(arg)
				}
			}
		}
	}
	return rc
}

// nextDirective splits the first directive off a Cache-Control list:
// `name[=token|"quoted, string"]`. It does not allocate.
func nextDirective(s string) (name, arg, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' {
		i++
	}
	name = strings.TrimSpace(s[:i])
	if i == len(s) || s[i] == ',' {
		return name, "", s[i:]
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	if strings.HasPrefix(s, `"`) {
		end := 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return name, s[1:], ""
		}
		return name, s[1:end], s[end+1:]
	}
	j := strings.IndexByte(s, ',')
	if j < 0 {
		return name, strings.TrimSpace(s), ""
	}
	return name, strings.TrimSpace(s[:j]), s[j:]
}

// deltaSeconds parses a delta-seconds value: -2 when malformed, saturated at 2^31.
func deltaSeconds(s string) int64 {
	if s == "" {
		return -2
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -2
		}
		n = n*10 + int64(c-'0')
		if n > deltaMax {
			n = deltaMax
		}
	}
	return n
}
