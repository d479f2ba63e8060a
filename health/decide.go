package health

import (
	"fmt"
	"time"
)

// ContainerState is what the gate watches besides the probe.
type ContainerState struct {
	Running      bool
	Restarting   bool // Docker's restart policy is bringing it back: not an exit, not ready either
	ExitCode     int
	RestartCount int    // Docker's count since the container was created
	Health       string // Docker HEALTHCHECK: "" (none), starting, healthy, unhealthy
}

// Observation is one round of the gate: the probe's result and the container.
type Observation struct {
	At        time.Time
	ProbeErr  error // nil: the probe answered 2xx/3xx in time (or there is no probe)
	Container ContainerState
	// ContainerErr is set when the engine could not be asked; Container is
	// then unknown and ignored (it must not reset the restart baseline).
	ContainerErr error
	// Alone says that no other target of the service can serve right now
	// (a Compose recreate stopped the old container first): nothing better
	// exists, so a good answer is worth routing before min_healthy has held.
	Alone bool
}

// Verdict is the decision after an observation.
type Verdict int

const (
	Waiting Verdict = iota // keep observing
	Ready                  // readiness has held long enough
	Failed                 // give up; see Decider.Err
	// Serving: route it now, and keep observing. Readiness holds but not yet
	// for min_healthy, and the observation was Alone. It is not final: the
	// next observation may say Waiting (readiness lost, or another target
	// can serve now: take it out again), Ready or Failed.
	Serving
)

func (v Verdict) String() string {
	switch v {
	case Ready:
		return "ready"
	case Failed:
		return "failed"
	case Serving:
		return "serving"
	}
	return "waiting"
}

// The crash-loop rule of the design: more than 3 restarts within 60 s.
const (
	crashRestarts = 3
	crashWindow   = 60 * time.Second
)

// Decider is the pure decision core of a gate (Nomad's allochealth, without
// the timers): observations in, verdict out. It reads no clock and does no
// I/O, so every rule is table-tested with made-up times.
type Decider struct {
	Start      time.Time
	MinHealthy time.Duration
	Deadline   time.Duration // 0: no deadline

	healthySince time.Time // zero: readiness is not holding now
	longestHeld  time.Duration
	lastErr      error
	lastHealth   string
	restarts     []time.Time // when each restart inside the crash window was seen
	lastCount    int
	seen         bool // lastCount is a real baseline
	blind        bool // the engine could not be asked since the last observation
	err          *GateError
}

// Observe takes one observation and returns the verdict. Once Failed, it
// stays Failed.
func (d *Decider) Observe(o Observation) Verdict {
	if d.err != nil {
		return Failed
	}
	if o.ContainerErr != nil {
		// The engine could not be asked (it went away, or errs): nothing
		// is known of the container either way. A container serving alone
		// keeps serving (the routes keep what they had, as with a lost
		// event stream) while its probe answers, but the unseen time does not count towards
		// min_healthy: the window starts again at the next observation.
		d.lastErr, d.blind = o.ContainerErr, true
		if o.ProbeErr != nil { // the probe still speaks for the app
			d.lastErr, d.healthySince = o.ProbeErr, time.Time{}
		}
		if d.Deadline > 0 && o.At.Sub(d.Start) >= d.Deadline {
			return d.Expire()
		}
		if o.Alone && !d.healthySince.IsZero() {
			return Serving
		}
		return Waiting
	}
	restarted := d.countRestarts(o)
	if n := len(d.restarts); n > crashRestarts {
		return d.fail(CauseCrashLoop, fmt.Sprintf("crash loop: %d restarts in %ds", n, int(crashWindow.Seconds())), nil)
	}
	c := o.Container
	if !c.Running && !c.Restarting {
		return d.fail(CauseExited, fmt.Sprintf("container exited with code %d", c.ExitCode), nil)
	}
	d.lastHealth = c.Health

	if why := notReady(o); why != nil || restarted {
		if why == nil {
			why = fmt.Errorf("container restarted")
		}
		d.lastErr = why
		d.healthySince = time.Time{}
	} else {
		if d.healthySince.IsZero() || d.blind {
			d.healthySince = o.At // the first success (after a blind spell) arms the window
		}
		d.blind = false
		held := d.Held(o.At)
		d.longestHeld = max(d.longestHeld, held)
		if held >= d.MinHealthy {
			return Ready
		}
	}

	if d.Deadline > 0 && o.At.Sub(d.Start) >= d.Deadline {
		return d.Expire()
	}
	if o.Alone && !d.healthySince.IsZero() {
		// Nothing else can serve, so waiting out min_healthy would only
		// hold every request that long. The window keeps running: the same
		// restarts, exits and deadline still fail the gate.
		return Serving
	}
	return Waiting
}

// Expire fails the gate at its deadline, naming the last reason it was not
// ready. The loop calls it when its own deadline timer fires while a probe or
// an inspect is still hanging.
func (d *Decider) Expire() Verdict {
	if d.err != nil {
		return Failed
	}
	last := "none"
	if d.lastErr != nil {
		last = d.lastErr.Error()
	}
	cause := CauseDeadline
	if d.lastHealth == "unhealthy" {
		cause = CauseUnhealthy
	}
	msg := fmt.Sprintf("not ready within %s: last error: %s (readiness must hold %s; longest run held %s)",
		d.Deadline, last, d.MinHealthy, d.longestHeld.Round(time.Millisecond))
	return d.fail(cause, msg, d.lastErr)
}

// Held is how long readiness has held without a failure at t.
func (d *Decider) Held(t time.Time) time.Duration {
	if d.healthySince.IsZero() {
		return 0
	}
	return t.Sub(d.healthySince)
}

// Err is the failure, once the verdict is Failed.
func (d *Decider) Err() *GateError { return d.err }

// countRestarts records restarts seen since the last observation and drops
// those older than the crash window. The first observation is the baseline:
// restarts before the gate started are not this deploy's.
func (d *Decider) countRestarts(o Observation) (restarted bool) {
	n := o.Container.RestartCount
	if d.seen && n > d.lastCount {
		for i := d.lastCount; i < n; i++ {
			d.restarts = append(d.restarts, o.At)
		}
		restarted = true
	}
	d.seen, d.lastCount = true, n
	for len(d.restarts) > 0 && o.At.Sub(d.restarts[0]) >= crashWindow {
		d.restarts = d.restarts[1:]
	}
	return restarted
}

// notReady says why an observation does not count as ready, or nil.
func notReady(o Observation) error {
	c := o.Container
	switch {
	case o.ContainerErr != nil:
		return o.ContainerErr
	case !c.Running:
		return fmt.Errorf("container restarting")
	case o.ProbeErr != nil:
		return o.ProbeErr
	case c.Health != "" && c.Health != "healthy":
		return fmt.Errorf("docker healthcheck: %s", c.Health)
	}
	return nil
}

func (d *Decider) fail(c Cause, msg string, last error) Verdict {
	d.err = &GateError{Cause: c, Msg: msg, Err: last}
	return Failed
}
