package middleware

import (
	"errors"
	"net/http"
	"strings"
)

// chain is Traefik's chain: the middlewares named, resolved through
// env.Resolve, wrapped in order around next, the first outermost (it sees
// the request first and the response last). A name defined nowhere, a
// member that does not build, or a chain that contains itself (directly or
// through other chains) is an error naming it. Options:
//
//	middlewares  comma-separated names (name or name@provider, as the router
//	             references them); an empty chain is next itself, as in Traefik
func init() { register("chain", buildChain) }

// maxChainDepth bounds chains of chains, in case names resolve to the same
// middleware under spellings the cycle check does not see as equal.
const maxChainDepth = 32

func buildChain(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	v, _ := o.get("middlewares")
	names := list(v)
	if err := o.unknown(); err != nil {
		return nil, err
	}
	if len(names) > 0 && env.Resolve == nil {
		return nil, errors.New("chain: the edge gave no way to resolve middleware names")
	}
	if err := chainCycle(env, []string{s.Name}, names, v); err != nil {
		return nil, err
	}
	specs := make([]Spec, len(names))
	for i, name := range names {
		specs[i], _ = env.Resolve(name) // found by chainCycle
	}
	h := next
	for i := len(specs) - 1; i >= 0; i-- {
		var err error
		if h, err = Build(specs[i], env, h); err != nil {
			return nil, &OptionError{Option: "middlewares", Value: names[i], Reason: err.Error()}
		}
	}
	return h, nil
}

// chainCycle walks the chains below path (the chain being built and those
// it is nested in) and fails on a name defined nowhere or on a chain that
// leads back to one on the path.
func chainCycle(env Env, path, names []string, value string) error {
	if len(path) > maxChainDepth {
		return &OptionError{Option: "middlewares", Value: value, Reason: "chains nested deeper than 32: " + strings.Join(path, " -> ")}
	}
	for _, name := range names {
		spec, ok := env.Resolve(name)
		if !ok {
			return &OptionError{Option: "middlewares", Value: name, Reason: "no middleware of that name is defined (" + strings.Join(path, " -> ") + ")"}
		}
		if spec.Kind != "chain" {
			continue
		}
		for _, p := range path {
			if p == name || p == spec.Name {
				return &OptionError{Option: "middlewares", Value: name, Reason: "a chain may not contain itself: " + strings.Join(path, " -> ") + " -> " + name}
			}
		}
		if err := chainCycle(env, append(path[:len(path):len(path)], spec.Name), list(spec.Options["middlewares"]), value); err != nil {
			return err
		}
	}
	return nil
}
