package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// Issue 13: a removed container's service kept its host, and a later service
// with the same host was refused until baton restarted.
//
// A service with no container left keeps its host (503 after the hold, not
// 404: a Compose recreate must not lose it), but another service that claims
// the host takes it over at once, and the takeover is logged; after
// tls.release_after with no target the claim is dropped (404).
func TestRemovedServiceReleasesItsHostToTheNextService(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "tls:\n  ca: off\n  release_after: 3s\n")
	hold := map[string]string{"baton.hold": "200ms"}
	a := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=a"},
		Labels: labels(merge(hold, map[string]string{"baton.service": "old-app", "baton.host": "shared.test"}))})
	harness.WaitHTTP(t, b.URL+"/", "shared.test", 20*time.Second)

	// Removed: the host is kept, with no target (held, then 503).
	harness.Remove(t, a.ID)
	harness.Eventually(t, 10*time.Second, "shared.test answers 503 once old-app has no container", func() bool {
		code, _ := getRelease(t, b.URL+"/", "shared.test")
		return code == http.StatusServiceUnavailable
	})

	// Another service with the same host takes it over at once.
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=b"},
		Labels: labels(merge(hold, map[string]string{"baton.service": "new-app", "baton.host": "shared.test"}))})
	harness.Eventually(t, 20*time.Second, "new-app serves shared.test", func() bool {
		code, rel := getRelease(t, b.URL+"/", "shared.test")
		return code == http.StatusOK && rel == "b"
	})
	var took []string
	for _, line := range strings.Split(b.Logs(), "\n") {
		if strings.Contains(line, "host taken over") {
			took = append(took, line)
		}
	}
	if len(took) != 1 || !strings.Contains(took[0], `"host": "shared.test"`) || !strings.Contains(took[0], `"path": "/"`) ||
		!strings.Contains(took[0], `"old_service": "old-app"`) || !strings.Contains(took[0], `"new_service": "new-app"`) {
		t.Fatalf("want one takeover logged with host, path, old and new service; got %q\n%s", took, b.Logs())
	}
	if out, _ := b.CLI("status"); strings.Contains(out, "refused for service") {
		t.Fatalf("baton status names a conflict after the takeover:\n%s", out)
	}

	// While new-app serves, a third service claiming the host is refused,
	// named, as before: never a silent hijack.
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=c"},
		Labels: labels(merge(hold, map[string]string{"baton.service": "rival", "baton.host": "shared.test"}))})
	harness.Eventually(t, 20*time.Second, "the rival's claim named as a conflict", func() bool {
		out, _ := b.CLI("status")
		return strings.Contains(out, `already routed to service "new-app"; refused for service "rival"`)
	})
	if code, rel := getRelease(t, b.URL+"/", "shared.test"); code != http.StatusOK || rel != "b" {
		t.Fatalf("with a rival claim, shared.test answered %d %q, want new-app's b", code, rel)
	}
}

// A service with no container is dropped from the table once
// tls.release_after has passed: its host answers 404, nobody's.
func TestHostWithoutTargetIsReleasedAfterReleaseAfter(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "tls:\n  ca: off\n  release_after: 2s\n")
	a := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=a"},
		Labels: labels(map[string]string{"baton.service": "gone-app", "baton.host": "gone.test", "baton.hold": "100ms"})})
	harness.WaitHTTP(t, b.URL+"/", "gone.test", 20*time.Second)
	harness.Remove(t, a.ID)
	harness.Eventually(t, 10*time.Second, "gone.test answers 503 once gone-app has no container", func() bool {
		code, _ := getRelease(t, b.URL+"/", "gone.test")
		return code == http.StatusServiceUnavailable
	})
	harness.Eventually(t, 15*time.Second, "gone.test answers 404 after release_after", func() bool {
		code, _ := getRelease(t, b.URL+"/", "gone.test")
		return code == http.StatusNotFound
	})
	if !strings.Contains(b.Logs(), "host released") {
		t.Fatalf("the release is not logged:\n%s", b.Logs())
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
