package drain

import (
	"context"
	"testing"
	"time"
)

// An upgrade drains everything the old process carries: every target's
// upgraded connections are ended at the bound and counted, and so is a
// request still in flight.
func TestDrainAllEndsEveryTargetsUpgrades(t *testing.T) {
	r := NewRegistry()
	a, b := newFakeConn(r.For("a")), newFakeConn(r.For("b"))
	req := beginRequest(t, r.For("c"))
	go func() { <-a.ended; req.finish() }()
	rep := r.DrainAll(context.Background(), 50*time.Millisecond)
	if a.endTime().IsZero() || b.endTime().IsZero() {
		t.Fatal("an upgraded connection was not ended")
	}
	if rep.UpgradesClosed != 2 || rep.Finished+rep.Cancelled != 1 {
		t.Fatalf("report %+v: want 2 upgrades closed and the request counted", rep)
	}
	for _, id := range []string{"a", "b", "c"} {
		if tg := r.For(id); tg.Upgrades() != 0 || tg.InFlight() != 0 {
			t.Fatalf("target %s still carries traffic", id)
		}
	}
}
