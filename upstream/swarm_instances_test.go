package upstream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

func swarmService(id, name string, labels map[string]string, ports ...uint32) swarm.Service {
	s := swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
	if len(ports) > 0 {
		s.Spec.EndpointSpec = &swarm.EndpointSpec{}
		for _, p := range ports {
			s.Spec.EndpointSpec.Ports = append(s.Spec.EndpointSpec.Ports, swarm.PortConfig{TargetPort: p, PublishedPort: p + 10000})
		}
	}
	return s
}

func attach(network, cidr string) swarm.NetworkAttachment {
	return swarm.NetworkAttachment{Network: swarm.Network{ID: "id-" + network, Spec: swarm.NetworkSpec{Annotations: swarm.Annotations{Name: network}, Ingress: network == "ingress"}},
		Addresses: []string{cidr}}
}

func swarmTask(id, service string, slot int, state, desired swarm.TaskState, image string, at time.Time, nets ...swarm.NetworkAttachment) swarm.Task {
	return swarm.Task{ID: id, ServiceID: service, Slot: slot, DesiredState: desired,
		Spec:                swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
		Status:              swarm.TaskStatus{State: state, Timestamp: at},
		NetworksAttachments: nets}
}

func TestSwarmInstances(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	run, shut := swarm.TaskStateRunning, swarm.TaskStateShutdown
	web := map[string]string{"baton.enable": "true", "baton.host": "shop.test", "baton.port": "8080"}
	img := map[string]ImageFacts{"app:v1": {Labels: map[string]string{"org.opencontainers.image.revision": "v1sha"}, Ports: []int{8080}},
		"app:v2": {Labels: map[string]string{"org.opencontainers.image.revision": "v2sha"}, Ports: []int{8080}}}
	cases := []struct {
		name      string
		services  []swarm.Service
		tasks     []swarm.Task
		preferred []string
		want      []string // "id service name addr version stopping?" per instance
		wantErr   []string // per instance, a part of its error ("" = none)
	}{
		{"a running task is an instance at its overlay address, not the ingress",
			[]swarm.Service{swarmService("s1", "shop_web", web)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("ingress", "10.0.0.7/24"), attach("shop_net", "10.0.1.7/24"))},
			nil, []string{"t1 shop_web shop_web.1 10.0.1.7:8080 v1sha"}, []string{""}},
		{"only running tasks; starting, failed and the tasks of a removed service are not",
			[]swarm.Service{swarmService("s1", "web", web)},
			[]swarm.Task{
				swarmTask("t1", "s1", 1, swarm.TaskStateStarting, run, "app:v1", t0, attach("net", "10.0.1.2/24")),
				swarmTask("t2", "s1", 1, swarm.TaskStateFailed, shut, "app:v1", t0, attach("net", "10.0.1.3/24")),
				swarmTask("t3", "gone", 1, run, run, "app:v1", t0, attach("net", "10.0.1.4/24")),
				swarmTask("t4", "s1", 2, run, run, "app:v1", t0, attach("net", "10.0.1.5/24")),
			},
			nil, []string{"t4 web web.2 10.0.1.5:8080 v1sha"}, []string{""}},
		{"a task Swarm wants stopped is listed stopping",
			[]swarm.Service{swarmService("s1", "web", web)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, shut, "app:v1", t0, attach("net", "10.0.1.2/24")),
				swarmTask("t2", "s1", 1, run, run, "app:v2", t0.Add(time.Second), attach("net", "10.0.1.3/24"))},
			nil, []string{"t1 web web.1 10.0.1.2:8080 v1sha stopping", "t2 web web.1 10.0.1.3:8080 v2sha"}, []string{"", ""}},
		{"a service not enabled is not considered",
			[]swarm.Service{swarmService("s1", "db", map[string]string{"com.docker.stack.namespace": "shop"})},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("net", "10.0.1.2/24"))},
			nil, nil, nil},
		{"the network baton is on is preferred over the first by name",
			[]swarm.Service{swarmService("s1", "web", web)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("a_backend", "10.0.2.2/24"), attach("edge", "10.0.3.2/24"))},
			[]string{"edge"}, []string{"t1 web web.1 10.0.3.2:8080 v1sha"}, []string{""}},
		{"without a preference, the first network by name",
			[]swarm.Service{swarmService("s1", "web", web)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("edge", "10.0.3.2/24"), attach("a_backend", "10.0.2.2/24"))},
			nil, []string{"t1 web web.1 10.0.2.2:8080 v1sha"}, []string{""}},
		{"traefik.docker.network picks the network, as on a container",
			[]swarm.Service{swarmService("s1", "web", map[string]string{"traefik.enable": "true", "traefik.docker.network": "a_backend",
				"traefik.http.routers.web.rule": "Host(`shop.test`)", "traefik.http.services.web.loadbalancer.server.port": "8080"})},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("a_backend", "10.0.2.2/24"), attach("edge", "10.0.3.2/24"))},
			[]string{"edge"}, []string{"t1 web web.1 10.0.2.2:8080 v1sha"}, []string{""}},
		{"baton.network naming a network the task is not on is refused by label",
			[]swarm.Service{swarmService("s1", "web", map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.network": "net"})},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("shop_net", "10.0.1.2/24"))},
			nil, []string{"t1 web web.1  v1sha"}, []string{`label baton.network="net": the service's task is not attached to that network (attached: shop_net)`}},
		{"only the ingress mesh: not routed, and said why",
			[]swarm.Service{swarmService("s1", "web", web)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("ingress", "10.0.0.7/24"))},
			nil, []string{"t1 web web.1  v1sha"}, []string{"no overlay network"}},
		{"a bad label on one service leaves the other routed",
			[]swarm.Service{swarmService("s1", "web", web), swarmService("s2", "api", map[string]string{"baton.enable": "true", "baton.host": "api.test", "baton.helth.path": "/x"})},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("net", "10.0.1.2/24")),
				swarmTask("t2", "s2", 1, run, run, "app:v1", t0, attach("net", "10.0.1.3/24"))},
			nil, []string{"t2 api api.1  v1sha", "t1 web web.1 10.0.1.2:8080 v1sha"}, []string{"baton.helth.path", ""}},
		{"port from the image's EXPOSE when no label names it; the service's published target port counts too",
			[]swarm.Service{swarmService("s1", "web", map[string]string{"baton.enable": "true", "baton.host": "a.test"}),
				swarmService("s2", "api", map[string]string{"baton.enable": "true", "baton.host": "b.test"}, 9000)},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("net", "10.0.1.2/24")),
				swarmTask("t2", "s2", 1, run, run, "app:v1", t0, attach("net", "10.0.1.3/24"))},
			nil, []string{"t2 api api.1  v1sha", "t1 web web.1 10.0.1.2:8080 v1sha"}, []string{"exposes several ports; set baton.port", ""}},
		{"baton.version on the service wins over the image's revision; a global task is named by its node",
			[]swarm.Service{swarmService("s1", "web", map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.version": "pinned"})},
			[]swarm.Task{func() swarm.Task {
				t := swarmTask("t1", "s1", 0, run, run, "app:v1", t0, attach("net", "10.0.1.2/24"))
				t.NodeID = "node7"
				return t
			}()},
			nil, []string{"t1 web web.node7 10.0.1.2:8080 pinned"}, []string{""}},
		{"baton.service names the service; a stack's namespace is its project",
			[]swarm.Service{swarmService("s1", "shop_web", map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.service": "web", "com.docker.stack.namespace": "shop"})},
			[]swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", t0, attach("net", "10.0.1.2/24"))},
			nil, []string{"t1 web shop_web.1 10.0.1.2:8080 v1sha"}, []string{""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SwarmInstances(c.services, c.tasks, img, InstanceOptions{Defaults: DefaultSpec(), TraefikLabels: true, Preferred: c.preferred})
			if len(got) != len(c.want) {
				t.Fatalf("got %d instances %+v, want %d", len(got), got, len(c.want))
			}
			for i, in := range got {
				line := strings.Join([]string{in.ID, in.Service, in.Name, in.Addr, in.Version}, " ")
				if in.Stopping {
					line += " stopping"
				}
				if line != c.want[i] {
					t.Errorf("instance %d = %q, want %q", i, line, c.want[i])
				}
				switch {
				case c.wantErr[i] == "" && in.Err != nil:
					t.Errorf("instance %d: unexpected error %v", i, in.Err)
				case c.wantErr[i] != "" && (in.Err == nil || !strings.Contains(in.Err.Error(), c.wantErr[i])):
					t.Errorf("instance %d: error %v, want it to say %q", i, in.Err, c.wantErr[i])
				}
				if c.wantErr[i] == "" && !in.Stopping && !in.Routable() {
					t.Errorf("instance %d not routable", i)
				}
			}
		})
	}
}

func TestSwarmInstancesParseLabelsAsContainers(t *testing.T) {
	// A service's labels are a container's: the same spec, the same refusals.
	labels := map[string]string{"traefik.enable": "true", "traefik.http.routers.r.rule": "Host(`a.test`) && PathPrefix(`/api`)",
		"traefik.http.services.r.loadbalancer.server.port": "8080", "baton.health.min_healthy": "1s"}
	svc := swarmService("s1", "web", labels)
	task := swarmTask("t1", "s1", 1, swarm.TaskStateRunning, swarm.TaskStateRunning, "app:v1", time.Time{}, attach("net", "10.0.1.2/24"))
	got := SwarmInstances([]swarm.Service{svc}, []swarm.Task{task}, nil, InstanceOptions{Defaults: DefaultSpec(), TraefikLabels: true})
	want, _, _, err := ParseLabels(Container{ID: "s1", Name: "web", Labels: labels}, DefaultSpec(), ParseOptions{TraefikLabels: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %+v, parse error %v", got, err)
	}
	if got[0].Spec.Health.MinHealthy != time.Second || strings.Join(got[0].Spec.Hosts, ",") != strings.Join(want.Hosts, ",") || got[0].Spec.Path != want.Path || got[0].Spec.Port != 8080 {
		t.Fatalf("spec %+v, want %+v", got[0].Spec, want)
	}
	labels["traefik.tcp.routers.r.rule"] = "HostSNI(`*`)"
	got = SwarmInstances([]swarm.Service{svc}, []swarm.Task{task}, nil, InstanceOptions{Defaults: DefaultSpec(), TraefikLabels: true})
	var le *LabelError
	if len(got) != 1 || !errors.As(got[0].Err, &le) || le.Label != "traefik.tcp.routers.r.rule" || got[0].Routable() {
		t.Fatalf("a TCP router on a service must refuse it by label, as on a container: %+v", got)
	}
}

func TestTaskStatus(t *testing.T) {
	cases := []struct {
		state, desired swarm.TaskState
		exit           int
		running        bool
		wantExit       int
	}{
		{swarm.TaskStateRunning, swarm.TaskStateRunning, 0, true, 0},
		{swarm.TaskStateRunning, swarm.TaskStateShutdown, 0, false, 0},
		{swarm.TaskStateFailed, swarm.TaskStateShutdown, 3, false, 3},
		{swarm.TaskStateShutdown, swarm.TaskStateShutdown, 0, false, -1},
		{swarm.TaskStateComplete, swarm.TaskStateShutdown, 0, false, -1},
	}
	for _, c := range cases {
		task := swarm.Task{DesiredState: c.desired, Status: swarm.TaskStatus{State: c.state, ContainerStatus: &swarm.ContainerStatus{ExitCode: c.exit}}}
		st := taskStatus(task)
		if st.Running != c.running || st.ExitCode != c.wantExit {
			t.Errorf("%s/%s exit %d: %+v, want running %v exit %d", c.state, c.desired, c.exit, st, c.running, c.wantExit)
		}
	}
}
