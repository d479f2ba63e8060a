package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/upstream"
)

// blockGater gates nothing: it waits until its context ends.
type blockGater struct{ gating chan string }

func (g blockGater) Gate(ctx context.Context, in upstream.Instance, _ GateOptions) error {
	g.gating <- in.ID
	<-ctx.Done()
	return ctx.Err()
}

// A deploy handed over during its gate stops without a verdict and without
// touching a container; the next process (another Deployer on the same state
// dir) goes on from the gate to done.
func TestHandOffDuringGatingGoesOnInTheNextProcess(t *testing.T) {
	d, e, _ := newDeployer(t, nil)
	g := blockGater{gating: make(chan string, 1)}
	d.Gater = g
	type result struct {
		rec *Record
		err error
	}
	res := make(chan result, 1)
	go func() {
		rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
		res <- result{rec, err}
	}()
	<-g.gating
	ids, err := d.HandOff(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := <-res
	if !errors.Is(r.err, ErrHandedOff) || len(ids) != 1 || ids[0] != r.rec.ID {
		t.Fatalf("deploy returned %v, HandOff %v", r.err, ids)
	}
	saved, err := d.Store.Load("web", r.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Step != StepGating || saved.HandedOff != StepGating || saved.Ended() {
		t.Fatalf("saved record at %s, handed off %q, ended %v: want gating, for the next process", saved.Step, saved.HandedOff, saved.Ended())
	}
	if got := strings.Join(e.calls, ","); got != "create img:v2" {
		t.Fatalf("engine calls %s: the hand-over must not revert", got)
	}
	if _, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v3"}, nil); !errors.Is(err, ErrUpgrading) {
		t.Fatalf("a deploy during the hand-over: %v, want ErrUpgrading", err)
	}

	// The next process: its own controller, the same state dir.
	c2, router2, _ := newTestController(t)
	e2 := &fakeEngine{version: "v2"}
	parentDone := make(chan struct{})
	d2 := &Deployer{Controller: c2, Engine: e2, Gater: passGater{}, Retirer: recordingRetirer{e2}, Verifier: fixedVerifier{}, Store: d.Store, HandedOffAfter: parentDone}
	recs, releases, err := d2.ClaimUnfinished()
	if err != nil || len(recs) != 1 {
		t.Fatalf("claimed %d records: %v", len(recs), err)
	}
	old := inst("old1", "web", "v1", "10.0.0.1:80", 1)
	fresh := inst("new1", "web", "v2", "10.0.9.1:80", 101)
	old.Spec.Deploy.AutoRevert, fresh.Spec.Deploy.AutoRevert = true, true
	c2.Update([]upstream.Instance{old, fresh})
	resumed := make(chan struct{})
	go func() { d2.Resume(context.Background(), recs, releases); close(resumed) }()
	select {
	case <-resumed:
		t.Fatal("resumed before the previous process was done")
	case <-time.After(50 * time.Millisecond):
	}
	close(parentDone)
	<-resumed
	final, err := d2.Store.Load("web", r.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Step != StepDone || final.HandedOff != "" || final.Verified != Verified {
		t.Fatalf("continued deploy ended %s (%s), handed off %q", final.Step, final.Cause, final.HandedOff)
	}
	if got := steps(final); got != "pending>starting>gating>switching>verifying>retiring>done" {
		t.Fatalf("steps %s", got)
	}
	if got := strings.Join(e2.calls, ","); got != "retire old1" {
		t.Fatalf("the next process's engine calls %s, want only the retire of the old", got)
	}
	waitAddrs(t, router2, "web.test", "10.0.9.1:80")
}

// A process that could not hand over (the new one never became ready) goes
// on with the deploys it stopped.
func TestEndHandOffResumesHere(t *testing.T) {
	d, _, router := newDeployer(t, nil)
	g := blockGater{gating: make(chan string, 1)}
	d.Gater = g
	res := make(chan *Record, 1)
	go func() {
		rec, _ := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
		res <- rec
	}()
	<-g.gating
	if _, err := d.HandOff(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := <-res
	// The provider sees the new container, as Docker's events would show it.
	old := inst("old1", "web", "v1", "10.0.0.1:80", 1)
	fresh := inst("new1", "web", "v2", "10.0.9.1:80", 101)
	old.Spec.Deploy.AutoRevert, fresh.Spec.Deploy.AutoRevert = true, true
	d.Controller.Update([]upstream.Instance{old, fresh})
	d.EndHandOff()
	d.Gater = passGater{}
	if err := d.ResumeHandedOff(context.Background()); err != nil {
		t.Fatal(err)
	}
	var saved *Record
	testutil.EventuallyNil(t, "the deploy to end after the upgrade failed", func() error {
		var err error
		if saved, err = d.Store.Load("web", rec.ID); err == nil && !saved.Ended() {
			err = fmt.Errorf("still at %s", saved.Step)
		}
		return err
	})
	if saved.Step != StepDone {
		t.Fatalf("resumed here, ended %s (%s)", saved.Step, saved.Cause)
	}
	waitAddrs(t, router, "web.test", "10.0.9.1:80")
}
