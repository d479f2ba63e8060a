package upstream

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/batonproxy/baton/proxy/rule"
)

// applyTraefik reads the Traefik labels baton honours, so a Compose file
// written for Traefik routes the same way. baton.* labels are applied after and
// win. Keys are matched case-insensitively, as Traefik's label parser matches
// them (`loadBalancer.server.port`, `entryPoints`, `certResolver`).
//
// Each router keeps its own rule, middlewares and priority (Spec.Routers);
// the middlewares a container defines are collected (Spec.Middlewares) and
// resolved, across containers, when routes are published.
//
// It fails closed: a label baton cannot honour and whose loss would serve
// something Traefik would not (a middleware of another provider; TLS
// options; a TCP or UDP router; a Traefik v1 label; an entrypoint it does not
// know; an upstream scheme it cannot speak; a path template) is an error, so
// the container is not routed and the problem names it. Labels whose loss
// changes nothing at the door are returned as ignored.
func applyTraefik(s *Spec, container string, labels map[string]string, o ParseOptions) (ignored []string, errs []error) {
	routers := map[string]*Router{}
	router := func(name string) *Router {
		r := routers[name]
		if r == nil {
			r = &Router{Name: name}
			routers[name] = r
		}
		return r
	}
	routerService := map[string]string{}    // router -> the service it names
	services := map[string][]serviceLabel{} // service -> its load-balancer labels
	defs := map[string]*MiddlewareDef{}
	tlsOnly := map[string]bool{} // routers with tls or a certresolver
	for _, k := range sortedKeys(labels) {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "traefik.") || lk == "traefik.enable" {
			continue
		}
		v := labels[k]
		bad := func(reason string) {
			errs = append(errs, &LabelError{Container: container, Label: k, Value: v, Reason: reason})
		}
		parts := strings.Split(lk, ".")
		if reason := refusedTraefikLabel(parts, v); reason != "" {
			bad(reason)
			continue
		}
		if len(parts) >= 5 && parts[1] == "http" && parts[2] == "routers" {
			router(parts[3]) // any of its labels makes a router (Traefik's rule)
		}
		switch {
		case lk == "traefik.docker.network":
			s.Network = v
		case isRouterKey(parts, "rule"):
			r := router(parts[3])
			if matches, err := ParseRule(v); err == nil {
				r.Rule, r.Matches = v, matches
				continue
			}
			// More than Host and PathPrefix (HostRegexp, Path, Header,
			// Method, Query, ClientIP, negation): the rule itself goes to
			// the route table, compiled by proxy/rule.
			hosts, err := complexRuleHosts(v)
			if err != nil {
				bad(err.Error())
				continue
			}
			r.Rule, r.Complex, r.Hosts = v, true, hosts
		case isRouterKey(parts, "priority"):
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				bad("want a whole number")
				continue
			}
			router(parts[3]).Priority = n
		case isRouterKey(parts, "middlewares"):
			names, reason := middlewareRefs(v)
			if reason != "" {
				bad(reason)
				continue
			}
			router(parts[3]).Middlewares = names
		case isRouterKey(parts, "service"):
			routerService[parts[3]] = strings.TrimSpace(v)
		case isRouterKey(parts, "entrypoints"):
			// refusedTraefikLabel let only baton's two listeners through.
			router(parts[3]).Listeners = listenersOf(v)
		case isRouterKey(parts, "tls"):
			if b, err := strconv.ParseBool(v); err != nil {
				bad("want true or false")
			} else {
				s.PlainHTTP = !b
				tlsOnly[parts[3]] = b
			}
		case isRouterKey(parts, "tls", "certresolver"):
			// Honoured by baton's own ACME issuer (tls.ca); the resolver's
			// name has no meaning here. As in Traefik, it makes the router
			// answer TLS connections only.
			tlsOnly[parts[3]] = true
		case len(parts) >= 6 && parts[1] == "http" && parts[2] == "middlewares":
			name, kind := parts[3], parts[4]
			d := defs[name]
			if d == nil {
				d = &MiddlewareDef{Name: name, Kind: kind, Options: map[string]string{}}
				defs[name] = d
			}
			if d.Kind != kind {
				bad("middleware " + name + " is defined as both " + d.Kind + " and " + kind)
				continue
			}
			d.Options[strings.Join(parts[5:], ".")] = v
		case len(parts) == 5 && parts[1] == "http" && parts[2] == "middlewares":
			// A middleware set by its kind alone (compress=true): the value
			// goes under the empty option, for the kind to judge.
			d := defs[parts[3]]
			if d == nil {
				d = &MiddlewareDef{Name: parts[3], Kind: parts[4], Options: map[string]string{}}
				defs[parts[3]] = d
			}
			if d.Kind != parts[4] {
				bad("middleware " + parts[3] + " is defined as both " + d.Kind + " and " + parts[4])
				continue
			}
			d.Options[""] = v
		case len(parts) >= 6 && parts[1] == "http" && parts[2] == "services" && parts[4] == "loadbalancer":
			// Read once every router is known: which service is the main
			// endpoint decides where its health check applies.
			services[parts[3]] = append(services[parts[3]], serviceLabel{key: strings.Join(parts[5:], "."), label: k, value: v})
		default:
			if !ignorableTraefikLabel(parts, v) {
				bad("a Traefik label baton does not honour; refused rather than routed without it")
				continue
			}
			ignored = append(ignored, k)
		}
	}
	for _, name := range sortedKeys(defs) {
		s.Middlewares = append(s.Middlewares, *defs[name])
	}
	// With baton.host the container's routing is baton's; a Traefik router
	// without a rule then only lends its tls setting.
	for name, on := range tlsOnly {
		if r := routers[name]; r != nil && on {
			// Traefik: a router with TLS matches TLS connections only.
			r.Listeners = []string{"https"}
		}
	}
	_, batonRouted := labels["baton.host"]
	errs = append(errs, s.setRouters(container, routers, batonRouted)...)
	ign, serr := s.setEndpoints(container, services, routerService, o)
	return append(ignored, ign...), append(errs, serr...)
}

