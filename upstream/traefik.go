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
// It fails closed: a label baton cannot honour and whose loss would serve
// something Traefik would not (a middleware, which may be authentication or
// an IP allow list; a TCP or UDP router; a Traefik v1 label; an entrypoint it
// does not know; an upstream scheme it cannot speak; a path template) is an
// error, so the container is not routed and the problem names it. Labels
// whose loss changes nothing at the door are returned as ignored.
func applyTraefik(s *Spec, container string, labels map[string]string) (ignored []string, errs []error) {
	var paths []string
	ports := map[string]string{} // service name -> port label value
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
		switch {
		case lk == "traefik.docker.network":
			s.Network = v
		case isRouterKey(parts, "rule"):
			matches, err := ParseRule(v)
			if err != nil {
				bad(err.Error())
				continue
			}
			for _, m := range matches {
				s.Hosts = appendUnique(s.Hosts, m.Host)
				paths = appendUnique(paths, m.PathPrefix)
			}
		case isRouterKey(parts, "tls"):
			if b, err := strconv.ParseBool(v); err != nil {
				bad("want true or false")
			} else {
				s.PlainHTTP = !b
			}
		case isRouterKey(parts, "entrypoints"):
			// Checked by refusedTraefikLabel: web/http and websecure/https are
			// baton's two listeners.
		case isRouterKey(parts, "tls", "certresolver"):
			// Honoured by baton's own ACME issuer (tls.ca); the resolver's name has no meaning here.
		case len(parts) >= 6 && parts[1] == "http" && parts[2] == "services" && parts[4] == "loadbalancer":
			key := strings.Join(parts[5:], ".")
			if key == "server.port" {
				ports[parts[3]] = v
			}
			if !applyTraefikService(s, key, v, bad) {
				ignored = append(ignored, k)
			}
		default:
			ignored = append(ignored, k)
		}
	}
	if len(distinct(ports)) > 1 {
		errs = append(errs, &LabelError{Container: container, Label: "traefik.http.services.*.loadbalancer.server.port", Value: joinPorts(ports),
			Reason: "several services on different ports: baton routes one port per container so far, and would send every router to one of them"})
	}
	switch len(paths) {
	case 0:
	case 1:
		s.Path = paths[0]
	default:
		errs = append(errs, &LabelError{Container: container, Label: "traefik.http.routers.*.rule", Value: strings.Join(paths, ", "),
			Reason: "rules route several path prefixes; baton routes one path per container (split it into services)"})
	}
	return ignored, errs
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
	case isRouterKey(parts, "middlewares"):
		return "middleware " + strings.TrimSpace(v) + " is not implemented by baton yet: the router would be served without it (authentication, IP allow lists, headers); the container is not routed"
	case isRouterKey(parts, "entrypoints"):
		for _, ep := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(ep)) {
			case "web", "http", "websecure", "https":
			default:
				return "entrypoint " + strings.TrimSpace(ep) + " is not one of baton's listeners (web/http on listen.http, websecure/https on listen.https); the container is not routed"
			}
		}
	case len(parts) == 7 && parts[1] == "http" && parts[2] == "services" && parts[4] == "loadbalancer" && parts[5] == "server" && parts[6] == "scheme":
		if !strings.EqualFold(strings.TrimSpace(v), "http") {
			return "scheme " + v + ": baton speaks plain HTTP/1.1 to upstreams so far (no https, no h2c); the container is not routed"
		}
	case len(parts) >= 6 && parts[1] == "http" && parts[2] == "services" && parts[4] == "loadbalancer" && parts[5] == "serverstransport":
		return "a serversTransport (upstream TLS settings) is not honoured by baton; the container is not routed"
	}
	return ""
}

func distinct(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[strings.TrimSpace(v)] = true
	}
	return out
}

func joinPorts(m map[string]string) string {
	var out []string
	for _, name := range sortedKeys(m) {
		out = append(out, name+"="+m[name])
	}
	return strings.Join(out, ", ")
}

// applyTraefikService handles traefik.http.services.<s>.loadbalancer.<key>;
// false means the key is not one baton honours.
func applyTraefikService(s *Spec, key, v string, bad func(string)) bool {
	var err error
	switch key {
	case "server.port":
		err = setPort(&s.Port, v)
	case "healthcheck.path":
		err = setPath(&s.Health.Path, v)
	case "healthcheck.interval":
		err = setDuration(&s.Health.Interval, v)
	case "healthcheck.timeout":
		err = setDuration(&s.Health.Timeout, v)
	case "sticky.cookie.name":
		err = setCookie(&s.StickyCookie, v)
	case "sticky.cookie":
		var on bool
		if err = setBool(&on, v); err == nil && on && s.StickyCookie == "" {
			s.StickyCookie = "baton_sticky"
		}
	default:
		return false
	}
	if err != nil {
		bad(err.Error())
	}
	return true
}

// RuleMatch is one alternative of a Traefik rule: a host (or "*") and a path prefix.
type RuleMatch struct {
	Host       string
	PathPrefix string
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
