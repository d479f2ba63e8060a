package health

import (
	"fmt"
	"time"
)

// ContainerState is what the gate watches besides the probe.
type ContainerState struct {
	Running      bool
	Restarting   bool // Docker's restart policy is bringing it back
	ExitCode     int
	RestartCount int
	Health       string // Docker HEALTHCHECK: "" (none), starting, healthy, unhealthy
}

// Observation is one round of the gate: the probe's result and the container.
type Observation struct {
	At        time.Time
	ProbeErr  error
	Container ContainerState
}

// Cause names why a gate failed.
type Cause string

const (
	CauseDeadline  Cause = "deadline"
	CauseExited    Cause = "exited"
	CauseCrashLoop Cause = "crash_loop"
	CauseUnhealthy Cause = "unhealthy"
	CauseCanceled  Cause = "canceled"
)

// GateError is a failed gate.
type GateError struct {
	Cause Cause
	Msg   string
}

func (e *GateError) Error() string { return e.Msg }

// Verdict is the decision after an observation.
type Verdict int

const (
	Waiting Verdict = iota // keep observing
	Ready                  // readiness has held long enough
	Failed                 // give up; see Decider.Err
)

// crash-loop rule of the design: more than 3 restarts within 60 s.
const (
	crashRestarts = 3
	crashWindow   = 60 * time.Second
)

// Decider is the pure decision core of a gate (Nomad-style): observations in,
// verdict out, no clock or I/O of its own, so every rule is table-tested.
type Decider struct {
	Start      time.Time
	MinHealthy time.Duration
	Deadline   time.Duration

	healthySince time.Time // zero: not currently healthy
	lastErr      error
	restarts     []time.Time
	lastCount    int
	seen         bool
	err          *GateError
}

// Observe takes one observation and returns the verdict.
func (d *Decider) Observe(o Observation) Verdict {
	if d.err != nil {
		return Failed
	}
	c := o.Container
	if d.seen && c.RestartCount > d.lastCount {
		for i := d.lastCount; i < c.RestartCount; i++ {
			d.restarts = append(d.restarts, o.At)
		}
	}
	d.seen, d.lastCount = true, c.RestartCount
	for len(d.restarts) > 0 && o.At.Sub(d.restarts[0]) > crashWindow {
		d.restarts = d.restarts[1:]
	}
	if len(d.restarts) > crashRestarts {
		return d.fail(CauseCrashLoop, fmt.Sprintf("crash loop: %d restarts in %s", len(d.restarts), crashWindow))
	}
	if !c.Running && !c.Restarting {
		return d.fail(CauseExited, fmt.Sprintf("container exited with code %d", c.ExitCode))
	}
	ok := c.Running && o.ProbeErr == nil && (c.Health == "" || c.Health == "healthy")
	switch {
	case ok && d.healthySince.IsZero():
		d.healthySince = o.At
	case !ok:
		d.healthySince = time.Time{}
		switch {
		case o.ProbeErr != nil:
			d.lastErr = o.ProbeErr
		case c.Health != "" && c.Health != "healthy":
			d.lastErr = fmt.Errorf("docker healthcheck: %s", c.Health)
		case !c.Running:
			d.lastErr = fmt.Errorf("container restarting")
		}
	}
	if ok && o.At.Sub(d.healthySince) >= d.MinHealthy {
		return Ready
	}
	if d.Deadline > 0 && o.At.Sub(d.Start) >= d.Deadline {
		cause, last := CauseDeadline, "none"
		if d.lastErr != nil {
			last = d.lastErr.Error()
		}
		if c.Health == "unhealthy" {
			cause = CauseUnhealthy
		}
		return d.fail(cause, fmt.Sprintf("not ready within %s (readiness must hold %s): last error: %s", d.Deadline, d.MinHealthy, last))
	}
	return Waiting
}

// Held is how long readiness has held at t.
func (d *Decider) Held(t time.Time) time.Duration {
	if d.healthySince.IsZero() {
		return 0
	}
	return t.Sub(d.healthySince)
}

// Err is the failure, once the verdict is Failed.
func (d *Decider) Err() *GateError { return d.err }

func (d *Decider) fail(c Cause, msg string) Verdict {
	d.err = &GateError{Cause: c, Msg: msg}
	return Failed
}
