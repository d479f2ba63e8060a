package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// waitStep waits until the running deploy's record reaches step.
func waitStep(t *testing.T, b *harness.Baton, step cutover.Step) *cutover.Record {
	t.Helper()
	var rec *cutover.Record
	harness.Eventually(t, 60*time.Second, "deploy step "+string(step), func() bool {
		defer func() { recover() }() // no record yet
		rec = lastRecordQuiet(b)
		return rec != nil && rec.Step == step
	})
	return rec
}

func lastRecordQuiet(b *harness.Baton) *cutover.Record {
	ft := &quietT{}
	defer func() { recover() }()
	return lastRecordT(ft, b, "web")
}

func TestBatonKilledDuringGatingRevertsOnRestart(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb", "READY_DELAY=4s")
	b, old := webService(t, v1, nil)
	go b.CLI("deploy", "web", "--image", v2)
	rec := waitStep(t, b, cutover.StepGating)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()
	time.Sleep(300 * time.Millisecond)
	killed := load.Since()
	b.Kill()
	time.Sleep(300 * time.Millisecond) // baton is down: requests fail, and that is the gap measured
	b.Restart()
	restarted := load.Since()
	final := waitTerminal(t, b, rec.ID)
	time.Sleep(500 * time.Millisecond)
	load.Stop()
	gap := load.Report(killed, restarted)
	t.Logf("gap while baton was down and starting (%s): %s", (restarted - killed).Round(time.Millisecond), gap)
	t.Logf("after the restart: %s", load.Report(restarted, time.Hour))
	if final.Step != cutover.StepReverted || final.Cause != cutover.CauseInterrupted {
		t.Fatalf("resumed deploy ended %s (%s), want reverted (interrupted)", final.Step, final.Cause)
	}
	if after := load.Report(restarted, time.Hour); after.Non2xx != 0 || after.ConnErrors != 0 {
		t.Fatalf("requests failed once baton was back: %s", after)
	}
	if !harness.Running(t, old.ID) {
		t.Fatal("old container not serving after the revert")
	}
	for _, id := range final.NewContainers {
		if harness.Exists(t, id) {
			t.Fatal("new container leaked after the revert")
		}
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "aaaaaaa" {
		t.Fatalf("front door serves %q", rel)
	}
}

func TestBatonKilledDuringRetiringFinishesOnRestart(t *testing.T) {
	// The old release ignores SIGTERM: retiring waits the 6s stop grace.
	v1, v2 := release(t, "aaaaaaa", "IGNORE_SIGTERM=1"), release(t, "bbbbbbb")
	b, old := webService(t, v1, map[string]string{"baton.stop.grace": "6s"})
	go b.CLI("deploy", "web", "--image", v2)
	rec := waitStep(t, b, cutover.StepRetiring)
	b.Kill()
	b.Restart()
	final := waitTerminal(t, b, rec.ID)
	if final.Step != cutover.StepDone {
		t.Fatalf("resumed deploy ended %s (%s), want done", final.Step, final.Cause)
	}
	harness.Eventually(t, 30*time.Second, "old container removed", func() bool { return !harness.Exists(t, old.ID) })
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("front door serves %q", rel)
	}
	var steps []string
	for _, e := range final.Events {
		steps = append(steps, string(e.Step))
	}
	if !strings.Contains(strings.Join(steps, ","), "verifying,retiring") {
		t.Fatalf("record lost its history: %v", steps)
	}
}

func waitTerminal(t *testing.T, b *harness.Baton, id string) *cutover.Record {
	t.Helper()
	var rec *cutover.Record
	harness.Eventually(t, 60*time.Second, "the resumed deploy to end", func() bool {
		rec = lastRecordQuiet(b)
		return rec != nil && rec.ID == id && rec.Ended()
	})
	return rec
}

// Killed right after the switch, while verifying through the front door: the
// new release was never verified, so the restarted baton switches back.
func TestBatonKilledAfterTheSwitchRevertsOnRestart(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb", "VERSION_DELAY=3s")
	b, old := webService(t, v1, map[string]string{"baton.verify.timeout": "20s"})
	go b.CLI("deploy", "web", "--image", v2)
	rec := waitStep(t, b, cutover.StepVerifying)
	b.Kill()
	b.Restart()
	final := waitTerminal(t, b, rec.ID)
	if final.Step != cutover.StepReverted || final.Cause != cutover.CauseInterrupted {
		t.Fatalf("resumed deploy ended %s (%s), want reverted (interrupted)", final.Step, final.Cause)
	}
	if !harness.Running(t, old.ID) {
		t.Fatal("old container not running after the revert")
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "aaaaaaa" {
		t.Fatalf("front door serves %q after the revert", rel)
	}
}
