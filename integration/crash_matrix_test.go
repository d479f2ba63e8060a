package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// crashRow is one row of the crash matrix: a deploy of strategy killed
// (SIGKILL, by the test build's failpoint) right after the record of step at
// reached the disk, then a restart.
type crashRow struct {
	strategy string // bluegreen, rolling, adopt
	at       string // BATON_CRASH_AT: step, step:n (nth write of it), or created
	bad      bool   // the new image exits at once: the deploy fails and reverts
	want     cutover.Step
}

// The crash matrix of issue #15: whatever step baton dies at, the restarted
// baton ends in one well-defined state: one release live (every answer
// through the front door from it), the interrupted deploy's record complete
// with its outcome, every container on the service's network one that
// serves (no orphan, none left stopped) and as many as before the deploy.
func TestCrashMatrix(t *testing.T) {
	rows := []crashRow{
		{"bluegreen", "starting", false, cutover.StepReverted},
		{"bluegreen", "created", false, cutover.StepReverted},
		{"bluegreen", "gating", false, cutover.StepReverted},
		{"bluegreen", "switching", false, cutover.StepReverted},
		{"bluegreen", "verifying", false, cutover.StepReverted},
		{"bluegreen", "retiring", false, cutover.StepDone},
		{"bluegreen", "failed", true, cutover.StepReverted},
		{"bluegreen", "reverting", true, cutover.StepReverted},
		{"rolling", "gating:2", false, cutover.StepReverted},
		{"rolling", "retiring:1", false, cutover.StepReverted},
		{"rolling", "verifying", false, cutover.StepReverted},
		// The new image starts once, then crash-loops: batch 1 passes,
		// batch 2 fails, and the revert is killed once it has restored
		// the replica batch 1 replaced.
		{"rolling", "restored", true, cutover.StepReverted},
		{"adopt", "gating", false, cutover.StepReverted},
		{"adopt", "switching", false, cutover.StepReverted},
		{"adopt", "retiring", false, cutover.StepDone},
	}
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	bad := release(t, "ccccccc", "CRASH_ON_START=1")
	badSecond := release(t, "ccccccc", "CRASH_AFTER_STARTS=1", "STARTS_FILE=/shared/starts")
	for _, row := range rows {
		t.Run(row.strategy+"/"+strings.ReplaceAll(row.at, ":", "#"), func(t *testing.T) {
			b := bad
			if row.strategy == "rolling" {
				b = badSecond
			}
			runCrashRow(t, row, v1, v2, b)
		})
	}
}

