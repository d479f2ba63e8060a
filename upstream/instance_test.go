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