// setRouters keeps the routers that have a rule (one without is Traefik's
// default rule, Host of the container's name, which names no real host) and
// derives the spec's hosts and path from them.
func (s *Spec) setRouters(container string, routers map[string]*Router, batonRouted bool) (errs []error) {
	var paths []string
	for _, name := range sortedKeys(routers) {
		r := routers[name]
		if r.Rule == "" && batonRouted {
			continue
		}
		if r.Rule == "" {
			// Traefik would serve it at its default rule, Host of the
			// container's normalised name: a name no client uses, and one
			// baton will not guess. Refused, so the operator sets a rule.
			errs = append(errs, &LabelError{Container: container, Label: "traefik.http.routers." + name + ".rule",
				Reason: "the router has no rule: Traefik's default rule (Host of the container's name) is not applied by baton; set a rule"})
			continue
		}
		if r.Priority == 0 {
			r.Priority = len(r.Rule)
		}
		s.Routers = append(s.Routers, *r)
		for _, h := range r.Hosts {
			s.Hosts = appendUnique(s.Hosts, h)
		}
		for _, m := range r.Matches {
			s.Hosts = appendUnique(s.Hosts, m.Host)
			paths = appendUnique(paths, m.PathPrefix)
		}
	}
	if len(paths) == 1 {
		s.Path = paths[0]
	}
	return errs
}

// listenersOf maps Traefik's conventional entrypoint names to baton's
// listeners: web/http is listen.http, websecure/https is listen.https.
func listenersOf(v string) []string {
	var out []string
	for _, ep := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(ep)) {
		case "web", "http":
			out = appendUnique(out, "http")
		case "websecure", "https":
			out = appendUnique(out, "https")
		}
	}
	if len(out) == 2 {
		return nil
	}
	return out
}

// middlewareRefs reads a router's middlewares list. name and name@docker are
// resolved among the middlewares containers define; another provider
// (@file, @kubernetescrd, @internal) is one baton cannot read, so the router
// is refused rather than served without it.
func middlewareRefs(v string) (names []string, reason string) {
	for _, ref := range strings.Split(v, ",") {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		name, provider, hasProvider := strings.Cut(ref, "@")
		if hasProvider && provider != "docker" {
			return nil, "middleware " + ref + ": baton reads middlewares from Docker labels only (no " + provider + " provider); the router would be served without it, so the container is not routed"
		}
		names = append(names, strings.ToLower(name))
	}
	return names, ""
}

// isRouterKey matches traefik.http.routers.<name>.<rest...> (lower case).
func isRouterKey(parts []string, rest ...string) bool {
	if len(parts) != 4+len(rest) || parts[1] != "http" || parts[2] != "routers" {
		return false
	}
	for i, r := range rest {
		if parts[4+i] != r {
			return false
		}
	}
	return true
}

