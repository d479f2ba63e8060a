package upstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

func inspectOf(nets map[string]string, exposed ...string) container.InspectResponse {
	c := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{Name: "/web-1"},
		Config:            &container.Config{ExposedPorts: nat.PortSet{}},
		NetworkSettings:   &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}},
	}
	for n, ip := range nets {
		c.NetworkSettings.Networks[n] = &network.EndpointSettings{IPAddress: ip}
	}
	for _, p := range exposed {
		c.Config.ExposedPorts[nat.Port(p)] = struct{}{}
	}
	return c
}

func TestAddressPicksNetworkAndPort(t *testing.T) {
	c := inspectOf(map[string]string{"a_default": "10.0.0.2", "front": "10.1.0.2"}, "8080/tcp")
	cases := []struct {
		spec      Spec
		preferred []string
		want      string
	}{
		{Spec{}, nil, "10.0.0.2:8080"},                                   // first network by name
		{Spec{}, []string{"front"}, "10.1.0.2:8080"},                     // the one baton shares
		{Spec{Network: "a_default"}, []string{"front"}, "10.0.0.2:8080"}, // the label wins
		{Spec{Port: 9000}, nil, "10.0.0.2:9000"},                         // baton.port wins
	}
	for _, tc := range cases {
		got, err := address(c, tc.spec, tc.preferred)
		if err != nil || got != tc.want {
			t.Errorf("address(%+v, %v) = %q, %v; want %q", tc.spec, tc.preferred, got, err, tc.want)
		}
	}
}

func TestAddressErrorsNameTheLabel(t *testing.T) {
	var le *LabelError
	_, err := address(inspectOf(map[string]string{"n": "10.0.0.2"}, "80/tcp", "443/tcp"), Spec{}, nil)
	if !errors.As(err, &le) || le.Label != "baton.port" || !strings.Contains(err.Error(), "several") {
		t.Fatalf("several exposed ports: %v", err)
	}
	_, err = address(inspectOf(map[string]string{"n": "10.0.0.2"}), Spec{}, nil)
	if !errors.As(err, &le) || le.Label != "baton.port" {
		t.Fatalf("no exposed port: %v", err)
	}
	_, err = address(inspectOf(map[string]string{"n": "10.0.0.2"}, "80/tcp"), Spec{Network: "other"}, nil)
	if !errors.As(err, &le) || le.Label != "baton.network" {
		t.Fatalf("unknown network: %v", err)
	}
}

func TestInstanceOfIsTheProvidersDecision(t *testing.T) {
	running := func(labels map[string]string, exposed ...string) container.InspectResponse {
		c := inspectOf(map[string]string{"shop_default": "10.0.0.2"}, exposed...)
		c.ID, c.State, c.Config.Labels = "c1", &container.State{Running: true}, labels
		return c
	}
	o := InstanceOptions{Defaults: DefaultSpec(), TraefikLabels: true}
	compose := func(extra map[string]string) map[string]string {
		l := map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	if in := InstanceOf(running(compose(nil), "80/tcp"), nil, o); in != nil {
		t.Errorf("a container that does not opt in is not considered: %+v", in)
	}
	stopped := running(compose(map[string]string{"baton.enable": "true"}), "80/tcp")
	stopped.State.Running = false
	if InstanceOf(stopped, nil, o) != nil {
		t.Error("a stopped container is not considered")
	}
	if InstanceOf(running(compose(map[string]string{"baton.enable": "true"}), "80/tcp"), nil, InstanceOptions{Constraint: "team=blog"}) != nil {
		t.Error("a container outside docker.constraint is not considered")
	}
	in := InstanceOf(running(compose(map[string]string{"traefik.enable": "true", "traefik.http.routers.web.rule": "Host(`shop.test`)"}), "80/tcp"), nil, o)
	if in == nil || in.Err != nil || in.Addr != "10.0.0.2:80" || in.Service != "shop-web" || in.Name != "web-1" {
		t.Fatalf("routed container: %+v", in)
	}
	in = InstanceOf(running(compose(map[string]string{"baton.enable": "true"})), nil, o)
	if in == nil || in.Err != nil || in.Addr != "" || in.Spec.Routed() {
		t.Errorf("a worker without a port is deployed, not a problem: %+v", in)
	}
	in = InstanceOf(running(compose(map[string]string{"baton.enable": "true", "baton.host": "shop.test"})), nil, o)
	var le *LabelError
	if in == nil || !errors.As(in.Err, &le) || le.Label != "baton.port" {
		t.Errorf("a routed container without a port names baton.port: %+v", in)
	}
	in = InstanceOf(running(compose(map[string]string{"traefik.enable": "true", "traefik.http.routers.web.rule": "Host(`shop.test`)", "traefik.docker.network": "proxy"}), "80/tcp"), nil, o)
	if in == nil || !errors.As(in.Err, &le) || le.Label != "baton.network" || le.Value != "proxy" {
		t.Errorf("a network it is not attached to is named: %+v", in)
	}
}
