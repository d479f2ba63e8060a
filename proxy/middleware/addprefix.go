package middleware

import "net/http"

// addPrefix is Traefik's addPrefix: prefix is put in front of the path
// (escaped and decoded alike) before the request goes on. Options:
//
//	prefix  required; it must read the same escaped and decoded (no '%',
//	        space, '?', '#' or other byte a path carries escaped): baton
//	        refuses one that Traefik would put in the two forms differently
type addPrefix struct {
	next   http.Handler
	prefix string
}

func init() { register("addprefix", buildAddPrefix) }

func buildAddPrefix(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	prefix, _ := o.get("prefix")
	if prefix == "" {
		return nil, &OptionError{Option: "prefix", Value: prefix, Reason: "required: the prefix to add"}
	}
	if !escapeInvariant(prefix) {
		return nil, &OptionError{Option: "prefix", Value: prefix, Reason: "holds a byte a path must carry %-escaped (or a '%'); write a plain path"}
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return &addPrefix{next: next, prefix: prefix}, nil
}

func (a *addPrefix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := setPath(r, ensureLeadingSlash(a.prefix+r.URL.EscapedPath())); err != nil {
		answerStatusText(w, http.StatusBadRequest)
		return
	}
	a.next.ServeHTTP(w, r)
}
