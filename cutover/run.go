package cutover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/batonproxy/baton/health"
	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// Named causes of a failed deploy. The CLI maps them to exit codes and hints.
const (
	CauseCouldNotStart = "could_not_start"
	CauseCrashLoop     = "crash_loop"
	CauseExited        = "exited"
	CauseNotReady      = "not_ready"
	CauseUnhealthy     = "unhealthy"
	CauseVerify        = "verify_failed" // a verifier error that names no cause of its own
	CauseInterrupted   = "interrupted"
	CauseInternal      = "internal"
)

// DeployError is a failed deploy with its named cause.
type DeployError struct {
	Cause  string
	Hint   string
	Err    error
	Record *Record
}

func (e *DeployError) Error() string { return fmt.Sprintf("%s: %v", e.Cause, e.Err) }
func (e *DeployError) Unwrap() error { return e.Err }

// run is one deploy in progress.
type run struct {
	d      *Deployer
	rec    *Record
	emit   emitter
	logger *zap.Logger

	spec     upstream.Spec
	old      []upstream.Instance
	fresh    []upstream.Instance
	snapshot json.RawMessage
	retired  []upstream.Instance // old containers a rolling deploy already stopped

	// evMu guards the record's events while retires run in parallel.
	evMu sync.Mutex

	// Hand-over to the next baton process (handoff.go).
	mu          sync.Mutex
	handoff     bool                                                 // asked to stop at the next safe point
	failing     bool                                                 // reverting: runs to its end here
	rolling     bool                                                 // a rolling deploy: never handed over
	interrupted bool                                                 // a wait was cut short by the hand-over
	waits       map[*context.CancelCauseFunc]context.CancelCauseFunc // waits a hand-over cuts short
	done        chan struct{}                                        // closed when the run returned
}

// step records a transition durably, then announces it. The record is on disk
// before the step takes effect, so a crash never hides a step that happened.
//
// A hand-over asked for stops the run here, before any step from gating on
// (the steps before create the containers, which must be recorded first),
// and before done when a wait was cut short.
func (r *run) step(s Step, detail, cause string) error {
	if s != StepPending && s != StepStarting && (!s.Terminal() || r.interrupted) && r.handingOff() {
		return r.handOff(s)
	}
	ev := Event{At: time.Now().UTC(), Step: s, Detail: detail, Cause: cause}
	prevStep, prevFinished := r.rec.Step, r.rec.Finished
	r.rec.Step = s
	r.rec.Events = append(r.rec.Events, ev)
	if s.Terminal() {
		r.rec.Finished = ev.At
	}
	if r.d.Store != nil {
		if err := r.d.Store.Save(r.rec); err != nil {
			r.logger.Error("deploy record not saved", zap.String("step", string(s)), zap.Error(err))
			serr := &saveError{step: s, err: fmt.Errorf("deploy %s: save record of %s: %w", r.rec.ID, s, err)}
			if s != StepFailed && s != StepReverting && s != StepReverted {
				// A step forward does not take effect unrecorded: the
				// record in memory says what happened, and the revert
				// follows (failUnrecorded).
				r.rec.Step, r.rec.Finished = prevStep, prevFinished
				r.rec.Events = r.rec.Events[:len(r.rec.Events)-1]
				return serr
			}
			// A revert runs to its end whether or not its steps reach the
			// disk; whoever watches still sees them.
			r.tell(ev)
			return serr
		}
		crashAfter(r.d.Store, s)
	}
	r.logger.Info("deploy step", zap.String("step", string(s)), zap.String("detail", detail), zap.String("cause", cause))
	r.tell(ev)
	return nil
}

// failpointCreated names the crash matrix's failpoint right after the record
// naming a container just created is written (crashpoint_batontest.go).
const failpointCreated Step = "created"

// failpointRestored names the failpoint right after the record naming a
// replica a rolling revert restored is written.
const failpointRestored Step = "restored"

// saveCreated writes the record as soon as a container is created, before
// the next step: a crash in between (the gate's record comes after every
// create) would leave a container no record names, which the restarted baton
// would take for a new version and adopt.
func (r *run) saveCreated() error {
	if r.d.Store == nil {
		return nil
	}
	if err := r.d.Store.Save(r.rec); err != nil {
		r.logger.Error("deploy record not saved", zap.Error(err))
		return fmt.Errorf("deploy %s: save record: %w", r.rec.ID, err)
	}
	crashAfter(r.d.Store, failpointCreated)
	return nil
}

