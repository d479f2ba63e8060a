package rule

import (
	"fmt"
	"sort"
)

// HostPath is one alternative of a rule that says no more than a host and a
// path prefix.
type HostPath struct {
	Host       string // lower case, as written; "*" when the alternative names no host (or Host(`*`))
	PathPrefix string // "/" when it names no prefix (HostPaths); "" in an Index: any path
}

// maxAlternatives bounds the expansion of a rule into alternatives.
const maxAlternatives = 64

// conj is one alternative being expanded: a host and a prefix, "" = unset.
type conj struct{ host, path string }

// HostPaths expands a rule made only of Host and PathPrefix matchers (with
// && , || and parentheses, no !) into its alternatives, each with the one
// host and the one prefix it requires: the rule matches a request exactly
// when one alternative's host is the request's (any host for "*") and its
// prefix starts the request's routing path. Missing parts default to "*"
// and "/". The error says why the rule is not such a rule: another matcher,
// a negation, two different hosts or prefixes in one alternative, or more
// than 64 alternatives.
func (r *Rule) HostPaths() ([]HostPath, error) {
	cs, err := r.root.expand()
	if err != nil {
		return nil, err
	}
	out := make([]HostPath, len(cs))
	for i, c := range cs {
		if c.host == "" {
			c.host = "*"
		}
		if c.path == "" {
			c.path = "/"
		}
		out[i] = HostPath{Host: c.host, PathPrefix: c.path}
	}
	return out, nil
}

func (n *node) expand() ([]conj, error) {
	switch n.kind {
	case kOr:
		l, err := n.left.expand()
		if err != nil {
			return nil, err
		}
		r, err := n.right.expand()
		if err != nil {
			return nil, err
		}
		if len(l)+len(r) > maxAlternatives {
			return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
		}
		return append(l, r...), nil
	case kAnd:
		l, err := n.left.expand()
		if err != nil {
			return nil, err
		}
		r, err := n.right.expand()
		if err != nil {
			return nil, err
		}
		if len(l)*len(r) > maxAlternatives {
			return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
		}
		out := make([]conj, 0, len(l)*len(r))
		for _, a := range l {
			for _, b := range r {
				m, err := merge(a, b)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
		}
		return out, nil
	case kHost:
		if !n.not {
			return []conj{{host: n.s}}, nil
		}
	case kPathPrefix:
		if !n.not {
			return []conj{{path: n.s}}, nil
		}
	}
	if n.not {
		return nil, fmt.Errorf("%s is a negation", n)
	}
	return nil, fmt.Errorf("%s is neither Host nor PathPrefix", n)
}

func merge(a, b conj) (conj, error) {
	if a.host != "" && b.host != "" && a.host != b.host {
		return conj{}, fmt.Errorf("Host(%s) && Host(%s) can never match", quote(a.host), quote(b.host))
	}
	if a.path != "" && b.path != "" && a.path != b.path {
		return conj{}, fmt.Errorf("PathPrefix(%s) && PathPrefix(%s) is not one path prefix", quote(a.path), quote(b.path))
	}
	if a.host == "" {
		a.host = b.host
	}
	if a.path == "" {
		a.path = b.path
	}
	return a, nil
}

// Index tells a route table how to find a rule without trying it on every
// request.
type Index struct {
	// HostPaths, when not nil, are the whole rule (see HostPaths), with ""
	// for "any path" where the rule names no prefix: a request matches
	// exactly when, for one of them, the request's host is one of
	// HostVariants(Host) (any host, even none, for "*") and PathPrefix
	// starts its routing path. No wildcard host ("*.example.com") is among
	// them: such a rule is indexed by AnyHost.
	HostPaths []HostPath
	// Hosts, when HostPaths is nil and AnyHost is not set, are the request
	// hosts (lower case, trailing-dot forms included) the rule can match:
	// every way of matching it ANDs a literal Host. Empty when it can match
	// no host at all.
	Hosts []string
	// AnyHost: the rule can match requests for any host (a HostRegexp, a
	// wildcard or negated Host, no Host at all); it must be tried on every
	// request.
	AnyHost bool
}

// Index returns how the rule can be indexed.
func (r *Rule) Index() Index {
	if cs, err := r.root.expand(); err == nil {
		fast := make([]HostPath, 0, len(cs))
		for _, c := range cs {
			if len(c.host) > 1 && c.host[0] == '*' {
				fast = nil
				break
			}
			if c.host == "" {
				c.host = "*"
			}
			fast = append(fast, HostPath{Host: c.host, PathPrefix: c.path})
		}
		if fast != nil {
			return Index{HostPaths: fast}
		}
	}
	hosts, ok := r.root.requiredHosts()
	if !ok {
		return Index{AnyHost: true}
	}
	out := make([]string, 0, len(hosts))
	for h := range hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return Index{Hosts: out}
}

// requiredHosts is the set of request hosts a match needs, when every
// alternative ANDs a literal Host; ok is false when some alternative can
// match any host.
func (n *node) requiredHosts() (map[string]bool, bool) {
	switch n.kind {
	case kHost:
		if n.not || n.anyHost || n.wild {
			return nil, false
		}
		set := map[string]bool{}
		for _, v := range HostVariants(n.s) {
			set[v] = true
		}
		return set, true
	case kAnd:
		l, lok := n.left.requiredHosts()
		r, rok := n.right.requiredHosts()
		switch {
		case lok && rok:
			for h := range l {
				if !r[h] {
					delete(l, h)
				}
			}
			return l, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	case kOr:
		l, lok := n.left.requiredHosts()
		r, rok := n.right.requiredHosts()
		if lok && rok {
			for h := range r {
				l[h] = true
			}
			return l, true
		}
	}
	return nil, false
}

// HostVariants are the request hosts (lower case, without port) that
// Host(h) matches, for a literal lower-case h: h itself, h with a trailing
// dot, and h without its trailing dot if it has one, as Traefik's Host
// matcher compares them.
func HostVariants(h string) []string {
	if n := len(h); n > 0 && h[n-1] == '.' {
		return []string{h, h[:n-1], h + "."}
	}
	return []string{h, h + "."}
}
