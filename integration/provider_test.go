package integration

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/integration/harness"
)

// fastHealth keeps the tests' readiness windows short.
var fastHealth = map[string]string{
	"baton.health.path":        "/healthz",
	"baton.health.interval":    "100ms",
	"baton.health.min_healthy": "1s",
	"baton.health.deadline":    "20s",
}

func labels(extra map[string]string) map[string]string {
	out := map[string]string{"baton.enable": "true"}
	for k, v := range fastHealth {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func getRelease(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Release")
}

func TestLabelledContainerRoutesAndReplicaJoinsAfterReadiness(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "")
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=r1"}, Labels: labels(map[string]string{"baton.host": "app.test", "baton.service": "app"})})
	harness.WaitHTTP(t, b.URL+"/", "app.test", 20*time.Second)

	// A second replica that needs 2s to be ready must not get traffic before.
	started := time.Now()
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=r2", "READY_DELAY=2s"}, Labels: labels(map[string]string{"baton.host": "app.test", "baton.service": "app"})})
	var joined time.Duration
	for time.Since(started) < 20*time.Second {
		code, rel := getRelease(t, b.URL+"/", "app.test")
		if code != 200 {
			t.Fatalf("request failed while a replica was starting: %d %s", code, rel)
		}
		if rel == "r2" {
			joined = time.Since(started)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if joined == 0 {
		t.Fatalf("second replica never joined:\n%s", b.Logs())
	}
	if joined < 3*time.Second {
		t.Fatalf("second replica got traffic after %v: before readiness (2s) had held min_healthy (1s)", joined)
	}
	out, _ := b.CLI("status")
	if !strings.Contains(out, "app.test") || !strings.Contains(out, "1111111") {
		t.Fatalf("baton status does not show the service:\n%s", out)
	}
}

func TestDockerStopOfOneReplicaUnderLoadLosesNothing(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "")
	lb := labels(map[string]string{"baton.host": "stop.test", "baton.service": "stop"})
	a := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=a"}, Labels: lb})
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=b"}, Labels: lb})
	harness.Eventually(t, 20*time.Second, "both replicas serving", func() bool {
		seen := map[string]bool{}
		for i := 0; i < 10; i++ {
			_, rel := getRelease(t, b.URL+"/", "stop.test")
			seen[rel] = true
		}
		return seen["a"] && seen["b"]
	})
	load := (&harness.Load{URL: b.URL + "/slow?ms=20", Host: "stop.test", Workers: 8}).Start()
	time.Sleep(time.Second)
	harness.Stop(t, a.ID, 10)
	time.Sleep(time.Second)
	rep := load.Stop()
	t.Logf("docker stop under load: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 || rep.Requests < 100 {
		t.Fatalf("docker stop of one of two replicas: %s", rep)
	}
}

func TestBadLabelIsReportedAndIsolated(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "")
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Name: "bad-" + harness.RunID(), Env: []string{"RELEASE=bad"},
		Labels: labels(map[string]string{"baton.host": "bad.test", "baton.health.interval": "5x"})})
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=good"}, Labels: labels(map[string]string{"baton.host": "good.test"})})
	harness.WaitHTTP(t, b.URL+"/", "good.test", 20*time.Second)
	if code, _ := getRelease(t, b.URL+"/", "bad.test"); code != http.StatusNotFound {
		t.Fatalf("badly labelled container answered %d: it must not be routed", code)
	}
	out, _ := b.CLI("status")
	if !strings.Contains(out, "bad-"+harness.RunID()) || !strings.Contains(out, "baton.health.interval") || !strings.Contains(out, "5x") {
		t.Fatalf("baton status does not name the container, label and value:\n%s", out)
	}
}

func TestComposeAndTraefikLabels(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "defaults:\n  health.min_healthy: 1s\n  health.interval: 100ms\n")
	// Written for Traefik, unchanged: baton routes it the same way.
	traefik := map[string]string{
		"traefik.enable":                                          "true",
		"traefik.http.routers.app.rule":                           "Host(`traefik.test`) && PathPrefix(`/`)",
		"traefik.http.routers.app.entrypoints":                    "web",
		"traefik.http.services.app.loadbalancer.server.port":      "8080",
		"traefik.http.services.app.loadbalancer.healthcheck.path": "/healthz",
		"traefik.http.routers.app.observability.accesslogs":       "false",
		"com.docker.compose.project":                              "shop",
		"com.docker.compose.service":                              "web",
	}
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=t1"}, Labels: traefik})
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=t2"}, Labels: traefik})
	harness.WaitHTTP(t, b.URL+"/", "traefik.test", 20*time.Second)
	harness.Eventually(t, 20*time.Second, "both compose replicas grouped in shop-web", func() bool {
		out, _ := b.CLI("status")
		return strings.Contains(out, "shop-web") && strings.Count(out, "(ready,") == 2
	})
	out, _ := b.CLI("status")
	if !strings.Contains(out, "traefik.http.routers.app.observability.accesslogs") {
		t.Fatalf("ignored Traefik label not reported:\n%s", out)
	}
}

func TestEventStreamCutConverges(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	sock := harness.NewSocketProxy(t)
	b := harness.StartBaton(t, "docker:\n  host: unix://"+sock.Path+"\n")
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=one"}, Labels: labels(map[string]string{"baton.host": "one.test"})})
	harness.WaitHTTP(t, b.URL+"/", "one.test", 20*time.Second)

	sock.Cut() // the daemon "restarts": baton loses its event stream
	harness.Eventually(t, 10*time.Second, "baton to report degraded", func() bool { return strings.Contains(b.Logs(), "docker events lost") })
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=two"}, Labels: labels(map[string]string{"baton.host": "two.test"})})
	if code, _ := getRelease(t, b.URL+"/", "one.test"); code != 200 {
		t.Fatalf("last known routes not served while the engine is unreachable: %d", code)
	}
	sock.Restore()
	harness.WaitHTTP(t, b.URL+"/", "two.test", 30*time.Second)
	harness.Eventually(t, 10*time.Second, "baton to report recovery", func() bool { return strings.Contains(b.Logs(), "docker events recovered") })
}

// How fast a stopping container leaves the route table: from the `docker stop`
// call (its kill event) to the table without it, polled on the admin API.
func TestStoppingContainerLeavesTheTableFast(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "")
	lb := labels(map[string]string{"baton.host": "fast.test", "baton.service": "fast"})
	a := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=a"}, Labels: lb})
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=b"}, Labels: lb})
	c := admin.NewClient(b.Admin, "")
	routed := func() (bool, int) {
		var st admin.Status
		if err := c.GetJSON(context.Background(), "/v1/services", &st); err != nil {
			return false, 0
		}
		for _, s := range st.Services {
			if s.Name == "fast" {
				for _, tg := range s.Targets {
					if tg.ID == a.ID {
						return true, len(s.Targets)
					}
				}
				return false, len(s.Targets)
			}
		}
		return false, 0
	}
	harness.Eventually(t, 20*time.Second, "both replicas routed", func() bool { in, n := routed(); return in && n == 2 })
	start := time.Now()
	go harness.Stop(t, a.ID, 10)
	for {
		if in, _ := routed(); !in {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("stopping container still routed after 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("docker stop -> out of the route table: %s (includes the engine's stop call and the admin poll)", time.Since(start).Round(time.Millisecond))
}
