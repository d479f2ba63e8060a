package middleware

import (
	"net/http"
	"net/url"
)

// replacePath is Traefik's replacePath: the path becomes path (taken as
// escaped, as Traefik sets it as RawPath), and X-Replaced-Path gets the
// original escaped path added. Options:
//
//	path  required; must start with "/" and be a valid escaped path (Traefik
//	      answers 500 to every request when it does not decode; baton
//	      refuses the middleware instead)
type replacePath struct {
	next http.Handler
	path string
}

const replacedPathHeader = "X-Replaced-Path"

func init() { register("replacepath", buildReplacePath) }

func buildReplacePath(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	p, _ := o.get("path")
	switch {
	case p == "":
		return nil, &OptionError{Option: "path", Value: p, Reason: "required: the path to send upstream"}
	case p[0] != '/':
		return nil, &OptionError{Option: "path", Value: p, Reason: `must start with "/"`}
	case !validEscapedPath(p):
		return nil, &OptionError{Option: "path", Value: p, Reason: "not a valid path: only path characters and well-formed %XX escapes"}
	}
	if _, err := url.PathUnescape(p); err != nil {
		return nil, &OptionError{Option: "path", Value: p, Reason: err.Error()}
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return &replacePath{next: next, path: p}, nil
}

func (rp *replacePath) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Header.Add(replacedPathHeader, r.URL.EscapedPath())
	if err := setPath(r, rp.path); err != nil {
		answerStatusText(w, http.StatusInternalServerError)
		return
	}
	rp.next.ServeHTTP(w, r)
}