func runCrashRow(t *testing.T, row crashRow, v1, v2, bad string) {
	t.Setenv("BATON_CRASH_AT", row.at) // the baton started below inherits it
	net := harness.Network(t)
	t.Cleanup(func() { removeOnNetwork(t, net) }) // what baton created; before the network goes
	b := harness.StartBaton(t, "")
	l := labels(map[string]string{"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "2s",
		"baton.stop.grace": "2s", "baton.verify.timeout": "3s"})
	replicas := 1
	var binds []string
	if row.strategy == "rolling" {
		replicas = 2
		l["baton.deploy.strategy"], l["baton.deploy.max_parallel"], l["baton.deploy.stagger"] = "rolling", "1", "0s"
		shared := t.TempDir() // the new image's start count, across its containers
		if err := os.Chmod(shared, 0o777); err != nil {
			t.Fatal(err)
		}
		binds = []string{shared + ":/shared"}
	}
	for i := 0; i < replicas; i++ {
		harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Labels: l, Binds: binds, Restart: "on-failure"})
	}
	harness.Eventually(t, 30*time.Second, fmt.Sprintf("%d ready replica(s)", replicas), func() bool {
		return len(readyTargets(b, "aaaaaaa")) == replicas
	})
	image, wantSHA := v2, "aaaaaaa"
	if row.bad {
		image = bad
	}
	if row.want == cutover.StepDone {
		wantSHA = "bbbbbbb"
	}
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	if row.strategy == "adopt" {
		// A plain docker run of another version with the service's labels.
		harness.Run(t, harness.ContainerOpts{Image: v2, Network: net, Labels: l})
	} else {
		go b.CLI("deploy", "web", "--image", image)
	}
	harness.Eventually(t, 90*time.Second, "baton to kill itself at "+row.at, func() bool { return harness.Exited(b.PID()) })
	if _, err := os.Stat(filepath.Join(b.StateDir, "crashpoint.fired")); err != nil {
		t.Fatalf("baton exited, but not at its failpoint: %v\n%s", err, b.Logs())
	}
	crashed := lastRecord(t, b, "web")
	if crashed.Ended() {
		t.Fatalf("the record ended before the crash: %s", crashed.Step)
	}
	b.Restart()
	restarted := load.Since() // requests fail while baton is down: that gap is not measured here

	final := waitTerminal(t, b, crashed.ID)
	t.Logf("crashed at %s (record step %s); resumed to %s: %s", row.at, crashed.Step, final.Step, final.Events[len(final.Events)-1].Detail)
	if final.Step != row.want {
		t.Fatalf("resumed deploy ended %s (%s), want %s", final.Step, final.Cause, row.want)
	}
	switch {
	case row.bad && (final.Cause == "" || final.Cause == cutover.CauseInterrupted):
		t.Fatalf("a deploy that failed before the crash ended with cause %q, want its own (crash_loop, exited)", final.Cause)
	case !row.bad && row.want == cutover.StepReverted && final.Cause != cutover.CauseInterrupted:
		t.Fatalf("reverted with cause %q, want %s", final.Cause, cutover.CauseInterrupted)
	}
	// The record is the whole story: what happened before the crash, then
	// the restart's resume.
	if n := len(crashed.Events); len(final.Events) <= n || final.Events[n-1].Step != crashed.Step {
		t.Fatalf("the record lost its history before the crash: %v", eventSteps(final))
	}
	if !strings.Contains(strings.Join(detailsOf(final), "\n"), "baton restarted") {
		t.Fatalf("the record does not say baton restarted: %v", detailsOf(final))
	}
	// One release live: the containers on the network are exactly the
	// routed targets of it, all running, as many as before.
	harness.Eventually(t, 60*time.Second, fmt.Sprintf("only %d running container(s) of %s, all routed", replicas, wantSHA), func() bool {
		ready := readyTargets(b, wantSHA)
		running, all := onNetwork(t, net)
		if len(ready) != replicas || len(all) != replicas || len(running) != replicas {
			return false
		}
		for _, id := range running {
			if !ready[id] {
				return false
			}
		}
		return true
	})
	assertServes(t, b, wantSHA)
	load.Stop()
	if after := load.Report(restarted, time.Hour); after.Non2xx != 0 || after.ConnErrors != 0 {
		t.Fatalf("requests failed once baton was back, through the resume: %s", after)
	}
}

// readyTargets lists the ready targets of service web serving sha.
func readyTargets(b *harness.Baton, sha string) map[string]bool {
	out := map[string]bool{}
	var st admin.Status
	if err := admin.NewClient(b.Admin, "").GetJSON(context.Background(), "/v1/services", &st); err != nil {
		return out
	}
	for _, s := range st.Services {
		if s.Name != "web" {
			continue
		}
		for _, tg := range s.Targets {
			if tg.State == "ready" && tg.Version == sha {
				out[tg.ID] = true
			}
		}
	}
	return out
}

// onNetwork lists this run's containers on net: the running ones and all.
func onNetwork(t *testing.T, net string) (running, all []string) {
	cs, err := harness.Docker(t).ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", harness.RunLabel+"="+harness.RunID()), filters.Arg("network", net))})
	if err != nil {
		return nil, nil
	}
	for _, c := range cs {
		all = append(all, c.ID)
		if c.State == "running" {
			running = append(running, c.ID)
		}
	}
	return running, all
}

func removeOnNetwork(t *testing.T, net string) {
	_, all := onNetwork(t, net)
	for _, id := range all {
		harness.Remove(t, id)
	}
}

func eventSteps(rec *cutover.Record) []string {
	var out []string
	for _, e := range rec.Events {
		out = append(out, string(e.Step))
	}
	return out
}

func detailsOf(rec *cutover.Record) []string {
	var out []string
	for _, e := range rec.Events {
		out = append(out, string(e.Step)+": "+e.Detail)
	}
	return out
}
