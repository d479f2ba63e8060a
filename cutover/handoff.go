package cutover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
)

// Hand-over of running deploys to the next baton process (`baton upgrade`).
// The old process stops each deploy at a safe point, without a verdict and
// without reverting, and leaves its record saying which step comes next; the
// new process claims the record at start (ClaimUnfinished) and goes on from
// that step (Resume). Safe points: the gate and the retire's drain are cut
// short (they only wait); creating containers and the verify probes run to
// their end first (seconds), so that no container exists that no record names.

var (
	// ErrHandedOff ends a deploy in this process: the next one goes on with it.
	ErrHandedOff = errors.New("deploy handed over to the next baton process")
	// ErrUpgrading refuses a deploy while this process hands over to the next.
	ErrUpgrading = errors.New("baton is upgrading; deploy again once `baton upgrade` has finished (the new process takes it)")
	// ErrRollingDeploy refuses an upgrade while a rolling deploy runs: its
	// batches are not recorded finely enough for another process to go on.
	ErrRollingDeploy = errors.New("a rolling deploy is running and cannot be handed over between batches; upgrade once it has ended")
)

// CauseHandedOff is the stream's cause for a deploy that goes on in the next
// process; it is no verdict.
const CauseHandedOff = "handed_off"

// track registers a run so HandOff can reach it; false while handing off.
func (d *Deployer) track(r *run) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handingOff {
		return false
	}
	if d.runs == nil {
		d.runs = map[*run]struct{}{}
	}
	d.runs[r] = struct{}{}
	r.done = make(chan struct{})
	return true
}

func (d *Deployer) untrack(r *run) {
	d.mu.Lock()
	delete(d.runs, r)
	d.mu.Unlock()
	close(r.done)
}

// HandOff stops every running deploy at its next safe point and returns the
// IDs of those left for the next process; deploys and adoptions are refused
// from now on (ErrUpgrading) until EndHandOff. A deploy that is failing
// finishes its revert first. It refuses while a rolling deploy runs
// (ErrRollingDeploy); deploys it already stopped are then in the store for
// ResumeHandedOff.
func (d *Deployer) HandOff(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	for r := range d.runs {
		if r.isRolling() {
			d.mu.Unlock()
			return nil, fmt.Errorf("%w: %s (deploy %s)", ErrRollingDeploy, r.rec.Service, r.rec.ID)
		}
	}
	d.handingOff = true
	runs := make([]*run, 0, len(d.runs))
	for r := range d.runs {
		runs = append(runs, r)
	}
	d.mu.Unlock()
	var rolling error
	for _, r := range runs {
		if !r.requestHandOff() {
			rolling = fmt.Errorf("%w: %s (deploy %s)", ErrRollingDeploy, r.rec.Service, r.rec.ID)
		}
	}
	if rolling != nil {
		return nil, rolling
	}
	var ids []string
	for _, r := range runs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("deploy %s of %s did not reach a safe point to hand over: %w", r.rec.ID, r.rec.Service, context.Cause(ctx))
		}
		if r.rec.HandedOff != "" {
			ids = append(ids, r.rec.ID)
		}
	}
	return ids, nil
}

// EndHandOff accepts deploys again: the upgrade did not happen. The caller
// then resumes the deploys HandOff stopped (ResumeHandedOff).
func (d *Deployer) EndHandOff() {
	d.mu.Lock()
	d.handingOff = false
	d.mu.Unlock()
}

// ResumeHandedOff goes on, in this process, with the deploys HandOff stopped
// here when the next process did not take them (it never became ready).
func (d *Deployer) ResumeHandedOff(ctx context.Context) error {
	recs, releases, err := d.ClaimUnfinished()
	if err != nil {
		return err
	}
	go d.Resume(ctx, recs, releases)
	return nil
}

// requestHandOff asks the run to stop at its next safe point and cuts short
// what it waits for; false for a rolling deploy, which does not stop.
func (r *run) requestHandOff() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rolling {
		return false
	}
	r.handoff = true
	for _, cancel := range r.waits {
		cancel(ErrHandedOff)
	}
	return true
}

