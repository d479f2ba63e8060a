package middleware

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// redirectTo answers with a redirection to location, Traefik's way: 302 for
// GET and 307 for any other method, or 301 and 308 when permanent; the body
// is the status text. The location is parsed and written back as net/url
// writes it; one that does not parse is answered 502, as Traefik does.
func redirectTo(w http.ResponseWriter, r *http.Request, location string, permanent bool) {
	u, err := url.Parse(location)
	if err != nil {
		answerStatusText(w, http.StatusBadGateway)
		return
	}
	code := http.StatusFound
	if r.Method != http.MethodGet {
		code = http.StatusTemporaryRedirect
	}
	if permanent {
		code = http.StatusMovedPermanently
		if r.Method != http.MethodGet {
			code = http.StatusPermanentRedirect
		}
	}
	h := w.Header()
	h.Set("Location", u.String())
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code))
}

// clientURL splits the URL the client asked for into Traefik's parts:
// scheme ("https" when the connection is TLS, else the absolute-form
// target's, else "http"), host and port (":8080", or "") from the
// absolute-form target's authority or else the Host field, and uri, the
// origin-form rest of the target. An IPv6 host keeps its brackets.
func clientURL(r *http.Request) (scheme, host, port, uri string) {
	scheme, uri = "http", r.RequestURI
	authority := r.Host
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if s, rest, ok := absoluteTarget(uri); ok {
		scheme = s
		i := strings.IndexAny(rest, "/?")
		if i < 0 {
			i = len(rest)
		}
		if i > 0 {
			authority = rest[:i]
		}
		uri = rest[i:]
	}
	if r.TLS != nil {
		scheme = "https"
	}
	host, port = splitAuthority(authority)
	return scheme, host, port, uri
}

// absoluteTarget recognises an http or https absolute-form request target.
func absoluteTarget(t string) (scheme, rest string, ok bool) {
	switch {
	case len(t) >= 7 && strings.EqualFold(t[:7], "http://"):
		return "http", t[7:], true
	case len(t) >= 8 && strings.EqualFold(t[:8], "https://"):
		return "https", t[8:], true
	}
	return "", "", false
}

// splitAuthority cuts host[:port]; port keeps its colon. A colon not
// followed by digits only is part of the host; an IPv6 literal keeps its
// brackets (Traefik's net.SplitHostPort drops them, and its redirect then
// names no host).
func splitAuthority(a string) (host, port string) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a, ""
	}
	for _, c := range a[i+1:] { // "[::1]": "1]" is no port
		if c < '0' || c > '9' {
			return a, ""
		}
	}
	if i+1 == len(a) {
		return a[:i], "" // an empty port is the default one (RFC 3986 §3.2.3)
	}
	return a[:i], a[i:]
}
