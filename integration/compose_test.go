package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// compose runs Compose (v2 plugin or v1 binary, whichever the machine has).
func compose(t *testing.T, dir, project string, args ...string) string {
	t.Helper()
	return composeEnv(t, dir, project, nil, args...)
}

// composeEnv runs Compose with extra environment (the variables a Compose
// file interpolates).
func composeEnv(t *testing.T, dir, project string, env []string, args ...string) string {
	t.Helper()
	out, err := composeCmd(t, dir, project, env, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func composeCmd(t *testing.T, dir, project string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	var cmd *exec.Cmd
	if exec.Command("docker", "compose", "version").Run() == nil {
		cmd = exec.Command("docker", append([]string{"compose", "-p", project}, args...)...)
	} else if path, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command(path, append([]string{"-p", project}, args...)...)
	} else {
		t.Fatal("neither `docker compose` nor docker-compose is installed (.ci/run installs docker-compose)")
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func writeCompose(t *testing.T, dir, image string) {
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
      baton.health.min_healthy: 1s
`, image, harness.RunLabel, harness.RunID())
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A plain `docker compose up -d` with a new image stops the old container
// before the new one is ready; baton holds requests instead of failing them.
func TestComposeRecreateLosesNoRequestThanksToHold(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b := harness.StartBaton(t, "")
	dir := t.TempDir()
	project := "batontest" + harness.RunID()
	t.Cleanup(func() { compose(t, dir, project, "down", "--remove-orphans", "-t", "1") })
	writeCompose(t, dir, v1)
	compose(t, dir, project, "up", "-d")
	harness.WaitHTTP(t, b.URL+"/", "compose.test", 30*time.Second)

	load := (&harness.Load{URL: b.URL + "/", Host: "compose.test", Workers: 6}).Start()
	time.Sleep(time.Second)
	before := load.Since()
	writeCompose(t, dir, v2)
	compose(t, dir, project, "up", "-d")
	harness.Eventually(t, 30*time.Second, "the new release serving", func() bool {
		_, rel := getRelease(t, b.URL+"/", "compose.test")
		return rel == "bbbbbbb"
	})
	during := load.Since()
	time.Sleep(500 * time.Millisecond)
	rep := load.Stop()
	t.Logf("before the recreate: %s", load.Report(0, before))
	t.Logf("during the recreate: %s (max is the longest hold)", load.Report(before, during))
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("requests failed during a Compose recreate: %s", rep)
	}
}

// baton deploy --all redeploys every service of a Compose project with the
// image its containers name, after that tag moved to a new build.
func TestDeployAllRedeploysTheComposeProject(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	tag := fmt.Sprintf("baton-test-%s/app:compose-latest", harness.RunID())
	harness.Tag(t, v1, tag)
	b := harness.StartBaton(t, "")
	dir := t.TempDir()
	project := "batontestall" + harness.RunID()
	t.Cleanup(func() { compose(t, dir, project, "down", "--remove-orphans", "-t", "1") })
	service := func(name string) string {
		return fmt.Sprintf(`  %s:
    image: %s
    labels:
      %s: %q
      baton.enable: "true"
      baton.host: %s.compose.test
      baton.health.path: /healthz
      baton.health.interval: 100ms
      baton.health.min_healthy: 1s
      baton.verify.timeout: 3s
`, name, tag, harness.RunLabel, harness.RunID(), name)
	}
	os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte("version: \"3.7\"\nservices:\n"+service("api")+service("web")), 0o600)
	compose(t, dir, project, "up", "-d")
	harness.WaitHTTP(t, b.URL+"/", "api.compose.test", 30*time.Second)
	harness.WaitHTTP(t, b.URL+"/", "web.compose.test", 30*time.Second)

	harness.Tag(t, v2, tag) // docker compose build: the tag now names the new release
	out, code := b.CLI("deploy", "--all", "--project", project)
	t.Logf("deploy --all exit %d:\n%s", code, out)
	if code != 0 || strings.Index(out, project+"-api") > strings.Index(out, project+"-web") {
		t.Fatalf("deploy --all failed or went out of order")
	}
	for _, host := range []string{"api.compose.test", "web.compose.test"} {
		if _, rel := getRelease(t, b.URL+"/", host); rel != "bbbbbbb" {
			t.Fatalf("%s serves %q after deploy --all", host, rel)
		}
	}
}
