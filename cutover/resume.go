package cutover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// ClaimUnfinished claims every service whose last deploy did not end (baton
// was killed mid-deploy), before the Docker provider starts: the controller
// must not pick a live version for them on its own. Resume releases them.
func (d *Deployer) ClaimUnfinished() ([]*Record, []func(), error) {
	if d.Store == nil {
		return nil, nil, nil
	}
	recs, err := d.Store.Unfinished()
	if err != nil {
		return nil, nil, err
	}
	var releases []func()
	var claimed []*Record
	for _, rec := range recs {
		if release, ok := d.Controller.Claim(rec.Service); ok {
			releases = append(releases, release)
			claimed = append(claimed, rec)
		}
	}
	return claimed, releases, nil
}

// Resume finishes or reverts deploys a killed baton left unfinished, once the
// provider's first view is in. Before the switch, or before verification
// passed, it reverts: the old containers serve again, the new ones go. From
// retiring on, the new release was verified live: it finishes the retire.
//
// A deploy an upgrade handed over (Record.HandedOff) was stopped on purpose
// at a safe point: it goes on from there, once HandedOffAfter is closed.
func (d *Deployer) Resume(ctx context.Context, recs []*Record, releases []func()) {
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	select {
	case <-d.Controller.Synced():
	case <-ctx.Done():
		return
	}
	for _, rec := range recs {
		if rec.HandedOff != "" && d.HandedOffAfter != nil {
			select {
			case <-d.HandedOffAfter:
			case <-ctx.Done():
				return
			}
		}
		r := &run{d: d, rec: rec, emit: func(Event, *Record) {}, logger: d.logger().With(zap.String("service", rec.Service), zap.String("deploy", rec.ID))}
		interrupted := rec.Step
		r.old = d.existing(rec.OldContainers)
		r.fresh = d.existing(rec.NewContainers)
		if len(r.old) > 0 {
			r.spec = r.old[0].Spec
		} else if len(r.fresh) > 0 {
			r.spec = r.fresh[0].Spec
		}
		if rec.HandedOff != "" {
			r.logger.Info("going on with a deploy handed over by the previous baton process", zap.String("next", string(rec.HandedOff)))
			if !d.track(r) {
				continue // handing off again: the record still says where to go on
			}
			err := r.continueHandedOff(ctx)
			d.untrack(r)
			if errors.Is(err, ErrHandedOff) {
				continue
			}
			if err != nil {
				r.logger.Warn("handed-over deploy did not complete", zap.Error(err))
			}
		} else {
			d.resumeCrashed(ctx, r, interrupted)
		}
		if d.OnFinish != nil {
			d.OnFinish(rec)
		}
	}
}

// resumeCrashed ends a deploy a crash cut short, as planResume decides.
func (d *Deployer) resumeCrashed(ctx context.Context, r *run, interrupted Step) {
	rec := r.rec
	plan := planResume(rec, func(id string) bool {
		in, ok := d.Controller.Instance(id)
		return ok && in.Routable()
	})
	// Cleanup must finish even when baton is stopping again.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute+d.engineWait())
	defer cancel()
	for _, id := range plan.Remove {
		if err := r.awaitEngine(cctx, interrupted, "remove container "+id+" the interrupted deploy left", func(c context.Context) error { return d.Engine.Remove(c, id) }); err != nil {
			r.logger.Warn("remove a container the interrupted deploy left stopped", zap.String("container", id), zap.Error(err))
		}
	}
	if len(plan.Remove) > 0 {
		d.Controller.Retiring(plan.Remove)
	}
	if plan.Finish {
		r.logger.Info("resuming an interrupted deploy: finishing the retire")
		d.Controller.Switch(rec.Service, r.fresh[0].Version, r.fresh, rec.OldContainers)
		_ = r.step(StepRetiring, fmt.Sprintf("baton restarted during %s; the new release was verified: retiring the rest", interrupted), "")
		r.retireOld(ctx)
		_ = r.step(StepDone, orNone(rec.Expected)+" live (finished after a restart)", "")
		return
	}
	r.logger.Info("resuming an interrupted deploy: reverting", zap.String("step", string(interrupted)), zap.Int("restore", len(plan.Restore)))
	for _, id := range plan.Restore {
		r.retired = append(r.retired, upstream.Instance{ID: id, Name: id})
	}
	rec.Switched = true // make fail() put traffic back on the old containers
	r.spec.Deploy.AutoRevert = true
	cause, hint, err := CauseInterrupted, "deploy again; nothing was lost", fmt.Errorf("baton restarted during %s", interrupted)
	if rec.Cause != "" {
		// It had failed before the crash: its own cause stays the verdict.
		cause, hint, err = rec.Cause, rec.Hint, fmt.Errorf("baton restarted during %s of a deploy that failed (%s)", interrupted, rec.Cause)
	}
	_ = r.fail(ctx, cause, err, hint)
}

// existing returns the containers of ids the provider still sees.
func (d *Deployer) existing(ids []string) []upstream.Instance {
	var out []upstream.Instance
	for _, id := range ids {
		if in, ok := d.Controller.Instance(id); ok && in.Routable() {
			out = append(out, in)
		}
	}
	return out
}
