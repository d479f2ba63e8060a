package upstream

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// ImageFacts is what the Swarm provider read of a task's image on this
// engine: its labels (org.opencontainers.image.revision) and the TCP ports it
// EXPOSEs. Empty when the image is not on this node (a task scheduled on
// another node whose image the manager never pulled).
type ImageFacts struct {
	Labels map[string]string
	Ports  []int
}

// SwarmInstances is the Swarm provider's whole decision, with no I/O: each
// task Swarm runs (state running) for a service baton considers becomes an
// Instance. A service's labels (deploy.labels in a stack file: Spec.Labels)
// play the container's role and are parsed by ParseLabels exactly as a
// container's are; the task's own image gives its fingerprint and exposed
// ports. The address is the task's own IP on an overlay network (never the
// ingress mesh's VIP), so baton decides which task serves. A running task
// Swarm wants stopped (desired state shutdown: a scale-down, an update, a
// node drain) is listed Stopping, so it leaves the pool before its SIGTERM.
//
// Images are keyed by the reference the task spec names; preferred are the
// networks baton itself is on, best first.
func SwarmInstances(services []swarm.Service, tasks []swarm.Task, images map[string]ImageFacts, o InstanceOptions) []Instance {
	byID := make(map[string]*swarm.Service, len(services))
	for i := range services {
		byID[services[i].ID] = &services[i]
	}
	var out []Instance
	for _, t := range tasks {
		svc := byID[t.ServiceID]
		if svc == nil || t.Status.State != swarm.TaskStateRunning {
			continue // a service removed, or a task not (or no longer) running
		}
		if in := taskInstance(svc, t, images, o); in != nil {
			out = append(out, *in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func taskInstance(svc *swarm.Service, t swarm.Task, images map[string]ImageFacts, o InstanceOptions) *Instance {
	labels := svc.Spec.Labels
	if !MatchesConstraint(o.Constraint, labels) {
		return nil
	}
	var image string
	var cs *swarm.ContainerSpec
	if t.Spec.ContainerSpec != nil {
		cs = t.Spec.ContainerSpec
		image = cs.Image
	}
	facts := images[image]
	spec, enabled, ignored, perr := ParseLabels(Container{ID: svc.ID, Name: svc.Spec.Name, Labels: labels, ImageLabels: facts.Labels},
		o.Defaults, ParseOptions{ExposedByDefault: o.ExposedByDefault, TraefikLabels: o.TraefikLabels, Transports: o.Transports})
	if !enabled {
		return nil
	}
	in := &Instance{
		ID:        t.ID,
		Name:      taskName(svc, t),
		Service:   spec.Service,
		Spec:      spec,
		Version:   spec.Version,
		Image:     image,
		Project:   labels["com.docker.stack.namespace"],
		Running:   true,
		Stopping:  t.DesiredState != swarm.TaskStateRunning,
		StartedAt: t.Status.Timestamp,
		Ignored:   ignored,
		Err:       perr,
	}
	if cs != nil {
		in.StopSignal = cs.StopSignal
		if cs.StopGracePeriod != nil {
			in.StopTimeout = *cs.StopGracePeriod
		}
	}
	if perr == nil {
		addr, err := taskAddress(svc, t, spec, o.Preferred, append(targetPorts(svc), facts.Ports...))
		in.Addr = addr
		in.Err = AddressProblem(spec, err)
	}
	return in
}

// taskName is how `docker service ps` names a task: service.slot for a
// replicated service, service.node for a global one.
func taskName(svc *swarm.Service, t swarm.Task) string {
	if t.Slot > 0 {
		return svc.Spec.Name + "." + strconv.Itoa(t.Slot)
	}
	return svc.Spec.Name + "." + t.NodeID
}

// targetPorts are the container ports the service publishes (ports: in a
// stack file): like Compose's ports, they say which port the app listens on.
func targetPorts(svc *swarm.Service) []int {
	var out []int
	if svc.Spec.EndpointSpec != nil {
		for _, p := range svc.Spec.EndpointSpec.Ports {
			if p.Protocol == "" || p.Protocol == swarm.PortConfigProtocolTCP {
				out = append(out, int(p.TargetPort))
			}
		}
	}
	return out
}

// taskAddress picks the network as the container provider does (address):
// the one baton.network or traefik.docker.network names, else one baton is on
// (preferred), else the first by name. The ingress network is never chosen:
// its addresses belong to the routing mesh, which would pick the task itself.
func taskAddress(svc *swarm.Service, t swarm.Task, spec Spec, preferred []string, ports []int) (string, error) {
	name := svc.Spec.Name
	nets := map[string]string{} // network name -> task address on it
	for _, a := range t.NetworksAttachments {
		if a.Network.Spec.Ingress || a.Network.Spec.Name == "ingress" {
			continue
		}
		ip := ""
		for _, cidr := range a.Addresses {
			if p, err := netip.ParsePrefix(cidr); err == nil {
				ip = p.Addr().String()
				break
			}
			if addr, err := netip.ParseAddr(cidr); err == nil {
				ip = addr.String()
				break
			}
		}
		nets[a.Network.Spec.Name] = ip
	}
	if len(nets) == 0 {
		return "", fmt.Errorf("service %q task %s: no overlay network to reach it on (only the ingress mesh); attach the service to a network baton is on", name, t.ID)
	}
	var network string
	switch {
	case spec.Network != "":
		if _, ok := nets[spec.Network]; !ok {
			return "", &LabelError{Container: name, Label: "baton.network", Value: spec.Network,
				Reason: "the service's task is not attached to that network (attached: " + strings.Join(sortedKeys(nets), ", ") + "); in a stack, name the network as Swarm does (stack_network) or declare it external"}
		}
		network = spec.Network
	default:
		for _, p := range preferred {
			if _, ok := nets[p]; ok {
				network = p
				break
			}
		}
		if network == "" {
			network = sortedKeys(nets)[0]
		}
	}
	if nets[network] == "" {
		return "", fmt.Errorf("service %q task %s: no IP address on network %q", name, t.ID, network)
	}
	port, err := PortFor(name, spec, ports)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(nets[network], strconv.Itoa(port)), nil
}

// taskStatus is a task's state as the health gate reads a container's: a
// task Swarm no longer runs has exited (Swarm never restarts a task; it
// replaces it with a new one, a new instance).
func taskStatus(t swarm.Task) ContainerStatus {
	st := ContainerStatus{Running: t.Status.State == swarm.TaskStateRunning && t.DesiredState == swarm.TaskStateRunning}
	switch t.Status.State {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		st.ExitCode = -1
		if t.Status.ContainerStatus != nil && t.Status.ContainerStatus.ExitCode != 0 {
			st.ExitCode = t.Status.ContainerStatus.ExitCode
		}
	}
	return st
}
