package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// A worker mid-job at deploy time finishes its job before SIGTERM: the
// pre-stop hook asks it to drain and baton waits for it.
func TestWorkerFinishesItsJobBeforeSIGTERM(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa", "WORKER=1", "JOB_DURATION=5s"), release(t, "bbbbbbb", "WORKER=1", "JOB_DURATION=5s")
	b := harness.StartBaton(t, "")
	jobs := t.TempDir()
	os.Chmod(jobs, 0o777)
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: harness.Network(t), Env: []string{"JOBS_FILE=/jobs/jobs.log"}, Binds: []string{jobs + ":/jobs"},
		Labels: labels(map[string]string{"baton.service": "worker", "baton.prestop.http": "/drain", "baton.prestop.wait": "/drained", "baton.prestop.timeout": "20s", "baton.stop.grace": "1s"})})
	harness.Eventually(t, 20*time.Second, "the worker ready in baton status", func() bool {
		out, _ := b.CLI("status")
		return strings.Contains(out, "worker") && strings.Contains(out, "(ready,")
	})
	// A 1 s stop grace would SIGKILL a 5 s job: only the pre-stop drain,
	// waited for before SIGTERM, lets it finish.
	time.Sleep(time.Second)
	if before, _ := os.ReadFile(filepath.Join(jobs, "jobs.log")); strings.Count(string(before), "started") <= strings.Count(string(before), "finished") {
		t.Fatalf("no job in flight at deploy time:\n%s", before)
	}
	out, code := b.CLI("deploy", "worker", "--image", v2)
	t.Logf("deploy:\n%s", out)
	if code != 0 {
		t.Fatalf("worker deploy exit %d", code)
	}
	// A worker has no front door: neither verified nor "unverified" (exit 0).
	if rec := lastRecord(t, b, "worker"); rec.Verified != cutover.NoFrontDoor {
		t.Fatalf("worker deploy recorded verified=%q, want %q", rec.Verified, cutover.NoFrontDoor)
	}
	data, err := os.ReadFile(filepath.Join(jobs, "jobs.log"))
	if err != nil {
		t.Fatal(err)
	}
	started, finished := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "aaaaaaa" {
			if f[0] == "started" {
				started[f[1]] = true
			} else {
				finished[f[1]] = true
			}
		}
	}
	for job := range started {
		if !finished[job] {
			t.Fatalf("job %s of the old worker was cut by the deploy:\n%s", job, data)
		}
	}
}
