package middleware

import (
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// stripPrefix is Traefik's stripPrefix: the first of prefixes that the
// decoded path starts with is cut from it (and the same decoded bytes from
// the escaped path), X-Forwarded-Prefix gets the prefix added, and the
// upstream target follows. A stripped path that cleaning would change ("."
// or ".." segments, "//") is answered 400, as Traefik does. Options:
//
//	prefixes    comma-separated list, required (matched in order, the first wins)
//	forceslash  deprecated in Traefik v3 (default false): true keeps the
//	            v2 rule, the result always starts with "/" and one "/"
//	            after the prefix is dropped
type stripPrefix struct {
	next       http.Handler
	prefixes   []string
	forceSlash bool
	log        *zap.Logger
}

const forwardedPrefixHeader = "X-Forwarded-Prefix"

func init() { register("stripprefix", buildStripPrefix) }

func buildStripPrefix(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	v, _ := o.get("prefixes")
	prefixes := list(v)
	if len(prefixes) == 0 {
		return nil, &OptionError{Option: "prefixes", Value: v, Reason: "required: at least one path prefix"}
	}
	_, deprecated := o.spec.Options["forceslash"]
	forceSlash, err := parseBoolOption(o, "forceslash", false)
	if err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	if deprecated {
		env.Logger.Warn("forceSlash is deprecated in Traefik v3; remove it", zap.String("middleware", s.Name))
	}
	return &stripPrefix{next: next, prefixes: prefixes, forceSlash: forceSlash, log: env.Logger}, nil
}

func (s *stripPrefix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, prefix := range s.prefixes {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			continue
		}
		esc := r.URL.EscapedPath()
		rest := esc[encodedPrefixLen(esc, len(prefix)):]
		var p string
		if s.forceSlash {
			p = "/" + strings.TrimPrefix(rest, "/")
		} else {
			p = ensureLeadingSlash(rest)
		}
		if !stripTo(w, r, p, prefix, s.log, "stripPrefix") {
			return
		}
		break
	}
	s.next.ServeHTTP(w, r)
}

// stripTo sets the stripped path p and records prefix in X-Forwarded-Prefix,
// or answers 400 when p is not a clean path (Traefik's rule); false then.
func stripTo(w http.ResponseWriter, r *http.Request, p, prefix string, log *zap.Logger, kind string) bool {
	if !cleanTarget(p) || setPath(r, p) != nil {
		if ce := log.Check(zap.DebugLevel, kind+": stripped path is not clean"); ce != nil {
			ce.Write(zap.String("path", p))
		}
		answerStatusText(w, http.StatusBadRequest)
		return false
	}
	r.Header.Add(forwardedPrefixHeader, prefix)
	return true
}
