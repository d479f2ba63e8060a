package cutover

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/upstream"
)

// RouteRule is one router of a service: a host and path prefix (one
// alternative of its rule) with the middlewares it attaches, in order.
type RouteRule struct {
	Router      string   `json:"router"`
	Host        string   `json:"host"`
	Path        string   `json:"path"`
	Priority    int      `json:"priority,omitempty"`
	Middlewares []string `json:"middlewares,omitempty"`
	Listener    string   `json:"listener,omitempty"` // "http" or "https" only; "" = both
	// Rule, when set, is a Traefik rule that says more than Host and
	// PathPrefix, routed as a whole (Host and Path are then empty).
	Rule string `json:"rule,omitempty"`
	// Upstream is the Traefik service of the container the router sends
	// to ("" = the main endpoint): its port, scheme and transport.
	Upstream string `json:"upstream,omitempty"`
}

// where names the router's place in a problem: its host and path, or rule.
func (rr RouteRule) where() string {
	if rr.Rule != "" {
		return rr.Rule
	}
	return rr.Host + rr.Path
}

// routeRulesOf flattens a spec's routers into route rules.
func routeRulesOf(s upstream.Spec) []RouteRule {
	var out []RouteRule
	for _, r := range s.Routers {
		listener := ""
		if len(r.Listeners) == 1 {
			listener = r.Listeners[0]
		}
		if r.Complex {
			out = append(out, RouteRule{Router: r.Name, Rule: r.Rule, Priority: r.Priority, Middlewares: r.Middlewares, Listener: listener, Upstream: r.Service})
			continue
		}
		for _, m := range r.Matches {
			out = append(out, RouteRule{Router: r.Name, Host: m.Host, Path: m.PathPrefix, Priority: r.Priority, Middlewares: r.Middlewares, Listener: listener, Upstream: r.Service})
		}
	}
	return out
}

// middlewareSet is every middleware the routable containers define, by
// name. A name two containers define differently is ambiguous: it resolves
// to nothing (as Traefik refuses it), so a router using it is not routed.
type middlewareSet struct {
	defs      map[string]middleware.Spec
	ambiguous map[string]string // name -> why
}

// collectMiddlewares gathers the definitions of ins.
func collectMiddlewares(ins []upstream.Instance) middlewareSet {
	set := middlewareSet{defs: map[string]middleware.Spec{}, ambiguous: map[string]string{}}
	owner := map[string]string{}
	sort.Slice(ins, func(i, j int) bool { return ins[i].Name < ins[j].Name })
	for _, in := range ins {
		for _, d := range in.Spec.Middlewares {
			spec := middleware.Spec{Name: d.Name, Kind: d.Kind, Options: d.Options}
			if prev, ok := set.defs[d.Name]; ok && !sameSpec(prev, spec) {
				set.ambiguous[d.Name] = fmt.Sprintf("defined differently by containers %s and %s", owner[d.Name], in.Name)
				continue
			}
			set.defs[d.Name] = spec
			owner[d.Name] = in.Name
		}
	}
	for name := range set.ambiguous {
		delete(set.defs, name)
	}
	return set
}

func sameSpec(a, b middleware.Spec) bool {
	if a.Kind != b.Kind || len(a.Options) != len(b.Options) {
		return false
	}
	for k, v := range a.Options {
		if b.Options[k] != v {
			return false
		}
	}
	return true
}

func (m middlewareSet) resolve(name string) (middleware.Spec, bool) {
	s, ok := m.defs[name]
	return s, ok
}

// key identifies a chain by what it is built from, so that an unchanged
// chain is kept across publishes (its state: verified credentials, rate
// limits) and a changed one is built anew.
func (m middlewareSet) key(names []string) string {
	var b strings.Builder
	for _, n := range names {
		s := m.defs[n]
		fmt.Fprintf(&b, "%s/%s{", n, s.Kind)
		keys := make([]string, 0, len(s.Options))
		for k := range s.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q,", k, s.Options[k])
		}
		b.WriteString("}")
	}
	return b.String()
}

// buildChain builds names, outermost first, around proxy.Upstream. The
// error names the middleware that cannot be had: defined nowhere, defined
// ambiguously, of a kind baton lacks, or with options it cannot honour.
func (m middlewareSet) buildChain(names []string, env middleware.Env) (http.Handler, error) {
	env.Resolve = m.resolve
	next := proxy.Upstream
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		if why, ok := m.ambiguous[n]; ok {
			return nil, fmt.Errorf("middleware %s is %s", n, why)
		}
		spec, ok := m.defs[n]
		if !ok {
			return nil, fmt.Errorf("middleware %s is defined by no routable container", n)
		}
		h, err := middleware.Build(spec, env, next)
		if err != nil {
			return nil, err
		}
		next = h
	}
	return next, nil
}

// endpointOf is a container as the switchboard routes to it: its main
// endpoint and each of its Traefik services.
func endpointOf(in upstream.Instance) Endpoint {
	ep := Endpoint{ID: in.ID, Addr: in.Addr, Version: in.Version, Scheme: in.Spec.Scheme, Transport: in.Spec.Transport}
	if len(in.Spec.Endpoints) > 0 {
		ep.Upstreams = make(map[string]proxy.Endpoint, len(in.Spec.Endpoints))
		for name := range in.Spec.Endpoints {
			if addr, scheme, transport, ok := in.EndpointAddr(name); ok {
				ep.Upstreams[name] = proxy.Endpoint{Addr: addr, Scheme: scheme, Transport: transport}
			}
		}
	}
	return ep
}
