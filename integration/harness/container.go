package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// Network creates a bridge network for one test; removed when the test ends
// (after the containers on it).
func Network(t T) string {
	t.Helper()
	c := Docker(t)
	name := fmt.Sprintf("baton-test-%s-%d", runID, time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: map[string]string{RunLabel: runID}})
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	created.add(created.networks, resp.ID)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Containers deploys created on it (not through Run) go too.
		if n, err := c.NetworkInspect(ctx, resp.ID, network.InspectOptions{}); err == nil {
			for id := range n.Containers {
				_ = c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		if err := c.NetworkRemove(ctx, resp.ID); err != nil {
			t.Logf("remove network %s: %v", name, err)
		}
		created.remove(created.networks, resp.ID)
	})
	return name
}

// ContainerOpts describe a test container.
type ContainerOpts struct {
	Image       string
	Name        string
	Network     string
	Env         []string
	Labels      map[string]string
	Restart     string // restart policy name, e.g. "on-failure"
	StopTimeout int    // seconds; 0 = Docker's default
	Binds       []string
	HostPort    int // publish container port 8080 on this 127.0.0.1 port
}

// Container is a started test container.
type Container struct {
	ID   string
	Name string
	IP   string
}

// Run creates and starts a container; it is removed when the test ends.
func Run(t T, o ContainerOpts) Container {
	t.Helper()
	c := Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	labels := map[string]string{RunLabel: runID}
	for k, v := range o.Labels {
		labels[k] = v
	}
	cfg := &container.Config{Image: o.Image, Env: o.Env, Labels: labels}
	if o.StopTimeout > 0 {
		cfg.StopTimeout = &o.StopTimeout
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(o.Network), Binds: o.Binds}
	if o.HostPort > 0 {
		// The engine publishes only exposed ports: an image that does not
		// EXPOSE 8080 (baton's own) gets it exposed here, as docker run -p does.
		cfg.ExposedPorts = nat.PortSet{"8080/tcp": {}}
		hc.PortBindings = nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1", HostPort: fmt.Sprint(o.HostPort)}}}
	}
	if o.Restart != "" {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(o.Restart)}
	}
	created0, err := c.ContainerCreate(ctx, cfg, hc, nil, nil, o.Name)
	if err != nil {
		t.Fatalf("create container %s: %v", o.Name, err)
	}
	id := created0.ID
	created.add(created.containers, id)
	t.Cleanup(func() { Remove(t, id) })
	if err := c.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatalf("start container %s: %v", o.Name, err)
	}
	info, err := c.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatalf("inspect %s: %v", o.Name, err)
	}
	ip := ""
	if ep := info.NetworkSettings.Networks[o.Network]; ep != nil {
		ip = ep.IPAddress
	}
	return Container{ID: id, Name: info.Name[1:], IP: ip}
}

// Remove force-removes a container (no error if it is already gone).
func Remove(t T, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = Docker(t).ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	created.remove(created.containers, id)
}

// Stop stops a container as `docker stop` does (SIGTERM, grace, SIGKILL).
func Stop(t T, id string, grace int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace+30)*time.Second)
	defer cancel()
	if err := Docker(t).ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil {
		t.Fatalf("docker stop %s: %v", id, err)
	}
}

// Kill sends a signal to a container's main process, as `docker kill
// --signal` does ("SIGKILL" when empty).
func Kill(t T, id, signal string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Docker(t).ContainerKill(ctx, id, signal); err != nil {
		t.Fatalf("docker kill --signal %q %s: %v", signal, id, err)
	}
}

// Restart restarts a container as `docker restart` does (stop with grace
// seconds, then start); its IP on a network may change.
func Restart(t T, id string, grace int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace+30)*time.Second)
	defer cancel()
	if err := Docker(t).ContainerRestart(ctx, id, container.StopOptions{Timeout: &grace}); err != nil {
		t.Fatalf("docker restart %s: %v", id, err)
	}
}

// WaitExit waits until a container is not running and returns its exit code.
func WaitExit(t T, id string, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	okc, errc := Docker(t).ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case res := <-okc:
		if res.Error != nil {
			t.Fatalf("wait for %s: %s", id, res.Error.Message)
		}
		return int(res.StatusCode)
	case err := <-errc:
		t.Fatalf("container %s did not exit within %s: %v", id, timeout, err)
	}
	return -1
}

// Running reports whether a container exists and runs.
func Running(t T, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := Docker(t).ContainerInspect(ctx, id)
	return err == nil && info.State != nil && info.State.Running
}

// Exists reports whether a container exists at all.
func Exists(t T, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Docker(t).ContainerInspect(ctx, id)
	return err == nil
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t T, url, host string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		// A target that accepts and never answers must not hold us past the deadline.
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s (Host %s) not 200 within %s: last %s", url, host, timeout, last)
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// NetworkOf returns the first network a container is attached to.
func NetworkOf(t T, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := Docker(t).ContainerInspect(ctx, id)
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	for n := range info.NetworkSettings.Networks {
		return n
	}
	t.Fatalf("container %s has no network", id)
	return ""
}

// NetworkGateway is the host's address on a test network (its bridge
// gateway): local but not loopback, so a test can bind to it and send
// traffic to it from the host alone.
func NetworkGateway(t T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := Docker(t).NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		t.Fatalf("inspect network %s: %v", name, err)
	}
	for _, c := range info.IPAM.Config {
		if c.Gateway != "" {
			return c.Gateway
		}
	}
	t.Fatalf("network %s has no gateway", name)
	return ""
}
