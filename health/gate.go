package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ContainerInspector reads a container's state; the Docker adapter provides it.
type ContainerInspector interface {
	State(ctx context.Context, id string) (ContainerState, error)
}

// Gate probes one container until readiness holds, the deadline passes, or the
// container exits or crash-loops. One probe in flight at a time, every Interval.
type Gate struct {
	Probe      *Probe // nil for a worker: running (and HEALTHCHECK healthy) is ready
	Container  ContainerInspector
	ID         string
	Interval   time.Duration
	MinHealthy time.Duration
	Deadline   time.Duration
	Logger     *zap.Logger
	// OnProbe, if set, is told each observation and how long readiness has held.
	OnProbe func(o Observation, held time.Duration)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result describes a gate that passed.
type Result struct {
	Took   time.Duration
	Probes int
}

// Run gates until a verdict. The error is a *GateError on failure.
func (g *Gate) Run(ctx context.Context) (Result, error) {
	now := g.Now
	if now == nil {
		now = time.Now
	}
	interval := g.Interval
	if interval <= 0 {
		interval = time.Second
	}
	d := &Decider{Start: now(), MinHealthy: g.MinHealthy, Deadline: g.Deadline}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var res Result
	for {
		o := Observation{Container: ContainerState{Running: true}}
		if g.Container != nil {
			st, err := g.Container.State(ctx, g.ID)
			if err != nil && ctx.Err() == nil {
				// The engine not answering is not the container's fault: wait.
				o.ProbeErr = fmt.Errorf("inspect %s: %w", g.ID, err)
			} else {
				o.Container = st
			}
		}
		if g.Probe != nil && o.Container.Running && o.ProbeErr == nil {
			o.ProbeErr = g.Probe.Check(ctx)
		}
		if ctx.Err() != nil {
			return res, &GateError{Cause: CauseCanceled, Msg: "gate canceled: " + context.Cause(ctx).Error()}
		}
		o.At = now()
		res.Probes++
		v := d.Observe(o)
		if g.OnProbe != nil {
			g.OnProbe(o, d.Held(o.At))
		}
		switch v {
		case Ready:
			res.Took = o.At.Sub(d.Start)
			return res, nil
		case Failed:
			res.Took = o.At.Sub(d.Start)
			return res, d.Err()
		}
		select {
		case <-ctx.Done():
			return res, &GateError{Cause: CauseCanceled, Msg: "gate canceled"}
		case <-ticker.C:
		}
	}
}

// IsCause reports whether err is a gate failure with cause c.
func IsCause(err error, c Cause) bool {
	var ge *GateError
	return errors.As(err, &ge) && ge.Cause == c
}
