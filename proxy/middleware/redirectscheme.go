package middleware

import (
	"net/http"
	"strconv"
)

// redirectScheme is Traefik's redirectScheme: a request whose scheme or port
// is not the target's is redirected to scheme://host[:port]/same/target; one
// already there goes on. The client's scheme is "https" on a TLS connection
// and "http" otherwise (an http(s) absolute-form target names its own).
// Traefik also believes an X-Forwarded-Proto (its entrypoint having dropped
// an untrusted peer's); baton decides from the connection only, so behind a
// TLS-terminating proxy in front of baton the middleware would redirect
// every request. The client's port is dropped when it is the default of its
// scheme, the target's when it is the default of the target scheme.
// Options:
//
//	scheme     required; lower case, as RFC 3986 (a scheme Traefik would
//	           never find a request on, e.g. "HTTPS", loops: refused)
//	port       1..65535; none: the redirect names no port
//	permanent  301 (GET) / 308 (other methods) instead of 302 / 307
type redirectScheme struct {
	next      http.Handler
	scheme    string
	port      string // ":8443", or "" for none or the scheme's default
	permanent bool
}

func init() { register("redirectscheme", buildRedirectScheme) }

func buildRedirectScheme(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	scheme, _ := o.get("scheme")
	if scheme == "" {
		return nil, &OptionError{Option: "scheme", Value: scheme, Reason: "required: the scheme to redirect to"}
	}
	if !validScheme(scheme) {
		return nil, &OptionError{Option: "scheme", Value: scheme, Reason: "not a lower-case URI scheme (RFC 3986 §3.1)"}
	}
	h := &redirectScheme{next: next, scheme: scheme}
	if n, set, err := parseIntOption(o, "port", 1, 65535); err != nil {
		return nil, err
	} else if set && !(scheme == "http" && n == 80 || scheme == "https" && n == 443) {
		h.port = ":" + strconv.FormatInt(n, 10)
	}
	var err error
	if h.permanent, err = parseBoolOption(o, "permanent", false); err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return h, nil
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func (h *redirectScheme) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme, host, port, uri := clientURL(r)
	if scheme == "http" && port == ":80" || scheme == "https" && port == ":443" {
		port = ""
	}
	if scheme == h.scheme && port == h.port {
		h.next.ServeHTTP(w, r)
		return
	}
	redirectTo(w, r, h.scheme+"://"+host+h.port+uri, h.permanent)
}