func (r *run) isRolling() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rolling
}

// startRolling marks the run as a rolling deploy; false when a hand-over was
// asked for first (the deploy is then refused before anything changed).
func (r *run) startRolling() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handoff {
		return false
	}
	r.rolling = true
	return true
}

// handingOff reports whether the run must stop before the step it is about
// to record: a hand-over was asked for, and the run is neither reverting
// (that runs to its end here) nor rolling.
func (r *run) handingOff() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handoff && !r.failing && !r.rolling
}

// interruptible runs wait (a gate, a drain) with a context a hand-over
// cancels with ErrHandedOff; it reports whether it did.
func (r *run) interruptible(ctx context.Context, wait func(context.Context)) (handedOff bool) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.mu.Lock()
	if r.waits == nil {
		r.waits = map[*context.CancelCauseFunc]context.CancelCauseFunc{}
	}
	key := &cancel
	r.waits[key] = cancel
	if r.handoff && !r.rolling && !r.failing {
		cancel(ErrHandedOff)
	}
	r.mu.Unlock()
	wait(wctx)
	r.mu.Lock()
	delete(r.waits, key)
	r.mu.Unlock()
	return errors.Is(context.Cause(wctx), ErrHandedOff)
}

// handOff leaves the deploy to the next process, which goes on with next.
// The record keeps its step: next has not taken effect.
func (r *run) handOff(next Step) error {
	r.rec.HandedOff = next
	ev := Event{At: time.Now().UTC(), Step: r.rec.Step, Detail: fmt.Sprintf("baton is upgrading: handed over to the next process, which goes on with %s", next)}
	r.rec.Events = append(r.rec.Events, ev)
	if r.d.Store != nil {
		if err := r.d.Store.Save(r.rec); err != nil {
			// Not saved, the next process would take the deploy for one a
			// crash interrupted and revert it: safe, and said here.
			r.logger.Error("hand-over not recorded; the next process will revert this deploy", zap.Error(err))
		}
	}
	r.logger.Info("deploy handed over", zap.String("next", string(next)))
	r.tell(ev)
	return ErrHandedOff
}

// continueHandedOff goes on with a deploy a previous process handed over,
// from the step it named. The containers must all still be there; otherwise
// the deploy fails (and reverts) as any deploy whose container vanished.
func (r *run) continueHandedOff(ctx context.Context) error {
	next := r.rec.HandedOff
	r.rec.HandedOff = ""
	if err := r.step(r.rec.Step, fmt.Sprintf("taken over by baton pid %d after an upgrade; going on with %s", os.Getpid(), next), ""); err != nil {
		return err
	}
	if len(r.fresh) == 0 || len(r.fresh) != len(r.rec.NewContainers) || len(r.old) != len(r.rec.OldContainers) {
		r.spec.Deploy.AutoRevert = true
		return r.fail(ctx, CauseInterrupted, fmt.Errorf("a container of the deploy is gone after the hand-over (old %d/%d, new %d/%d present)",
			len(r.old), len(r.rec.OldContainers), len(r.fresh), len(r.rec.NewContainers)), "deploy again")
	}
	newVersion := r.fresh[0].Version
	switch next {
	case StepGating:
		// This process routes the saved table until a deploy decides: the
		// old release is live here too while the new one is gated.
		r.d.Controller.Switch(r.rec.Service, r.rec.OldVersion, r.old, nil)
		return r.handOver(ctx)
	case StepSwitching:
		r.d.Controller.Switch(r.rec.Service, r.rec.OldVersion, r.old, nil)
		return r.fromSwitch(ctx)
	case StepVerifying:
		r.d.Controller.Switch(r.rec.Service, newVersion, r.fresh, r.rec.OldContainers)
		r.rec.Switched = true
		return r.fromVerify(ctx)
	default: // retiring, done: the new release was verified live
		r.d.Controller.Switch(r.rec.Service, newVersion, r.fresh, r.rec.OldContainers)
		r.rec.Switched = true
		return r.fromRetire(ctx)
	}
}
