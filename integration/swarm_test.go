package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/integration/harness"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// A stack deployed from a Compose file with deploy.labels, on a single-node
// Swarm the test makes, routed by baton running in a container on the
// stack's overlay network (docker.mode: swarm): to each task's own address,
// a new task only after its gate, a killed task out of the pool and Swarm's
// replacement in.
func TestSwarmStackRoutedToTasks(t *testing.T) {
	harness.Swarm(t)
	batonImage := harness.BatonImage(t)
	// READY_DELAY: each new task answers /healthz 503 for its first 3s, so
	// its gate is seen running before it may take traffic.
	img := release(t, "5a4a4a1", "READY_DELAY=3s")
	net := harness.OverlayNetwork(t)

	dir := t.TempDir()
	cfg := harness.WithConstraint(`listen:
  http: ":8080"
admin:
  socket: /run/baton/baton.sock
  metrics: ""
  ui: ""
state:
  dir: /var/lib/baton
docker:
  mode: swarm
  network: %s
`)
	cfg = fmt.Sprintf(cfg, net)
	if err := os.WriteFile(filepath.Join(dir, "baton.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := harness.FreePort(t)
	b := harness.Run(t, harness.ContainerOpts{Image: batonImage, Name: "baton-swarm-" + harness.RunID(), Network: net, HostPort: port,
		Binds: []string{"/var/run/docker.sock:/var/run/docker.sock", dir + ":/etc/baton:ro"}})
	c := harness.Docker(t)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "80", b.ID).CombinedOutput()
			t.Logf("baton's log:\n%s", out)
		}
	})

	// The stack: the same service a Compose file would declare, with its
	// labels under deploy: (a Swarm service's own labels).
	stack := "bsw" + harness.RunID()
	compose := fmt.Sprintf(`services:
  web:
    image: %s
    networks: [edge]
    deploy:
      replicas: 1
      labels:
        %s: %q
        baton.enable: "true"
        baton.host: swarm.test
        baton.health.path: /healthz
        baton.health.interval: 100ms
        baton.health.min_healthy: 1s
networks:
  edge:
    name: %s
    external: true
`, img, harness.RunLabel, harness.RunID(), net)
	if err := os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.Stack(t, dir, "stack.yaml", stack)
	service := stack + "_web"

	front := fmt.Sprintf("http://127.0.0.1:%d/", port)
	get := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, front, nil)
		req.Host = "swarm.test"
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status := func() []admin.TargetStatus {
		out, err := exec.Command("docker", "exec", b.ID, "/baton", "status", "--json").Output()
		if err != nil {
			return nil
		}
		var st admin.Status
		if json.Unmarshal(out, &st) != nil {
			return nil
		}
		for _, s := range st.Services {
			if s.Name == service {
				return s.Targets
			}
		}
		return nil
	}
	ready := func(targets []admin.TargetStatus) []string {
		var out []string
		for _, tg := range targets {
			if tg.State == "ready" {
				out = append(out, tg.ID+"@"+tg.Addr)
			}
		}
		sort.Strings(out)
		return out
	}
	// taskAddrs are the running tasks of the service as Swarm lists them,
	// "task@ip:8080" on the overlay network: where baton must route.
	taskAddrs := func() (addrs []string, containers map[string]string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tasks, err := c.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running"))})
		if err != nil {
			t.Fatalf("docker task list: %v", err)
		}
		containers = map[string]string{}
		for _, task := range tasks {
			if task.Status.State != swarm.TaskStateRunning {
				continue
			}
			for _, a := range task.NetworksAttachments {
				if a.Network.Spec.Name == net && len(a.Addresses) > 0 {
					ip, _, _ := strings.Cut(a.Addresses[0], "/")
					addrs = append(addrs, task.ID+"@"+ip+":8080")
				}
			}
			if task.Status.ContainerStatus != nil {
				containers[task.ID] = task.Status.ContainerStatus.ContainerID
			}
		}
		sort.Strings(addrs)
		return addrs, containers
	}

	// 1. Routed: the answer comes through baton, from the task's own address.
	var lastCode int
	var lastBody string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last answer through baton: %d %q; targets %+v", lastCode, lastBody, status())
		}
	})
	harness.Eventually(t, 60*time.Second, "the stack's service answers through baton", func() bool {
		lastCode, lastBody = get()
		return lastCode == 200 && strings.Contains(lastBody, "hello from 5a4a4a1")
	})
	first, _ := taskAddrs()
	if got := ready(status()); len(first) != 1 || strings.Join(got, ",") != strings.Join(first, ",") {
		t.Fatalf("baton routes to %v; Swarm runs %v on %s (task addresses, not a VIP)", got, first, net)
	}

	// 2. Scale to 2: the second task gates (its /healthz says 503 for 3s,
	// then readiness must hold 1s) and only then joins; the service answers
	// throughout.
	if out, err := exec.Command("docker", "service", "scale", "-d", service+"=2").CombinedOutput(); err != nil {
		t.Fatalf("docker service scale: %v\n%s", err, out)
	}
	sawGating := false
	failed := 0
	harness.Eventually(t, 60*time.Second, "the second task joins after its gate", func() bool {
		if code, _ := get(); code != 200 {
			failed++
		}
		targets := status()
		for _, tg := range targets {
			if tg.State == "gating" {
				sawGating = true
			}
		}
		addrs, _ := taskAddrs()
		return len(addrs) == 2 && strings.Join(ready(targets), ",") == strings.Join(addrs, ",")
	})
	if !sawGating {
		t.Fatalf("the second task was never seen gating: it joined without its gate")
	}
	if failed > 0 {
		t.Fatalf("%d requests failed while the second task was gated", failed)
	}
	for _, a := range ready(status()) {
		if strings.HasSuffix(a, "@") {
			t.Fatalf("a ready target without an address: %v", a)
		}
	}

	// 3. A task's container removed (a crash, a node's docker rm): it leaves
	// the pool at once; Swarm's replacement joins after its own gate.
	two, containers := taskAddrs()
	victim, _, _ := strings.Cut(two[0], "@")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ContainerRemove(ctx, containers[victim], container.RemoveOptions{Force: true}); err != nil {
		t.Fatalf("remove task %s's container: %v", victim, err)
	}
	harness.Eventually(t, 20*time.Second, "the killed task leaves the pool", func() bool {
		for _, r := range ready(status()) {
			if strings.HasPrefix(r, victim+"@") {
				return false
			}
		}
		return true
	})
	if code, body := get(); code != 200 || !strings.Contains(body, "hello from 5a4a4a1") {
		t.Fatalf("with one task killed the service answered %d %q; the other task should serve", code, body)
	}
	harness.Eventually(t, 60*time.Second, "Swarm's replacement joins", func() bool {
		addrs, _ := taskAddrs()
		got := ready(status())
		return len(addrs) == 2 && strings.Join(got, ",") == strings.Join(addrs, ",") && !strings.Contains(strings.Join(got, ","), victim)
	})
}