// saveError is a step whose record could not be written: the step did not
// take effect, and the deploy is reverted (Deployer.Deploy), since a crash
// from then on would leave a state no record describes.
type saveError struct {
	step Step
	err  error
}

func (e *saveError) Error() string { return e.err.Error() }
func (e *saveError) Unwrap() error { return e.err }

// failUnrecorded reverts a deploy stopped by a record that could not be
// written, unless it is reverting already or the step was its last.
func (r *run) failUnrecorded(ctx context.Context, err error) error {
	var se *saveError
	if !errors.As(err, &se) || se.step.Terminal() || se.step == StepPending || r.isFailing() {
		return err
	}
	return r.fail(ctx, CauseStateWrite, err, "free space in the state dir (or make it writable) and deploy again; the release before serves")
}

// tell sends an event to the deploy's watcher and to Deployer.OnEvent.
func (r *run) tell(ev Event) {
	r.emit(ev, r.rec)
	if r.d.OnEvent != nil {
		r.d.OnEvent(ev, r.rec)
	}
}

// takeOld records the live containers a deploy replaces.
func (r *run) takeOld(ctx context.Context, service string) error {
	oldVersion, old := r.d.Controller.Live(service)
	if len(old) == 0 {
		return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("%s: %w", service, ErrNoLive), "start the service first (docker compose up -d), then deploy")
	}
	r.old, r.spec = old, old[0].Spec
	r.rec.OldVersion = oldVersion
	r.rec.OldImage = old[0].Image
	r.rec.Strategy = r.spec.Deploy.Strategy
	for _, in := range old {
		r.rec.OldContainers = append(r.rec.OldContainers, in.ID)
	}
	return nil
}

// adopt hands traffic over to containers that appeared on their own (a plain
// docker run, a Compose scale-up): the same gate, switch, verify and retire.
func (r *run) adopt(ctx context.Context, service string, fresh []upstream.Instance) error {
	if err := r.takeOld(ctx, service); err != nil {
		return err
	}
	if snap, err := r.d.Engine.Snapshot(ctx, r.old[0].ID); err == nil {
		r.rec.OldSnapshot = snap
	}
	r.fresh = fresh
	var names []string
	for _, in := range fresh {
		r.rec.NewContainers = append(r.rec.NewContainers, in.ID)
		names = append(names, in.Name)
	}
	r.rec.Image = fresh[0].Image
	if r.rec.Expected == "" {
		r.rec.Expected = fresh[0].Version
	}
	if err := r.step(StepStarting, fmt.Sprintf("adopting %s (%s), which appeared with another version", strings.Join(names, ", "), orNone(fresh[0].Version)), ""); err != nil {
		return err
	}
	return r.handOver(ctx)
}

func (r *run) deploy(ctx context.Context, req Request) error {
	if err := r.takeOld(ctx, req.Service); err != nil {
		return err
	}
	old := r.old

	// starting: everything that can be refused is checked before anything changes.
	labels, err := r.d.Engine.ImageLabels(ctx, req.Image)
	if errors.Is(err, upstream.ErrSwarmDeploy) {
		return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("%s: %w", req.Service, err),
			"update it with Swarm (docker service update --image "+req.Image+" "+req.Service+"): baton gates each new task before it takes traffic")
	}
	if err != nil {
		hint := "docker pull " + req.Image + " (or build it) on this host, then deploy again"
		if !errors.Is(err, upstream.ErrImageMissing) {
			hint = "the docker engine did not answer (docker.host); nothing changed: deploy again once `docker info` does"
		}
		return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("image %s: %w", req.Image, err), hint)
	}
	if r.rec.Expected == "" {
		r.rec.Expected = labels["baton.version"]
	}
	if r.rec.Expected == "" {
		r.rec.Expected = labels["org.opencontainers.image.revision"]
	}
	current, err := r.d.Engine.Snapshot(ctx, old[0].ID)
	if err != nil {
		return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("snapshot %s: %w", old[0].Name, err), "the docker engine did not answer (docker.host); nothing changed: deploy again once `docker info` does")
	}
	r.rec.OldSnapshot = current
	r.snapshot = current
	if req.snapshot != nil {
		r.snapshot = req.snapshot // a rollback restores the previous release's own config
	}
	var override map[string]string
	if req.Expect != "" {
		override = map[string]string{"baton.version": req.Expect}
	}
	if r.spec.Deploy.Strategy == "rolling" && len(old) > 1 {
		return r.rollingDeploy(ctx, req.Image, override)
	}
	if err := r.step(StepStarting, fmt.Sprintf("creating %d container(s) from %s", len(old), req.Image), ""); err != nil {
		return err
	}
	for range old {
		in, err := r.d.Engine.Create(ctx, r.snapshot, req.Image, override)
		in = r.withSpec(in)
		if in.ID != "" {
			r.fresh = append(r.fresh, in)
			r.rec.NewContainers = append(r.rec.NewContainers, in.ID)
			if serr := r.saveCreated(); serr != nil {
				return r.fail(ctx, CauseInternal, serr, "the state dir cannot be written; the new container was removed")
			}
		}
		if err != nil {
			hint := ""
			if errors.Is(err, upstream.ErrFixedHostPort) {
				hint = "remove the ports: mapping of " + req.Service
			}
			return r.fail(ctx, CauseCouldNotStart, fmt.Errorf("create container: %w", err), hint)
		}
	}

	return r.handOver(ctx)
}

