package cutover

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// DefaultEngineWait bounds how long a deploy waits for a Docker engine that
// stopped answering (its socket refuses, or it answers errors) before a
// step that needs it gives up: removing a new container on a revert,
// stopping an old one on a retire, restoring a replaced replica. Serving
// needs no engine (the route table is baton's), so waiting costs nothing but
// the deploy's time; giving up early would leave a container behind.
const DefaultEngineWait = 2 * time.Minute

// CauseEngineUnavailable names an engine that did not answer within the
// wait, on the event that says what was left undone.
const CauseEngineUnavailable = "engine_unavailable"

func (d *Deployer) engineWait() time.Duration {
	if d.EngineWait > 0 {
		return d.EngineWait
	}
	return DefaultEngineWait
}

// awaitEngine runs op and, while it fails, runs it again with a backoff
// (250 ms doubling to 5 s) until the Deployer's EngineWait has passed. The
// record says that the deploy waits, and whether the engine came back or
// what was left undone: an operator reading `baton history` knows which.
func (r *run) awaitEngine(ctx context.Context, step Step, what string, op func(context.Context) error) error {
	err := op(ctx)
	if err == nil {
		return nil
	}
	bound := r.d.engineWait()
	start := time.Now()
	r.note(step, fmt.Sprintf("%s: the docker engine did not answer (%v); waiting up to %s for it", what, err, bound), CauseEngineUnavailable)
	backoff := 250 * time.Millisecond
	for time.Since(start) < bound {
		t := time.NewTimer(min(backoff, bound-time.Since(start)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			r.note(step, fmt.Sprintf("%s: not done, stopped waiting for the docker engine: %v", what, ctx.Err()), CauseEngineUnavailable)
			return err
		}
		backoff = min(2*backoff, 5*time.Second)
		if err = op(ctx); err == nil {
			r.note(step, fmt.Sprintf("%s: done once the docker engine answered again (after %s)", what, time.Since(start).Round(100*time.Millisecond)), "")
			return nil
		}
	}
	r.note(step, fmt.Sprintf("%s: not done, the docker engine did not answer within %s: %v; do it by hand once it does", what, bound, err), CauseEngineUnavailable)
	return err
}

// note adds an event to the record without a transition, writes the record
// and announces the event: what a step waits for, and how the wait ended.
func (r *run) note(step Step, detail, cause string) {
	ev := Event{At: time.Now().UTC(), Step: step, Detail: detail, Cause: cause}
	r.evMu.Lock()
	r.rec.Events = append(r.rec.Events, ev)
	var err error
	if r.d.Store != nil {
		err = r.d.Store.Save(r.rec)
	}
	r.evMu.Unlock()
	if err != nil {
		r.logger.Warn("deploy record not saved", zap.String("step", string(step)), zap.Error(err))
	}
	r.logger.Info("deploy event", zap.String("step", string(step)), zap.String("detail", detail), zap.String("cause", cause))
	r.tell(ev)
}
