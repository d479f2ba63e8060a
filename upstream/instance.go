package upstream

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// Instance is one container as the Docker provider sees it: facts only. Whether
// it takes traffic is cutover's decision.
type Instance struct {
	ID      string
	Name    string
	Service string
	Spec    Spec
	Addr    string // ip:port on the chosen network; "" when it cannot be reached
	Version string
	Image   string // image reference it was created from
	ImageID string

	Project   string   // Compose project (com.docker.compose.project)
	DependsOn []string // Compose services it depends on (com.docker.compose.depends_on, Compose v2)

	Running      bool
	Stopping     bool   // a stop signal was sent: it must leave the pool now, not at exit
	Health       string // Docker HEALTHCHECK status: "", starting, healthy, unhealthy
	RestartCount int
	StartedAt    time.Time
	ExitCode     int

	// Err is why the container is not routed (a bad label, no port, no network).
	// Every other container keeps working.
	Err     error
	Ignored []string // Traefik labels baton does not honour

	StopSignal  string        // the container's own stop signal (Config.StopSignal); "" = SIGTERM
	StopTimeout time.Duration // the container's own stop timeout; 0 = not set
}

// Routable reports whether the instance may serve once it is ready. A worker
// (no hosts) takes no traffic but is deployed the same way, so it counts too.
func (in *Instance) Routable() bool {
	return in.Err == nil && in.Running && !in.Stopping && (in.Addr != "" || !in.Spec.Routed())
}

// address finds ip:port for the container: the network named by the label, else
// a preferred network (the configured one, or one baton's own container is on),
// else its first network by name.
func address(c container.InspectResponse, spec Spec, preferred []string) (string, error) {
	if c.NetworkSettings == nil || len(c.NetworkSettings.Networks) == 0 {
		return "", fmt.Errorf("container %q: no network to reach it on", trimName(c.Name))
	}
	nets := c.NetworkSettings.Networks
	var network string
	switch {
	case spec.Network != "":
		if _, ok := nets[spec.Network]; !ok {
			return "", &LabelError{Container: trimName(c.Name), Label: "baton.network", Value: spec.Network, Reason: "the container is not attached to that network"}
		}
		network = spec.Network
	case sharedNetwork(nets, preferred) != "":
		network = sharedNetwork(nets, preferred)
	default:
		names := make([]string, 0, len(nets))
		for n := range nets {
			names = append(names, n)
		}
		sort.Strings(names)
		network = names[0]
	}
	ep := nets[network]
	if ep == nil || ep.IPAddress == "" {
		return "", fmt.Errorf("container %q: no IP address on network %q", trimName(c.Name), network)
	}
	port, err := containerPort(c, spec)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ep.IPAddress, strconv.Itoa(port)), nil
}

func sharedNetwork(nets map[string]*network.EndpointSettings, preferred []string) string {
	for _, p := range preferred {
		if nets[p] != nil {
			return p
		}
	}
	return ""
}

// containerPort is the port label, else the only exposed TCP port (PortFor).
func containerPort(c container.InspectResponse, spec Spec) (int, error) {
	var ports []int
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			if p.Proto() == "tcp" {
				ports = append(ports, p.Int())
			}
		}
	}
	return PortFor(trimName(c.Name), spec, ports)
}

func trimName(n string) string { return strings.TrimPrefix(n, "/") }