// handOver runs the steps after the new containers exist: gate, switch,
// verify, retire.
func (r *run) handOver(ctx context.Context) error {
	// gating: every new container must hold readiness.
	if err := r.step(StepGating, fmt.Sprintf("waiting for readiness to hold %s (deadline %s)", r.spec.Health.MinHealthy, r.spec.Health.Deadline), ""); err != nil {
		return err
	}
	if err := r.gateAll(ctx); err != nil {
		return err
	}
	return r.fromSwitch(ctx)
}

// fromSwitch runs the steps from the switch on.
func (r *run) fromSwitch(ctx context.Context) error {
	// switching: one atomic table swap.
	newVersion := r.fresh[0].Version
	if err := r.step(StepSwitching, fmt.Sprintf("traffic moves from %s to %s", orNone(r.rec.OldVersion), orNone(newVersion)), ""); err != nil {
		return err
	}
	r.d.Controller.Switch(r.rec.Service, newVersion, r.fresh, r.rec.OldContainers)
	r.rec.Switched = true
	r.purge()
	return r.fromVerify(ctx)
}

// fromVerify runs the steps from the verification on.
func (r *run) fromVerify(ctx context.Context) error {
	// verifying: through the front door, while the old containers are still alive.
	if err := r.verify(ctx); err != nil {
		return err
	}
	return r.fromRetire(ctx)
}

// fromRetire retires the old containers and ends the deploy.
func (r *run) fromRetire(ctx context.Context) error {
	// retiring: drain, then stop the old containers.
	if err := r.step(StepRetiring, fmt.Sprintf("draining %d old container(s), bound %s", len(r.old), r.spec.DrainTimeout), ""); err != nil {
		return err
	}
	r.retireOld(ctx)
	return r.step(StepDone, fmt.Sprintf("%s live (%s)", orNone(r.fresh[0].Version), r.rec.Verified), "")
}

func (r *run) gateAll(ctx context.Context) error { return r.gate(ctx, r.fresh) }

// gate waits for every container of list to hold readiness; the first failure
// fails the deploy.
func (r *run) gate(ctx context.Context, list []upstream.Instance) error {
	var i int
	var err error
	if r.interruptible(ctx, func(wctx context.Context) { i, err = r.gateRaw(wctx, list) }) {
		return r.handOff(StepGating)
	}
	if err != nil {
		hint := gateHint(err, r.spec)
		if r.rec.Switched {
			hint = strings.Replace(hint, "traffic never left the old release", "the replicas already replaced are restored from the kept snapshot", 1)
		}
		return r.fail(ctx, gateCause(err), fmt.Errorf("container %s: %w", list[i].Name, err), hint)
	}
	return nil
}

