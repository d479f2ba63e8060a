package upstream

import (
	"fmt"
	"strconv"
	"strings"
)

// applyTraefik reads the Traefik labels baton honours, so a Compose file
// written for Traefik routes the same way. baton.* labels are applied after and
// win. Traefik labels baton does not honour are returned as ignored.
func applyTraefik(s *Spec, container string, labels map[string]string) (ignored []string, errs []error) {
	var paths []string
	for _, k := range sortedKeys(labels) {
		if !strings.HasPrefix(k, "traefik.") || k == "traefik.enable" {
			continue
		}
		v := labels[k]
		bad := func(reason string) {
			errs = append(errs, &LabelError{Container: container, Label: k, Value: v, Reason: reason})
		}
		parts := strings.Split(k, ".")
		switch {
		case k == "traefik.docker.network":
			s.Network = v
		case len(parts) == 5 && parts[1] == "http" && parts[2] == "routers" && parts[4] == "rule":
			matches, err := ParseRule(v)
			if err != nil {
				bad(err.Error())
				continue
			}
			for _, m := range matches {
				s.Hosts = appendUnique(s.Hosts, m.Host)
				paths = appendUnique(paths, m.PathPrefix)
			}
		case len(parts) == 5 && parts[1] == "http" && parts[2] == "routers" && parts[4] == "tls":
			if b, err := strconv.ParseBool(v); err != nil {
				bad("want true or false")
			} else {
				s.PlainHTTP = !b
			}
		case len(parts) == 6 && parts[1] == "http" && parts[2] == "routers" && parts[4] == "tls" && parts[5] == "certresolver":
			// Honoured by baton's own ACME issuer (tls.ca); the resolver's name has no meaning here.
		case len(parts) >= 6 && parts[1] == "http" && parts[2] == "services" && parts[4] == "loadbalancer":
			if !applyTraefikService(s, strings.Join(parts[5:], "."), v, bad) {
				ignored = append(ignored, k)
			}
		default:
			ignored = append(ignored, k)
		}
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

// ParseRule reads the subset of Traefik's rule language baton routes by:
// Host(`a`[, `b`...]), PathPrefix(`/p`), &&, || and parentheses. The rule is
// expanded to its alternatives; a PathPrefix without Host matches any host.
func ParseRule(rule string) ([]RuleMatch, error) {
	p := &ruleParser{src: rule}
	p.next()
	alts, err := p.expr()
	if err != nil {
		return nil, fmt.Errorf("rule %q: %v", rule, err)
	}
	if p.tok.kind != tokEOF {
		return nil, fmt.Errorf("rule %q: unexpected %q at offset %d", rule, p.tok.text, p.tok.pos)
	}
	out := make([]RuleMatch, 0, len(alts))
	for _, a := range alts {
		m := RuleMatch{Host: a.host, PathPrefix: a.path}
		if m.Host == "" {
			m.Host = "*"
		}
		if m.PathPrefix == "" {
			m.PathPrefix = "/"
		}
		if err := checkHost(m.Host); err != nil {
			return nil, fmt.Errorf("rule %q: host %q: %v", rule, m.Host, err)
		}
		out = append(out, m)
	}
	return out, nil
}

type alt struct{ host, path string }

const maxAlternatives = 64

type ruleParser struct {
	src   string
	pos   int
	tok   token
	depth int
}

func (p *ruleParser) expr() ([]alt, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokOr {
		p.next()
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = append(left, right...)
		if len(left) > maxAlternatives {
			return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
		}
	}
	return left, nil
}

func (p *ruleParser) term() ([]alt, error) {
	left, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokAnd {
		p.next()
		right, err := p.factor()
		if err != nil {
			return nil, err
		}
		var out []alt
		for _, a := range left {
			for _, b := range right {
				m, err := mergeAlt(a, b)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
				if len(out) > maxAlternatives {
					return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
				}
			}
		}
		left = out
	}
	return left, nil
}

func mergeAlt(a, b alt) (alt, error) {
	if a.host != "" && b.host != "" && a.host != b.host {
		return alt{}, fmt.Errorf("Host(%q) && Host(%q) can never match", a.host, b.host)
	}
	if a.path != "" && b.path != "" && a.path != b.path {
		return alt{}, fmt.Errorf("PathPrefix(%q) && PathPrefix(%q): baton routes one path prefix", a.path, b.path)
	}
	if a.host == "" {
		a.host = b.host
	}
	if a.path == "" {
		a.path = b.path
	}
	return a, nil
}

func (p *ruleParser) factor() ([]alt, error) {
	switch p.tok.kind {
	case tokLParen:
		if p.depth++; p.depth > 32 {
			return nil, fmt.Errorf("parentheses nested too deep")
		}
		p.next()
		alts, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, fmt.Errorf("missing ) at offset %d", p.tok.pos)
		}
		p.depth--
		p.next()
		return alts, nil
	case tokIdent:
		name := p.tok.text
		p.next()
		if p.tok.kind != tokLParen {
			return nil, fmt.Errorf("%s: want ( at offset %d", name, p.tok.pos)
		}
		p.next()
		var args []string
		for p.tok.kind == tokString {
			args = append(args, p.tok.text)
			p.next()
			if p.tok.kind == tokComma {
				p.next()
			}
		}
		if p.tok.kind != tokRParen {
			return nil, fmt.Errorf("%s: want a quoted argument or ) at offset %d", name, p.tok.pos)
		}
		p.next()
		if len(args) == 0 {
			return nil, fmt.Errorf("%s() needs an argument", name)
		}
		switch name {
		case "Host":
			var out []alt
			for _, h := range args {
				out = append(out, alt{host: strings.ToLower(h)})
			}
			return out, nil
		case "PathPrefix":
			if len(args) != 1 || !strings.HasPrefix(args[0], "/") {
				return nil, fmt.Errorf("PathPrefix takes one path starting with /")
			}
			return []alt{{path: args[0]}}, nil
		}
		return nil, fmt.Errorf("matcher %s is not supported by baton (it routes by Host and PathPrefix)", name)
	case tokNot:
		return nil, fmt.Errorf("negation (!) is not supported by baton")
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", p.tok.text, p.tok.pos)
}
