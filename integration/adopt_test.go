package integration

import (
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

func TestDockerRunOfNewVersionIsAdoptedWithoutErrors(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b, old := webService(t, v1, nil)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 6}).Start()
	time.Sleep(time.Second)
	// A plain `docker run` with the service's labels and a new image.
	harness.Run(t, harness.ContainerOpts{Image: v2, Network: harness.NetworkOf(t, old.ID), Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "5s", "baton.verify.timeout": "3s"})})
	harness.Eventually(t, 60*time.Second, "the old container retired", func() bool { return !harness.Exists(t, old.ID) })
	time.Sleep(500 * time.Millisecond)
	rep := load.Stop()
	t.Logf("adoption under load: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors during adoption: %s", rep)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("after adoption the front door serves %q", rel)
	}
	if rec := lastRecord(t, b, "web"); rec.Step != cutover.StepDone || rec.Verified != "verified" {
		t.Fatalf("adoption record: %s %s", rec.Step, rec.Verified)
	}
}
