package check

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// publishedPorts is the container side of one ports: entry, short
// ("8080:80", "127.0.0.1:8080:80/tcp", "[::1]:80:80", "3000-3005") or long
// ({target: 80, published: 8080, protocol: tcp}).
func (r *reader) publishedPorts(n *yaml.Node) []string {
	n = deref(n)
	if n.Kind == yaml.MappingNode {
		target, proto := "", "tcp"
		for _, kv := range r.pairs(n) {
			switch kv[0].Value {
			case "target":
				target = r.str(kv[1])
			case "protocol":
				proto = strings.ToLower(r.str(kv[1]))
			}
		}
		if target == "" {
			r.fail(n, "ports: a long-syntax entry without target")
			return nil
		}
		return r.ports(n, target+"/"+proto)
	}
	v := r.str(n)
	spec, proto, _ := strings.Cut(v, "/")
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		spec = spec[i+1:]
	}
	if proto != "" {
		spec += "/" + proto
	}
	return r.ports(n, spec)
}

// ports reads "80", "80/udp" or a range "8000-8010[/tcp]" into Docker's
// port names ("80/tcp").
func (r *reader) ports(n *yaml.Node, v string) []string {
	spec, proto, _ := strings.Cut(strings.TrimSpace(v), "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		r.fail(n, "port %q: want a port number from 1 to 65535 (or a range a-b), optionally /tcp or /udp", v)
		return nil
	}
	// Bounded over the file, so a few wide ranges cannot make a memory bomb.
	if r.portCount += b - a + 1; r.portCount > 1<<17 {
		r.fail(n, "port %q: more ports in this file than baton check reads (%d)", v, 1<<17)
		return nil
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, strings.ToLower(proto)))
	}
	return out
}
