package middleware

import (
	"net/http"
	"regexp"
	"sync"
)

// redirectRegex is Traefik's redirectRegex: regex is matched against the
// URL the client asked for, scheme://host[:port]/path?query (scheme "https"
// on a TLS connection, else "http" or the absolute-form target's; host and
// port from the Host field, or the absolute-form target's authority, as
// sent; the path and query as sent); when it matches and
// regex.ReplaceAllString gives another URL ($1, ${name} expand), the client
// is redirected there; otherwise the request goes on. X-Forwarded-Proto is
// not consulted, as in Traefik. Options:
//
//	regex        Go regular expression, required (compiled once)
//	replacement  the redirect target template
//	permanent    301 (GET) / 308 (other methods) instead of 302 / 307
type redirectRegex struct {
	next        http.Handler
	re          *regexp.Regexp
	replacement []byte
	permanent   bool
}

func init() { register("redirectregex", buildRedirectRegex) }

func buildRedirectRegex(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	expr, _ := o.get("regex")
	if expr == "" {
		return nil, &OptionError{Option: "regex", Value: expr, Reason: "required: the expression to match the request URL with"}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, &OptionError{Option: "regex", Value: expr, Reason: err.Error()}
	}
	repl, _ := o.get("replacement")
	h := &redirectRegex{next: next, re: re, replacement: []byte(repl)}
	if h.permanent, err = parseBoolOption(o, "permanent", false); err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return h, nil
}

// urlBuffers hold the request URL being matched, so that a request that
// does not match costs no allocation.
var urlBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (h *redirectRegex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme, host, port, uri := clientURL(r)
	bp := urlBuffers.Get().(*[]byte)
	old := append(append(append(append(append((*bp)[:0], scheme...), "://"...), host...), port...), uri...)
	*bp = old
	if !h.re.Match(old) {
		urlBuffers.Put(bp)
		h.next.ServeHTTP(w, r)
		return
	}
	repl := h.re.ReplaceAll(old, h.replacement)
	same := string(repl) == string(old)
	location := string(repl)
	urlBuffers.Put(bp)
	if same {
		h.next.ServeHTTP(w, r)
		return
	}
	redirectTo(w, r, location, h.permanent)
}
