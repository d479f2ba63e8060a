package harness

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

var swarmMu sync.Mutex

// Swarm makes the test engine a single-node Swarm manager for the test: it
// runs `docker swarm init --advertise-addr 127.0.0.1` when the engine is not
// in a Swarm, and at cleanup (even on failure) `docker swarm leave --force`
// and removes the docker_gwbridge network init made, only if this test made
// them. An engine that was a Swarm before is left as it was; one that is a
// Swarm worker (or in another state) skips the test rather than changing it.
func Swarm(t T) {
	t.Helper()
	c := Docker(t)
	swarmMu.Lock()
	defer swarmMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("docker info: %v", err)
	}
	switch info.Swarm.LocalNodeState {
	case swarm.LocalNodeStateActive:
		if !info.Swarm.ControlAvailable {
			t.Skipf("the engine is a Swarm worker; these tests need a manager and will not change the engine's Swarm")
		}
		return // a Swarm before: left as it is
	case swarm.LocalNodeStateInactive:
	default:
		t.Skipf("the engine's Swarm is %q; these tests will not change it", info.Swarm.LocalNodeState)
	}
	hadGWBridge := false
	if _, err := c.NetworkInspect(ctx, "docker_gwbridge", network.InspectOptions{}); err == nil {
		hadGWBridge = true
	}
	if out, err := exec.CommandContext(ctx, "docker", "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("docker swarm init: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
			t.Logf("docker swarm leave --force: %v\n%s", err, out)
		}
		if !hadGWBridge {
			// swarm init made it; leave does not remove it.
			if err := c.NetworkRemove(ctx, "docker_gwbridge"); err != nil {
				t.Logf("remove docker_gwbridge (made by swarm init): %v", err)
			}
		}
	})
}

// OverlayNetwork creates an attachable overlay network (plain containers,
// baton's among them, can join it) and removes it at cleanup, once the
// services on it are gone (Swarm removes their endpoints a moment after).
func OverlayNetwork(t T) string {
	t.Helper()
	c := Docker(t)
	name := fmt.Sprintf("baton-swarm-%s-%d", runID, time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.NetworkCreate(ctx, name, network.CreateOptions{Driver: "overlay", Attachable: true, Labels: map[string]string{RunLabel: runID}})
	if err != nil {
		t.Fatalf("create overlay network: %v", err)
	}
	created.add(created.networks, resp.ID)
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.NetworkRemove(ctx, resp.ID)
			cancel()
			if err == nil || strings.Contains(err.Error(), "not found") || time.Now().After(deadline) {
				if err != nil && !strings.Contains(err.Error(), "not found") {
					t.Logf("remove network %s: %v", name, err)
				}
				break
			}
			time.Sleep(200 * time.Millisecond) // poll: Swarm detaches the tasks' endpoints asynchronously
		}
		created.remove(created.networks, resp.ID)
	})
	return name
}

// Stack deploys a stack from a Compose file with `docker stack deploy` (the
// image is local: never resolved on a registry) and removes it at cleanup,
// waiting until its tasks are gone.
func Stack(t T, dir, file, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "stack", "deploy", "--resolve-image", "never", "-c", file, name)
	cmd.Dir = dir
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "stack", "rm", name).CombinedOutput(); err != nil {
			t.Logf("docker stack rm %s: %v\n%s", name, err, out)
		}
		c := Docker(t)
		f := filters.NewArgs(filters.Arg("label", "com.docker.stack.namespace="+name))
		Eventually(t, 30*time.Second, "the stack's containers are gone", func() bool {
			list, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
			return err != nil || len(list) == 0
		})
	})
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker stack deploy %s: %v\n%s", name, err, out)
	}
}
