package middleware

import (
	"net/http"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// stripPrefixRegex is Traefik's stripPrefixRegex: for the first of the
// expressions whose (leftmost) match on the decoded path is non-empty and is
// a prefix of it, that match is cut as stripPrefix cuts a prefix, and added
// to X-Forwarded-Prefix. Options:
//
//	regex  comma-separated list of Go regular expressions, required
//	       (compiled once; a comma can not stand inside one, as in Traefik)
type stripPrefixRegex struct {
	next http.Handler
	res  []*regexp.Regexp
	log  *zap.Logger
}

func init() { register("stripprefixregex", buildStripPrefixRegex) }

func buildStripPrefixRegex(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	v, _ := o.get("regex")
	exprs := list(v)
	if len(exprs) == 0 {
		return nil, &OptionError{Option: "regex", Value: v, Reason: "required: at least one regular expression"}
	}
	h := &stripPrefixRegex{next: next, log: env.Logger}
	for _, e := range exprs {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, &OptionError{Option: "regex", Value: e, Reason: err.Error()}
		}
		h.res = append(h.res, re)
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return h, nil
}

func (s *stripPrefixRegex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, re := range s.res {
		prefix := re.FindString(r.URL.Path)
		if prefix == "" || !strings.HasPrefix(r.URL.Path, prefix) {
			continue
		}
		esc := r.URL.EscapedPath()
		p := ensureLeadingSlash(esc[encodedPrefixLen(esc, len(prefix)):])
		if !stripTo(w, r, p, prefix, s.log, "stripPrefixRegex") {
			return
		}
		break
	}
	s.next.ServeHTTP(w, r)
}
