package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/integration/harness"
)

// recreateMinHealthy is long on purpose: before the fix, a recreated
// container waited this whole window while every request was held, so the
// test could not pass; routed at its first good answer, nothing waits it out.
const recreateMinHealthy = 30 * time.Second

func writeComposeWindow(t *testing.T, dir, image string) {
	t.Helper()
	content := fmt.Sprintf(`version: "3.7"
services:
  web:
    image: %s
    labels:
      %s: %q
      baton.enable: "true"
      baton.host: compose.test
      baton.health.path: /healthz
      baton.health.interval: 100ms
      baton.health.min_healthy: %s
      baton.hold: 45s
`, image, harness.RunLabel, harness.RunID(), recreateMinHealthy)
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A Compose recreate stops the old container before it starts the new one;
// with nothing else to serve, the new container is routed at its first good
// readiness answer, and its min_healthy window runs on while it serves.
func TestComposeRecreateRoutesTheNewContainerAtItsFirstGoodAnswer(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b := harness.StartBaton(t, "")
	dir := t.TempDir()
	project := "batontestrc" + harness.RunID()
	t.Cleanup(func() { compose(t, dir, project, "down", "--remove-orphans", "-t", "1") })
	writeComposeWindow(t, dir, v1)
	compose(t, dir, project, "up", "-d")
	// The first container is alone too: it serves before its window.
	harness.WaitHTTP(t, b.URL+"/", "compose.test", 20*time.Second)

	load := (&harness.Load{URL: b.URL + "/", Host: "compose.test", Workers: 6}).Start()
	t.Cleanup(func() { load.Stop() })
	harness.Eventually(t, 10*time.Second, "the load answered", func() bool { return load.Report(0, load.Since()).Requests > 50 })
	before := load.Since()
	writeComposeWindow(t, dir, v2)
	compose(t, dir, project, "up", "-d")
	recreated := load.Since()

	// Structural, not a timing threshold: the new release answers while
	// baton status still shows its gate running (it cannot have held the
	// 30s window yet). Before, nothing answered until the window had held.
	var gate string
	harness.Eventually(t, recreateMinHealthy, "the new release serving while its gate still runs", func() bool {
		if _, rel := getRelease(t, b.URL+"/", "compose.test"); rel != "bbbbbbb" {
			return false
		}
		for _, tg := range statusTargets(t, b, "compose.test") {
			if tg.Version == "bbbbbbb" && tg.State == "ready" {
				gate = tg.Gate
				return true
			}
		}
		return false
	})
	served := load.Since()
	if !strings.HasPrefix(gate, "serving early, ready ") || !strings.HasSuffix(gate, " / "+recreateMinHealthy.String()) {
		t.Fatalf("the new target's gate reads %q: it should still be running, serving early", gate)
	}
	if logs := b.Logs(); !logged(logs, "container routed before min_healthy", "bbbbbbb") || logged(logs, "container ready", "bbbbbbb") {
		t.Fatalf("baton's log should say the new container was routed before its window, and not yet ready:\n%s", logs)
	}
	// A little traffic on the new release, then the figures.
	harness.Eventually(t, 10*time.Second, "traffic on the new release", func() bool {
		return load.Report(served, load.Since()).Releases["bbbbbbb"] > 20
	})
	rep := load.Stop()
	during := load.Report(before, served)
	t.Logf("before the recreate: %s", load.Report(0, before))
	t.Logf("through the recreate (compose up took %s, first answer of the new release %s after it began): %s",
		(recreated - before).Round(time.Millisecond), (served - before).Round(time.Millisecond), during)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("requests failed during a Compose recreate: %s", rep)
	}
	if during.Max >= recreateMinHealthy {
		t.Fatalf("a request was held %s, the whole min_healthy window: %s", during.Max, during)
	}
}

// logged reports whether a line of baton's log has msg and mentions version.
func logged(logs, msg, version string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, msg) && strings.Contains(line, version) {
			return true
		}
	}
	return false
}

// statusTargets reads `baton status --json` and returns the targets of the
// service routed on host.
func statusTargets(t *testing.T, b *harness.Baton, host string) []admin.TargetStatus {
	t.Helper()
	out, code := b.CLI("status", "--json")
	if code != 0 {
		t.Fatalf("baton status exit %d: %s", code, out)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("baton status --json: %v\n%s", err, out)
	}
	for _, s := range st.Services {
		for _, h := range s.Hosts {
			if h == host {
				return s.Targets
			}
		}
	}
	return nil
}
