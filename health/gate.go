package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ContainerInspector reads a container's state; the lead's Docker adapter
// provides it. A container that no longer exists should be reported as not
// running (an exit), not as an error: errors are taken as the engine not
// answering, which is waited out until the deadline.
type ContainerInspector interface {
	State(ctx context.Context, id string) (ContainerState, error)
}

// Gate probes one container until readiness has held MinHealthy, the Deadline
// passes, or the container exits or crash-loops. One probe is in flight at a
// time; a new round starts Interval after the previous one started, or at once
// if that one took longer.
type Gate struct {
	Probe      *Probe             // nil for a worker: running (and HEALTHCHECK healthy) is ready
	Container  ContainerInspector // nil: the container is assumed running (static targets)
	ID         string
	Interval   time.Duration // default 1s
	MinHealthy time.Duration // 0: the first ready observation passes
	Deadline   time.Duration // 0: no deadline (only ctx ends the gate)
	Logger     *zap.Logger
	// Alone, if set, is asked before each round whether any other target of
	// the service can serve (see Observation.Alone). While it says none can,
	// a good answer makes the verdict Serving and OnProbe is told so; nil
	// means another target always can, and only min_healthy passes.
	Alone func() bool
	// OnProbe, if set, is told each observation, its verdict, and how long
	// readiness has held (not how long the gate has run), for a spinner like
	// "ready 3.2s / 10s" and for routing a Serving container. It runs on the
	// gate's goroutine: keep it quick.
	OnProbe func(o Observation, v Verdict, held time.Duration)
	// Now stamps observations; nil means time.Now. Waiting between rounds
	// and the deadline backstop use real time.
	Now func() time.Time
}

// Result describes a finished gate, passed or not.
type Result struct {
	Took   time.Duration // from start to the verdict
	Probes int           // observations made (HTTP probes, or inspects for a worker)
	Held   time.Duration // how long readiness held at the end
	Cause  Cause         // "" when ready
}

// errGateDeadline marks the gate's own deadline timer, as opposed to the
// caller canceling.
var errGateDeadline = errors.New("gate deadline")

// Run gates until a verdict. On failure the error is a *GateError.
func (g *Gate) Run(ctx context.Context) (Result, error) {
	now := g.Now
	if now == nil {
		now = time.Now
	}
	interval := g.Interval
	if interval <= 0 {
		interval = time.Second
	}
	log := g.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("health").With(zap.String("container", g.ID))
	if g.Probe != nil {
		log = log.With(zap.String("url", g.Probe.URL))
	}

	d := &Decider{Start: now(), MinHealthy: g.MinHealthy, Deadline: g.Deadline}
	log.Info("gating", zap.Duration("min_healthy", g.MinHealthy), zap.Duration("deadline", g.Deadline), zap.Duration("interval", interval))

	// The decider fails at the deadline on the next observation; this
	// backstop also ends a probe or an inspect that hangs past it.
	gctx := ctx
	if g.Deadline > 0 {
		var cancel context.CancelFunc
		gctx, cancel = context.WithTimeoutCause(ctx, g.Deadline, errGateDeadline)
		defer cancel()
	}
	wait := time.NewTimer(interval)
	wait.Stop() // armed per round below; since Go 1.23 a stopped timer delivers nothing stale
	defer wait.Stop()

	var res Result
	finish := func(at time.Time, v Verdict) (Result, error) {
		res.Took, res.Held = at.Sub(d.Start), d.Held(at)
		if v == Ready {
			log.Info("ready", zap.Duration("took", res.Took), zap.Int("probes", res.Probes))
			return res, nil
		}
		ge := d.Err()
		res.Cause = ge.Cause
		log.Warn("gate failed", zap.String("cause", string(ge.Cause)), zap.String("reason", ge.Msg), zap.Duration("took", res.Took), zap.Int("probes", res.Probes))
		return res, ge
	}
	holding := false
	for {
		roundStart := time.Now()
		o := g.observe(gctx)
		if gctx.Err() != nil {
			if ctx.Err() != nil {
				return g.canceled(ctx, d, &res, now(), log)
			}
			return finish(now(), d.Expire())
		}
		o.At = now()
		o.Alone = g.Alone != nil && g.Alone()
		res.Probes++
		v := d.Observe(o)
		held := d.Held(o.At)
		if g.OnProbe != nil {
			g.OnProbe(o, v, held)
		}
		if ok := notReady(o) == nil; ok != holding {
			holding = ok
			if ok {
				log.Debug("readiness armed")
			} else {
				log.Debug("readiness lost", zap.Error(notReady(o)))
			}
		}
		if v == Ready || v == Failed {
			return finish(o.At, v)
		}

		wait.Reset(max(0, interval-time.Since(roundStart)))
		select {
		case <-gctx.Done():
			if ctx.Err() != nil {
				return g.canceled(ctx, d, &res, now(), log)
			}
			return finish(now(), d.Expire())
		case <-wait.C:
		}
	}
}

// observe makes one round: the container's state, then (if it runs, or the
// engine cannot say) the probe.
func (g *Gate) observe(ctx context.Context) Observation {
	o := Observation{Container: ContainerState{Running: true}}
	if g.Container != nil {
		st, err := g.Container.State(ctx, g.ID)
		if err != nil {
			// The engine is away: the probe still tells whether the app answers.
			o.ContainerErr = fmt.Errorf("inspect %s: %w", g.ID, err)
		} else {
			o.Container = st
		}
	}
	if g.Probe != nil && (o.ContainerErr != nil || o.Container.Running) {
		o.ProbeErr = g.Probe.Check(ctx)
	}
	return o
}

func (g *Gate) canceled(ctx context.Context, d *Decider, res *Result, at time.Time, log *zap.Logger) (Result, error) {
	res.Took, res.Held, res.Cause = at.Sub(d.Start), d.Held(at), CauseCanceled
	log.Info("gate canceled", zap.Error(context.Cause(ctx)))
	return *res, &GateError{Cause: CauseCanceled, Msg: "gate canceled: " + context.Cause(ctx).Error(), Err: ctx.Err()}
}
