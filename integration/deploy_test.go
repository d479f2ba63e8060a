package integration

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// release builds an image of the test app that serves sha, with the image's
// revision label saying so, as a real build would.
func release(t *testing.T, sha string, env ...string) string {
	tag := sha
	if len(env) > 0 {
		// Same SHA, other behaviour: another image.
		tag += "-" + fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(strings.Join(env, ","))))
	}
	return harness.Image(t, tag, map[string]string{"org.opencontainers.image.revision": sha}, append([]string{"RELEASE=" + sha}, env...)...)
}

// webService starts baton and a v1 container of service "web" on web.test.
func webService(t *testing.T, img string, extraLabels map[string]string, env ...string) (*harness.Baton, harness.Container) {
	t.Helper()
	net := harness.Network(t)
	b := harness.StartBaton(t, "")
	l := labels(map[string]string{"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "5s", "baton.stop.grace": "5s", "baton.verify.timeout": "3s"})
	for k, v := range extraLabels {
		l[k] = v
	}
	c := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Labels: l, Env: env, Restart: "on-failure"})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)
	return b, c
}

func lastRecord(t *testing.T, b *harness.Baton, service string) *cutover.Record {
	t.Helper()
	return lastRecordT(t, b, service)
}

// quietT turns a failed lookup into a panic the caller recovers from.
type quietT struct{}

func (quietT) Helper()               {}
func (quietT) Fatal(args ...any)     { panic("quiet") }
func (quietT) Fatalf(string, ...any) { panic("quiet") }

type fatalT interface {
	Helper()
	Fatal(args ...any)
	Fatalf(string, ...any)
}

func lastRecordT(t fatalT, b *harness.Baton, service string) *cutover.Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.StateDir, "deploys", service, "*.json"))
	var newest *cutover.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r cutover.Record
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("record %s is not whole JSON: %v", f, err)
		}
		if newest == nil || r.Started.After(newest.Started) {
			newest = &r
		}
	}
	if newest == nil {
		t.Fatal("no deploy record written")
	}
	return newest
}

func TestDeployUnderLoadIsZeroDowntimeAndVerified(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	// Readiness takes 3 s in both releases.
	b, old := webService(t, v1, nil, "READY_DELAY=3s")
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 6}).Start()
	time.Sleep(2 * time.Second)
	before := load.Since()
	out, code := b.CLI("deploy", "web", "--image", v2)
	during := load.Since()
	time.Sleep(500 * time.Millisecond)
	rep := load.Stop()
	t.Logf("deploy output:\n%s", out)
	t.Logf("load before: %s", load.Report(0, before))
	t.Logf("load during: %s", load.Report(before, during))
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("deploy exit %d:\n%s\n%s", code, out, b.Logs())
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors during the deploy: %s", rep)
	}
	if rep.Releases["bbbbbbb"] == 0 || rep.Releases["aaaaaaa"] == 0 {
		t.Fatalf("releases seen: %v", rep.Releases)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("after the deploy the front door serves %q", rel)
	}
	harness.Eventually(t, 15*time.Second, "old container removed", func() bool { return !harness.Exists(t, old.ID) })
	rec := lastRecord(t, b, "web")
	if rec.Step != cutover.StepDone || rec.Verified != "verified" || rec.Expected != "bbbbbbb" {
		t.Fatalf("record: step %s verified %s expected %s", rec.Step, rec.Verified, rec.Expected)
	}
	var steps []string
	for _, e := range rec.Events {
		if len(steps) == 0 || steps[len(steps)-1] != string(e.Step) {
			steps = append(steps, string(e.Step))
		}
	}
	if got := strings.Join(steps, ">"); got != "pending>starting>gating>switching>verifying>retiring>done" {
		t.Fatalf("timeline %s", got)
	}
	out, _ = b.CLI("history", "web")
	if !strings.Contains(out, rec.ID) || !strings.Contains(out, "done (verified)") {
		t.Fatalf("baton history web:\n%s", out)
	}
	out, _ = b.CLI("history", "web", rec.ID)
	if !strings.Contains(out, "switching") || !strings.Contains(out, "aaaaaaa -> bbbbbbb") {
		t.Fatalf("baton history web %s:\n%s", rec.ID, out)
	}
	out, _ = b.CLI("status")
	if !strings.Contains(out, "bbbbbbb") || !strings.Contains(out, "verified") || !strings.Contains(out, "done") {
		t.Fatalf("baton status after the deploy:\n%s", out)
	}
	// Rollback: the previous release comes back from the kept image and snapshot, no pull.
	load = (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	start := time.Now()
	out, code = b.CLI("rollback", "web")
	took := time.Since(start)
	rep = load.Stop()
	t.Logf("rollback took %s: %s\n%s", took.Round(time.Millisecond), rep, out)
	if code != 0 || rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("rollback exit %d, load %s:\n%s", code, rep, out)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "aaaaaaa" {
		t.Fatalf("after rollback the front door serves %q", rel)
	}
}

