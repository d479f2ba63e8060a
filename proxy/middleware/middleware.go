package middleware

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"

	"go.uber.org/zap"
)

// Spec is one middleware as its labels define it, e.g. the labels
// traefik.http.middlewares.auth.basicauth.users=... give
// Spec{Name: "auth", Kind: "basicauth", Options: {"users": "..."}}.
// Kind and option keys are lower case (Traefik's label keys are matched
// case-insensitively); option keys are dotted paths below the kind
// ("ipstrategy.depth", "customrequestheaders.x-foo").
type Spec struct {
	Name    string
	Kind    string
	Options map[string]string
}

// Env is what middlewares need from the edge around them.
type Env struct {
	// ClientIP is the client's address as the edge resolves it (the peer, or
	// per proxy.trusted_proxies). ipAllowList and rateLimit use it.
	ClientIP func(*http.Request) netip.Addr
	// Resolve finds another middleware by name (chain, and name@docker
	// references); ok is false when it is defined nowhere.
	Resolve func(name string) (Spec, bool)
	Logger  *zap.Logger
}

// builder makes a middleware of one kind around next.
type builder func(s Spec, env Env, next http.Handler) (http.Handler, error)

var builders = map[string]builder{}

// register adds a kind; each kind's file calls it from init.
func register(kind string, b builder) {
	if _, dup := builders[kind]; dup {
		panic("middleware: kind registered twice: " + kind)
	}
	builders[kind] = b
}

// Known reports whether baton implements the kind (lower case).
func Known(kind string) bool {
	_, ok := builders[kind]
	return ok
}

// Kinds lists the kinds baton implements, sorted.
func Kinds() []string {
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Build makes the middleware s around next. The error names the middleware,
// its kind and the option at fault.
func Build(s Spec, env Env, next http.Handler) (http.Handler, error) {
	b, ok := builders[s.Kind]
	if !ok {
		return nil, fmt.Errorf("middleware %s: kind %s is not implemented by baton", s.Name, s.Kind)
	}
	if env.Logger == nil {
		env.Logger = zap.NewNop()
	}
	h, err := b(s, env, next)
	if err != nil {
		return nil, fmt.Errorf("middleware %s (%s): %w", s.Name, s.Kind, err)
	}
	return h, nil
}

// OptionError names an option whose value is wrong.
type OptionError struct {
	Option, Value, Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("option %s=%q: %s", e.Option, e.Value, e.Reason)
}

// options reads a Spec's options and remembers which were used, so that an
// option baton does not know is an error rather than silently dropped.
type options struct {
	spec Spec
	used map[string]bool
}

func newOptions(s Spec) *options { return &options{spec: s, used: map[string]bool{}} }

// get returns the option key (lower case) and whether it is set.
func (o *options) get(key string) (string, bool) {
	v, ok := o.spec.Options[key]
	if ok {
		o.used[key] = true
	}
	return v, ok
}

// prefixed returns every option below prefix ("customrequestheaders."), by
// the rest of its key.
func (o *options) prefixed(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range o.spec.Options {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			o.used[k] = true
			out[rest] = v
		}
	}
	return out
}

// unknown fails on an option no get or prefixed call asked for.
func (o *options) unknown() error {
	var left []string
	for k := range o.spec.Options {
		if !o.used[k] {
			left = append(left, k)
		}
	}
	if len(left) == 0 {
		return nil
	}
	sort.Strings(left)
	return &OptionError{Option: left[0], Value: o.spec.Options[left[0]], Reason: "not an option baton implements for " + o.spec.Kind}
}

// list splits a comma-separated option value, trimming spaces, dropping empties.
func list(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