// gateRaw gates list and returns the index and error of the first failure.
func (r *run) gateRaw(ctx context.Context, list []upstream.Instance) (int, error) {
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, in := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A deploy's gate has no Alone: the old release serves meanwhile,
			// so the new one always holds the whole window.
			errs[i] = r.d.Gater.Gate(gctx, in, GateOptions{Progress: func(p Progress) {
				r.tell(Event{At: time.Now().UTC(), Step: StepGating, Detail: fmt.Sprintf("%s ready %.1fs / %s", p.Container, p.Held.Seconds(), p.Need)})
			}})
			if errs[i] != nil {
				cancel() // one failure fails the deploy: stop waiting for the others
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || errors.Is(err, context.Canceled) && ctx.Err() == nil {
			continue
		}
		return i, err
	}
	return 0, nil
}

func gateCause(err error) string {
	var ge *health.GateError
	if errors.As(err, &ge) {
		switch ge.Cause {
		case health.CauseCrashLoop:
			return CauseCrashLoop
		case health.CauseExited:
			return CauseExited
		case health.CauseDeadline:
			return CauseNotReady
		case health.CauseUnhealthy:
			return CauseUnhealthy
		case health.CauseCanceled:
			return CauseInterrupted
		}
	}
	if errors.Is(err, context.Canceled) {
		return CauseInterrupted
	}
	return CauseNotReady
}

func gateHint(err error, spec upstream.Spec) string {
	switch gateCause(err) {
	case CauseCrashLoop, CauseExited:
		return "the new container exits: check `docker logs` of it; traffic never left the old release"
	case CauseNotReady:
		return fmt.Sprintf("readiness (%s) never held %s within %s: check the health path or raise baton.health.deadline", spec.Health.Path, spec.Health.MinHealthy, spec.Health.Deadline)
	case CauseUnhealthy:
		return "the image's Docker HEALTHCHECK reports unhealthy"
	}
	return ""
}

// What a done deploy's Record.Verified says.
const (
	Verified    = "verified"   // a probe through baton's front door returned the new fingerprint
	Unverified  = "unverified" // live, but nothing proved it: no fingerprint, or no verifier
	NoFrontDoor = "worker"     // a worker has no front door to verify through
)

func (r *run) verify(ctx context.Context) error {
	if !r.spec.Routed() {
		r.rec.Verified = NoFrontDoor
		return r.step(StepVerifying, "a worker has no front door to verify through", "")
	}
	if len(r.spec.Hosts) == 0 {
		// Routed by a rule that names no host (HostRegexp): there is no
		// request baton can be sure reaches this service.
		r.rec.Verified = Unverified
		return r.step(StepVerifying, "its routers name no literal host to probe through the front door", "")
	}
	if r.d.Verifier == nil || r.rec.Expected == "" {
		r.rec.Verified = Unverified
		detail := "no verifier configured"
		if r.rec.Expected == "" {
			detail = "no release fingerprint (--expect, baton.version or org.opencontainers.image.revision): deploy is unverified"
		}
		return r.step(StepVerifying, detail, "")
	}
	target := r.spec.Verify.Path
	if d, ok := r.d.Verifier.(interface{ Describe(upstream.Spec) string }); ok {
		target = d.Describe(r.spec)
	}
	if err := r.step(StepVerifying, "probing "+target+" through baton for "+r.rec.Expected, ""); err != nil {
		return err
	}
	actual, err := r.d.Verifier.Verify(ctx, r.rec.Service, r.spec, r.rec.Expected, len(r.fresh))
	r.rec.Actual = actual
	if err != nil {
		// The record, the webhook and `baton status` carry the named cause
		// (served_from_cache, old_target_in_pool, ...), not only "verify failed".
		cause, hint := CauseVerify, ""
		var ve *VerifyError
		if errors.As(err, &ve) {
			cause, hint = ve.Cause, ve.Hint()
		} else if h, ok := err.(interface{ Hint() string }); ok {
			hint = h.Hint()
		}
		return r.fail(ctx, cause, err, hint)
	}
	r.rec.Verified = Verified
	r.rec.VerifiedVia, r.rec.VerifiedAt = target, time.Now().UTC()
	return nil
}

func (r *run) retireOld(ctx context.Context) { r.retire(ctx, r.old) }

