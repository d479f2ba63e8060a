package upstream

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PortFor is the container port baton routes to: the port label (baton.port,
// or Traefik's loadbalancer.server.port), else the only TCP port the
// container exposes (the image's EXPOSE, Compose's expose and ports, docker
// run --expose: Docker merges them into the container's exposed ports). The
// error names the label to set. The Docker provider and `baton check` both
// decide the port here.
func PortFor(container string, spec Spec, exposed []int) (int, error) {
	if spec.Port != 0 {
		return spec.Port, nil
	}
	ports := append([]int(nil), exposed...)
	sort.Ints(ports)
	ports = uniqueInts(ports)
	switch len(ports) {
	case 1:
		return ports[0], nil
	case 0:
		return 0, &LabelError{Container: container, Label: "baton.port", Reason: "missing: the container exposes no port (no EXPOSE in the image, no Compose expose or ports); set baton.port"}
	default:
		return 0, &LabelError{Container: container, Label: "baton.port", Value: fmt.Sprint(ports), Reason: "missing: the container exposes several ports; set baton.port to one of them"}
	}
}

// AddressProblem is what keeps a container out of the route table, given the
// error resolving its address gave: nil when there was none, and nil for a
// container that takes no traffic (a worker) whose only fault is that it has
// no port: it is still deployed. A container routed by a rule that names no
// host (HostRegexp, Path) is not a worker: without a port it is a problem.
func AddressProblem(spec Spec, err error) error {
	var le *LabelError
	if err != nil && !spec.Routed() && errors.As(err, &le) && le.Label == "baton.port" {
		return nil
	}
	return err
}

// MatchesConstraint reports whether labels satisfy docker.constraint
// ("key=value"; empty: every container does), as Traefik's constraints
// limit a provider to some containers.
func MatchesConstraint(constraint string, labels map[string]string) bool {
	k, v, ok := strings.Cut(constraint, "=")
	return !ok || labels[k] == v
}

func uniqueInts(sorted []int) []int {
	out := sorted[:0]
	for i, n := range sorted {
		if i == 0 || n != sorted[i-1] {
			out = append(out, n)
		}
	}
	return out
}
