package integration

// Helpers of the crash matrix (crash_matrix_test.go), which replaced the
// three kill -9 tests that were here, and of the upgrade tests.

import (
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

func waitTerminal(t *testing.T, b *harness.Baton, id string) *cutover.Record {
	t.Helper()
	var rec *cutover.Record
	harness.Eventually(t, 60*time.Second, "the resumed deploy to end", func() bool {
		rec = lastRecordQuiet(b)
		return rec != nil && rec.ID == id && rec.Ended()
	})
	return rec
}
