package middleware

import (
	"net/http"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// replacePathRegex is Traefik's replacePathRegex: when regex matches the
// escaped path, X-Replaced-Path gets that path added and the path becomes
// regex.ReplaceAllString(path, replacement) ($1 and ${name} expand), taken
// as escaped. A result that does not decode is answered 500 and one that
// cleaning would change ("." or ".." segments, "//") 400, as Traefik does;
// a result without a leading "/" gets one (Traefik would send it as is, not
// a valid target). Options:
//
//	regex        Go regular expression, required (spaces around it trimmed)
//	replacement  spaces around it trimmed; may be empty
type replacePathRegex struct {
	next        http.Handler
	re          *regexp.Regexp
	replacement string
	log         *zap.Logger
}

func init() { register("replacepathregex", buildReplacePathRegex) }

func buildReplacePathRegex(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	expr, _ := o.get("regex")
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, &OptionError{Option: "regex", Value: expr, Reason: "required: the expression to match the path with"}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, &OptionError{Option: "regex", Value: expr, Reason: err.Error()}
	}
	repl, _ := o.get("replacement")
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return &replacePathRegex{next: next, re: re, replacement: strings.TrimSpace(repl), log: env.Logger}, nil
}

func (rp *replacePathRegex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cur := r.URL.EscapedPath()
	if rp.re.MatchString(cur) {
		r.Header.Add(replacedPathHeader, cur)
		p := ensureLeadingSlash(rp.re.ReplaceAllString(cur, rp.replacement))
		if err := setPath(r, p); err != nil {
			if ce := rp.log.Check(zap.DebugLevel, "replacePathRegex: replaced path does not decode"); ce != nil {
				ce.Write(zap.String("path", p), zap.Error(err))
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if !cleanTarget(p) {
			if ce := rp.log.Check(zap.DebugLevel, "replacePathRegex: replaced path is not clean"); ce != nil {
				ce.Write(zap.String("path", p))
			}
			answerStatusText(w, http.StatusBadRequest)
			return
		}
	}
	rp.next.ServeHTTP(w, r)
}
