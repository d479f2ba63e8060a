package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// engineRow is one row of the engine-loss matrix: the Docker engine goes
// away (its socket refuses, or it answers 500 to everything) when the
// deploy reaches step, and comes back later.
type engineRow struct {
	name   string
	at     cutover.Step // the step the engine goes at; pending: before the deploy
	broken bool         // answers errors instead of refusing
	expect string       // --expect: a fingerprint the new release does not serve fails the verify
	want   cutover.Step
	live   string // the release serving at the end
}

// Issue #15: the engine going away mid-deploy never stops serving (the
// route table is baton's own), and the deploy fails safe: refused before
// anything changed, or it waits for the engine, bounded, and goes on when
// it answers again; the record says which. At the end one release serves
// and no container is left behind.
func TestEngineLossMidDeploy(t *testing.T) {
	rows := []engineRow{
		{"refused-before-the-deploy", cutover.StepPending, false, "", cutover.StepFailed, "aaaaaaa"},
		{"errors-before-the-deploy", cutover.StepPending, true, "", cutover.StepFailed, "aaaaaaa"},
		// The gate does not count the time the engine is away: the old
		// release serves meanwhile, the gate passes once it answers again.
		{"refused-while-gating", cutover.StepGating, false, "", cutover.StepDone, "bbbbbbb"},
		{"refused-while-retiring", cutover.StepVerifying, false, "", cutover.StepDone, "bbbbbbb"},
		{"errors-while-retiring", cutover.StepVerifying, true, "", cutover.StepDone, "bbbbbbb"},
		{"refused-while-reverting", cutover.StepVerifying, false, "ddddddd", cutover.StepReverted, "aaaaaaa"},
	}
	v1 := release(t, "aaaaaaa")
	// Slow to answer its fingerprint: the verify step lasts long enough to
	// take the engine away while it runs, before the retire or revert.
	v2 := release(t, "bbbbbbb", "VERSION_DELAY=2s")
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { runEngineRow(t, row, v1, v2) })
	}
}

func runEngineRow(t *testing.T, row engineRow, v1, v2 string) {
	net := harness.Network(t)
	t.Cleanup(func() { removeOnNetwork(t, net) })
	sock := harness.NewSocketProxy(t)
	b := harness.StartBaton(t, "docker:\n  host: unix://"+sock.Path+"\n")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "10s"})})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	down := func() {
		if row.broken {
			sock.Break()
		} else {
			sock.Cut()
		}
	}

	args := []string{"deploy", "web", "--image", v2}
	if row.expect != "" {
		args = append(args, "--expect", row.expect)
	}
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	if row.at == cutover.StepPending {
		down()
	}
	go func() { out, code := b.CLI(args...); done <- result{out, code} }()
	var res result
	switch row.at {
	case cutover.StepPending:
		res = <-done
		if res.code != 3 || !strings.Contains(res.out, "docker engine did not answer") {
			t.Fatalf("deploy with the engine gone: exit %d, want 3 (refused) naming the engine:\n%s", res.code, res.out)
		}
		if _, all := onNetwork(t, net); len(all) != 1 {
			t.Fatalf("a refused deploy created containers: %d on the network", len(all))
		}
		sock.Restore()
	case cutover.StepGating:
		waitStep(t, b, cutover.StepGating)
		down()
		// The fault's length, not a synchronisation: the engine stays away
		// for longer than the gate's min_healthy.
		time.Sleep(3 * time.Second)
		if rec := lastRecord(t, b, "web"); rec.Step != cutover.StepGating {
			t.Fatalf("the gate passed while the engine was away: %s", rec.Step)
		}
		assertServes(t, b, "aaaaaaa")
		sock.Restore()
		res = <-done
	default:
		waitStep(t, b, row.at)
		down()
		rec := waitEvent(t, b, cutover.CauseEngineUnavailable)
		t.Logf("while the engine is away: %s", rec.Events[len(rec.Events)-1].Detail)
		if rec.Ended() {
			t.Fatalf("the deploy ended while the engine was away: %s", rec.Step)
		}
		assertServes(t, b, row.live)
		sock.Restore()
		res = <-done
	}
	rep := load.Stop()
	final := lastRecord(t, b, "web")
	t.Logf("deploy exit %d, record %s (%s), load %s\n%s", res.code, final.Step, final.Cause, rep, strings.Join(detailsOf(final), "\n"))
	if final.Step != row.want {
		t.Fatalf("deploy ended %s (%s), want %s", final.Step, final.Cause, row.want)
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors while the engine was away: %s", rep)
	}
	if row.at == cutover.StepVerifying && !strings.Contains(strings.Join(detailsOf(final), "\n"), "done once the docker engine answered again") {
		t.Fatalf("the record does not say the deploy waited for the engine and went on")
	}
	harness.Eventually(t, 60*time.Second, fmt.Sprintf("only one running container, of %s, routed", row.live), func() bool {
		ready := readyTargets(b, row.live)
		running, all := onNetwork(t, net)
		return len(ready) == 1 && len(all) == 1 && len(running) == 1 && ready[running[0]]
	})
	assertServes(t, b, row.live)
}

// waitEvent waits until the running deploy's record has an event of cause.
func waitEvent(t *testing.T, b *harness.Baton, cause string) *cutover.Record {
	t.Helper()
	var rec *cutover.Record
	harness.Eventually(t, 60*time.Second, "an event with cause "+cause, func() bool {
		rec = lastRecordQuiet(b)
		if rec == nil {
			return false
		}
		for _, e := range rec.Events {
			if e.Cause == cause {
				return true
			}
		}
		return false
	})
	return rec
}

func assertServes(t *testing.T, b *harness.Baton, sha string) {
	t.Helper()
	for i := 0; i < 10; i++ {
		if code, rel := getRelease(t, b.URL+"/", "web.test"); code != 200 || rel != sha {
			t.Fatalf("front door answered %d %q, want %s", code, rel, sha)
		}
	}
}
