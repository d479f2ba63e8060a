package cutover

import (
	"context"
	"fmt"
	"time"

	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// rollingDeploy replaces the old containers max_parallel at a time: each batch
// is created, gated and switched in before the containers it replaces drain
// and stop, so serving capacity never drops below the replica count. stagger
// separates batches. Verification runs once every replica is new; any failure
// restores the replicas already replaced (from the kept snapshot and image).
func (r *run) rollingDeploy(ctx context.Context, image string, override map[string]string) error {
	if !r.startRolling() {
		return r.fail(ctx, CauseCouldNotStart, ErrUpgrading, "")
	}
	old := r.old
	size := r.spec.Deploy.MaxParallel
	if size < 1 {
		size = 1
	}
	batches := (len(old) + size - 1) / size
	live := append([]upstream.Instance(nil), old...)
	var newVersion string
	for b := 0; b < batches; b++ {
		replaced := old[b*size : min((b+1)*size, len(old))]
		label := fmt.Sprintf("batch %d/%d", b+1, batches)
		if err := r.step(StepStarting, fmt.Sprintf("%s: creating %d container(s) from %s", label, len(replaced), image), ""); err != nil {
			return err
		}
		var fresh []upstream.Instance
		for range replaced {
			in, err := r.d.Engine.Create(ctx, r.snapshot, image, override)
			in = r.withSpec(in)
			if in.ID != "" {
				r.fresh = append(r.fresh, in)
				r.rec.NewContainers = append(r.rec.NewContainers, in.ID)
				fresh = append(fresh, in)
				if serr := r.saveCreated(); serr != nil {
					return r.fail(ctx, CauseInternal, fmt.Errorf("%s: %w", label, serr), "the state dir cannot be written; the new containers were removed")
				}
			}
			if err != nil {
				return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("%s: create container: %w", label, err), "")
			}
		}
		if err := r.step(StepGating, fmt.Sprintf("%s: waiting for readiness to hold %s", label, r.spec.Health.MinHealthy), ""); err != nil {
			return err
		}
		if err := r.gate(ctx, fresh); err != nil {
			return err
		}
		newVersion = fresh[0].Version
		live = append(without(live, replaced), fresh...)
		if err := r.step(StepSwitching, fmt.Sprintf("%s: %d of %d replicas on %s", label, countVersion(live, newVersion), len(live), orNone(newVersion)), ""); err != nil {
			return err
		}
		r.d.Controller.SwitchSet(r.rec.Service, newVersion, live, ids(replaced))
		r.rec.Switched = true
		r.purge()
		if err := r.step(StepRetiring, fmt.Sprintf("%s: draining %d replaced container(s)", label, len(replaced)), ""); err != nil {
			return err
		}
		r.retire(ctx, replaced)
		r.retired = append(r.retired, replaced...)
		if b < batches-1 && r.spec.Deploy.Stagger > 0 {
			r.tell(Event{At: time.Now().UTC(), Step: StepRetiring, Detail: fmt.Sprintf("stagger: %s before the next batch", r.spec.Deploy.Stagger)})
			select {
			case <-time.After(r.spec.Deploy.Stagger):
			case <-ctx.Done():
				return r.fail(ctx, CauseInterrupted, ctx.Err(), "")
			}
		}
	}
	r.d.Controller.Switch(r.rec.Service, newVersion, r.fresh, nil)
	if err := r.verify(ctx); err != nil {
		return err
	}
	return r.step(StepDone, fmt.Sprintf("%s live on %d replicas (%s)", orNone(newVersion), len(r.fresh), r.rec.Verified), "")
}

// restoreRetired brings back the replicas a failed rolling deploy already
// stopped, from the kept snapshot and image, so the old release serves at full
// capacity again.
func (r *run) restoreRetired(ctx context.Context) {
	var restored []upstream.Instance
	for _, gone := range r.retired {
		var in upstream.Instance
		err := r.awaitEngine(ctx, StepReverting, "restore replaced replica "+gone.Name, func(c context.Context) error {
			var err error
			in, err = r.d.Engine.Create(c, r.rec.OldSnapshot, r.rec.OldImage, nil)
			if err != nil && in.ID != "" {
				_ = r.d.Engine.Remove(c, in.ID) // created, not started: try again whole
			}
			return err
		})
		in = r.withSpec(in)
		if err != nil {
			r.logger.Error("restore a replaced replica", zap.String("replaced", gone.Name), zap.Error(err))
			continue
		}
		restored = append(restored, in)
		// The record names the replica in place of the one it replaces,
		// before anything else happens: a crash from here on finds it
		// serving and does not restore it twice.
		for i, id := range r.rec.OldContainers {
			if id == gone.ID {
				r.rec.OldContainers[i] = in.ID
			}
		}
		if r.d.Store != nil {
			if err := r.d.Store.Save(r.rec); err != nil {
				r.logger.Error("deploy record not saved", zap.Error(err))
			} else {
				crashAfter(r.d.Store, failpointRestored)
			}
		}
	}
	if _, err := r.gateRaw(ctx, restored); err != nil {
		r.logger.Error("a restored replica is not ready", zap.Error(err))
	}
	r.old = append(without(r.old, r.retired), restored...)
	r.tell(Event{At: time.Now().UTC(), Step: StepReverting, Detail: fmt.Sprintf("restored %d replaced replica(s) of %s", len(restored), orNone(r.rec.OldVersion))})
	r.retired = nil
}

func without(list, drop []upstream.Instance) []upstream.Instance {
	gone := map[string]bool{}
	for _, in := range drop {
		gone[in.ID] = true
	}
	var out []upstream.Instance
	for _, in := range list {
		if !gone[in.ID] {
			out = append(out, in)
		}
	}
	return out
}

func ids(list []upstream.Instance) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.ID
	}
	return out
}

func countVersion(list []upstream.Instance, v string) int {
	n := 0
	for _, in := range list {
		if in.Version == v {
			n++
		}
	}
	return n
}