// retire drains and stops the containers of list, in parallel.
func (r *run) retire(ctx context.Context, list []upstream.Instance) {
	var wg sync.WaitGroup
	for _, in := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			finished, cancelled := 0, 0
			if r.d.Drainer != nil && r.interruptible(ctx, func(wctx context.Context) {
				finished, cancelled = r.d.Drainer.Drain(wctx, in.ID, r.spec.DrainTimeout)
			}) {
				// The next process retires it, once this one has drained
				// what it still carries to it.
				r.mu.Lock()
				r.interrupted = true
				r.mu.Unlock()
				return
			}
			r.d.Controller.Retiring([]string{in.ID})
			killed, err := false, error(nil)
			if r.d.Retirer != nil {
				killed, err = r.d.Retirer.Retire(ctx, in)
			}
			if err != nil {
				// A retire the engine cut short (or a failed pre-stop hook,
				// after which it is removed already): the container must
				// not outlive its deploy. Its requests were drained above;
				// once the engine answers, it is force-removed.
				_ = r.awaitEngine(ctx, StepRetiring, "remove old container "+in.Name, func(c context.Context) error { return r.d.Engine.Remove(c, in.ID) })
			}
			r.evMu.Lock()
			defer r.evMu.Unlock()
			r.rec.Drained += finished
			r.rec.Cancelled += cancelled
			detail := fmt.Sprintf("%s drained: %d requests finished, %d requests or connections ended at the bound", in.Name, finished, cancelled)
			if killed {
				r.rec.Killed++
				detail += "; SIGKILL after stop grace"
			}
			if err != nil {
				detail += "; retire: " + err.Error()
			}
			r.tell(Event{At: time.Now().UTC(), Step: StepRetiring, Detail: detail})
			r.rec.Events = append(r.rec.Events, Event{At: time.Now().UTC(), Step: StepRetiring, Detail: detail})
		}()
	}
	wg.Wait()
}

// fail records the failure and, with auto_revert, puts everything back: traffic
// to the old containers if it had moved, and the new containers removed.
func (r *run) fail(ctx context.Context, cause string, err error, hint string) error {
	r.mu.Lock()
	r.failing = true
	r.mu.Unlock()
	r.rec.Cause, r.rec.Hint = cause, hint
	derr := &DeployError{Cause: cause, Hint: hint, Err: err, Record: r.rec}
	nothingChanged := len(r.fresh) == 0 && !r.rec.Switched
	if nothingChanged || r.rec.Switched && !r.spec.Deploy.AutoRevert {
		// No revert follows: failed is the last step.
		r.rec.Finished = time.Now().UTC()
		_ = r.step(StepFailed, err.Error(), cause)
		return derr
	}
	_ = r.step(StepFailed, err.Error(), cause)
	// Cleanup must finish even when the caller's context is gone.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute+r.d.engineWait())
	defer cancel()
	_ = r.step(StepReverting, "restoring "+orNone(r.rec.OldVersion), cause)
	if len(r.retired) > 0 {
		r.restoreRetired(cctx)
	}
	if r.rec.Switched {
		r.d.Controller.Switch(r.rec.Service, r.rec.OldVersion, r.old, r.rec.NewContainers)
		r.rec.Switched = false
		r.purge()
	}
	for _, in := range r.fresh {
		if r.d.Drainer != nil {
			r.d.Drainer.Drain(cctx, in.ID, 5*time.Second)
		}
		if err := r.awaitEngine(cctx, StepReverting, "remove new container "+in.Name, func(c context.Context) error { return r.d.Engine.Remove(c, in.ID) }); err != nil {
			r.logger.Warn("remove new container", zap.String("container", in.Name), zap.Error(err))
		}
	}
	r.d.Controller.Retiring(r.rec.NewContainers)
	_ = r.step(StepReverted, orNone(r.rec.OldVersion)+" serving; "+err.Error(), cause)
	return derr
}

// withSpec gives a container that could not be inspected in full (it crashed
// at once) the service's spec, so its gate keeps the service's windows.
func (r *run) withSpec(in upstream.Instance) upstream.Instance {
	if in.Spec.Health.Deadline == 0 {
		in.Spec = r.spec
		in.Service = r.rec.Service
	}
	return in
}

func (r *run) purge() {
	if r.d.Purge != nil {
		r.d.Purge(r.rec.Service)
	}
}

func orNone(v string) string {
	if v == "" {
		return "(no fingerprint)"
	}
	return v
}

func (r *run) isFailing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failing
}