func TestDeployOfCrashingImageRevertsFast(t *testing.T) {
	v1, bad := release(t, "aaaaaaa"), release(t, "ccccccc", "CRASH_ON_START=1")
	b, old := webService(t, v1, map[string]string{"baton.health.deadline": "60s"})
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	start := time.Now()
	out, code := b.CLI("deploy", "web", "--image", bad)
	took := time.Since(start)
	rep := load.Stop()
	t.Logf("crash deploy took %s, exit %d:\n%s\nload: %s", took.Round(time.Millisecond), code, out, rep)
	if code != 5 {
		t.Fatalf("exit code %d, want 5 (reverted)", code)
	}
	if took > 10*time.Second {
		t.Fatalf("crash detected after %s: it must not wait for the deadline", took)
	}
	if !strings.Contains(out, "crash_loop") && !strings.Contains(out, "exited") {
		t.Fatalf("cause not named:\n%s", out)
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors: %s", rep)
	}
	if !harness.Running(t, old.ID) {
		t.Fatal("old container stopped by a failed deploy")
	}
	rec := lastRecord(t, b, "web")
	if rec.Step != cutover.StepReverted || len(rec.NewContainers) != 1 || harness.Exists(t, rec.NewContainers[0]) {
		t.Fatalf("record step %s, new containers %v (must be removed)", rec.Step, rec.NewContainers)
	}
}

func TestDeployNeverReadyRevertsAtDeadline(t *testing.T) {
	v1, slow := release(t, "aaaaaaa"), release(t, "ddddddd", "READY_DELAY=1h")
	b, _ := webService(t, v1, map[string]string{"baton.health.deadline": "4s"})
	start := time.Now()
	out, code := b.CLI("deploy", "web", "--image", slow)
	took := time.Since(start)
	if code != 5 || !strings.Contains(out, "not_ready") || !strings.Contains(out, "4s") {
		t.Fatalf("exit %d after %s:\n%s", code, took, out)
	}
	if took < 4*time.Second {
		t.Fatalf("gave up after %s, before the 4s deadline", took)
	}
}

func TestDeployMissingImageCouldNotStart(t *testing.T) {
	v1 := release(t, "aaaaaaa")
	b, _ := webService(t, v1, nil)
	out, code := b.CLI("deploy", "web", "--image", "baton-test-nope/app:missing")
	if code != 3 || !strings.Contains(out, "pull") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestRetireSIGKILLsContainerIgnoringSIGTERM(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa", "IGNORE_SIGTERM=1"), release(t, "bbbbbbb")
	b, old := webService(t, v1, map[string]string{"baton.stop.grace": "2s"})
	out, code := b.CLI("deploy", "web", "--image", v2)
	if code != 0 || !strings.Contains(out, "SIGKILL") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if rec := lastRecord(t, b, "web"); rec.Killed != 1 {
		t.Fatalf("record counts %d SIGKILLs, want 1", rec.Killed)
	}
	if harness.Exists(t, old.ID) {
		t.Fatal("old container not removed")
	}
}

func TestDeployRefusesFixedHostPort(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	net := harness.Network(t)
	b := harness.StartBaton(t, "")
	port := harness.FreePort(t)
	c := harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, HostPort: port,
		Labels: labels(map[string]string{"baton.service": "web", "baton.host": "web.test"})})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)
	out, code := b.CLI("deploy", "web", "--image", v2)
	if code != 3 || !strings.Contains(out, "ports:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !harness.Running(t, c.ID) {
		t.Fatal("the refused deploy touched the running container")
	}
}