// refusedTraefikLabel says why baton must not route a container that has
// this label (lower-case key parts), or "" when it may.
func refusedTraefikLabel(parts []string, v string) string {
	switch {
	case len(parts) >= 2 && (parts[1] == "tcp" || parts[1] == "udp"):
		return "TCP and UDP routers are not served by baton (it routes HTTP); the container is not routed"
	case len(parts) >= 2 && (parts[1] == "frontend" || parts[1] == "backend" || parts[1] == "port" || parts[1] == "protocol" || strings.HasPrefix(parts[1], "backend")):
		return "a Traefik v1 label: baton reads Traefik v2/v3 labels (traefik.http.routers.*, traefik.http.services.*); the container is not routed"
	case isRouterKey(parts, "tls", "options"):
		return "TLS options (minimum versions, client certificates) are not honoured by baton; the container is not routed"
	case isRouterKey(parts, "entrypoints"):
		for _, ep := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(ep)) {
			case "web", "http", "websecure", "https":
			default:
				return "entrypoint " + strings.TrimSpace(ep) + " is not one of baton's listeners (web/http on listen.http, websecure/https on listen.https); the container is not routed"
			}
		}
	}
	return ""
}

// ignorableTraefikLabel: a label whose loss changes nothing at the door
// (observability, certificate domains, health-check details, response
// flushing, cookie attributes, provider settings); listed as ignored. Any
// other label baton does not honour (weighted or mirrored services,
// passHostHeader=false, server URLs, a key Traefik would reject) refuses the
// container.
func ignorableTraefikLabel(parts []string, v string) bool {
	switch {
	case len(parts) < 2 || parts[1] != "http":
		return len(parts) >= 2 && parts[1] == "docker" // traefik.docker.* provider settings
	case len(parts) >= 5 && parts[2] == "routers" && (parts[4] == "observability" || len(parts) >= 6 && parts[4] == "tls" && strings.HasPrefix(parts[5], "domains")):
		return true
	case len(parts) >= 6 && parts[2] == "services" && parts[4] == "loadbalancer":
		switch key := strings.Join(parts[5:], "."); {
		case strings.HasPrefix(key, "healthcheck."), strings.HasPrefix(key, "sticky.cookie."), key == "responseforwarding.flushinterval":
			return true
		case key == "passhostheader":
			return strings.EqualFold(strings.TrimSpace(v), "true") // baton always passes the Host
		}
	}
	return false
}

// RuleMatch is one alternative of a Traefik rule: a host (or "*") and a path prefix.
type RuleMatch struct {
	Host       string
	PathPrefix string
}

// complexRuleHosts checks a rule proxy/rule compiles and returns the literal
// hosts it requires (for certificates and status), none when it matches by
// HostRegexp or without a Host.
func complexRuleHosts(src string) ([]string, error) {
	r, err := rule.Parse(src)
	if err != nil {
		return nil, err
	}
	ix := r.Index()
	var hosts []string
	for _, h := range ix.Hosts {
		if !strings.HasSuffix(h, ".") && checkHost(h) == nil {
			hosts = appendUnique(hosts, h)
		}
	}
	return hosts, nil
}

// ParseRule reads the subset of Traefik's rule language baton routes
// container labels by: Host(`a`[, `b`...]), PathPrefix(`/p`), &&, || and
// parentheses. The rule is parsed by proxy/rule (Traefik v3's language, so
// its errors are Traefik's) and expanded to its alternatives; a PathPrefix
// without Host matches any host. A rule that says more (another matcher, a
// negation) is refused: the labels do not carry rules to the route table yet.
func ParseRule(src string) ([]RuleMatch, error) {
	r, err := rule.Parse(src)
	if err != nil {
		return nil, err
	}
	alts, err := r.HostPaths()
	if err != nil {
		return nil, fmt.Errorf("rule %q: %v: baton routes Traefik labels by Host and PathPrefix only so far", src, err)
	}
	out := make([]RuleMatch, 0, len(alts))
	for _, a := range alts {
		if err := checkHost(a.Host); err != nil {
			return nil, fmt.Errorf("rule %q: host %q: %v", src, a.Host, err)
		}
		out = append(out, RuleMatch{Host: a.Host, PathPrefix: a.PathPrefix})
	}
	return out, nil
}
