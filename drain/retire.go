package drain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ContainerControl is what retiring needs of Docker; the lead adapts the
// real client to it.
type ContainerControl interface {
	// Signal sends sig ("SIGTERM", "SIGKILL", "SIGTSTP", ...) to the container.
	Signal(ctx context.Context, id, sig string) error
	// Wait returns when the container has exited, at once if it already has.
	Wait(ctx context.Context, id string) (exitCode int, err error)
	// Remove deletes the stopped container (not its image).
	Remove(ctx context.Context, id string) error
}

// Execer runs a command in a container and returns its exit code once it has
// exited (the exec pre-stop hook).
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (exitCode int, err error)
}

var (
	// ErrNotDrained: the pre-stop wait path did not answer 200 within the timeout.
	ErrNotDrained = errors.New("not drained within the pre-stop timeout")
	// ErrStillRunning: the container had not exited even after SIGKILL.
	ErrStillRunning = errors.New("container still running after SIGKILL")
)

const (
	defaultStopSignal = "SIGTERM"
	defaultGrace      = 30 * time.Second
	// killWait bounds the wait for exit after SIGKILL, which the kernel
	// honours at once; only a wedged engine takes longer.
	killWait = 10 * time.Second
)

// PreStop drains a worker before it is signalled (baton.prestop.*).
type PreStop struct {
	HTTP    string // path to POST on the container's address
	Exec    string // command to run in the container; shell syntax runs under /bin/sh -c
	Signal  string // signal to send, e.g. SIGTSTP
	Wait    string // path polled until it answers 200
	Timeout time.Duration
}

func (p PreStop) any() bool { return p.HTTP != "" || p.Exec != "" || p.Signal != "" || p.Wait != "" }

// RetireSpec is one container to retire.
type RetireSpec struct {
	ID   string
	Name string // for logs and errors; optional
	Addr string // host:port for HTTP hooks
	// URLScheme ("" = http) and Client (nil = the Retirer's) reach an
	// https or h2c endpoint in its own scheme.
	URLScheme  string
	Client     *http.Client
	StopSignal string        // the container's own stop signal; default SIGTERM
	Grace      time.Duration // stop signal to SIGKILL; default 30s
	PreStop    PreStop
}

func (s RetireSpec) label() string {
	id := s.ID
	if len(id) > 12 {
		id = id[:12]
	}
	if s.Name == "" {
		return id
	}
	return s.Name + " (" + id + ")"
}

// RetireReport says what retiring took, step by step.
type RetireReport struct {
	PreStop     time.Duration // the hook itself: POST, exec, signal
	PreStopWait time.Duration // polling the wait path until 200
	Stop        time.Duration // stop signal until exit, at most the grace period
	Kill        time.Duration // SIGKILL until exit
	Remove      time.Duration
	Total       time.Duration
	Killed      bool // SIGKILL was needed after the grace period
	ExitCode    int
	Removed     bool
	// PreStopErr is why the hook failed; the stop went on regardless, because
	// a container must not outlive its deploy.
	PreStopErr error
}

// Retirer stops containers in the order the design asks for: pre-stop hook
// and its wait, then the stop signal, the grace period, SIGKILL, remove.
type Retirer struct {
	Docker ContainerControl
	Exec   Execer       // nil: Docker is used if it implements Execer, else exec hooks fail
	HTTP   *http.Client // nil: a plain client; every call is bounded by a context
	Logger *zap.Logger
}

// Retire runs the whole sequence. A failed pre-stop hook does not stop it: the
// container is still stopped and removed, and the hook's error is returned
// (wrapped, with RetireReport.Removed true) so that the deploy record shows it.
func (r *Retirer) Retire(ctx context.Context, s RetireSpec) (rep RetireReport, err error) {
	begin := time.Now()
	defer func() { rep.Total = time.Since(begin) }()
	logger := r.logger().With(zap.String("container", s.label()))

	// One watcher sees the exit whenever it happens: a hook may stop the
	// container itself (`kill -TERM 1`), and then there is nothing to signal.
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	exit := r.watchExit(watchCtx, s.ID)

	hookFailed := false
	if s.PreStop.any() {
		rep.PreStopErr = r.preStop(ctx, s, exit, &rep)
		switch {
		case rep.PreStopErr != nil && exit.exitsWithin(100*time.Millisecond):
			// The container is gone (it crashed, or the hook stopped it): a
			// hook that could not reach it changes nothing.
			logger.Info("pre-stop hook failed on an exited container", zap.Error(rep.PreStopErr))
		case rep.PreStopErr != nil:
			hookFailed = true
			logger.Warn("pre-stop hook failed; stopping anyway", zap.Error(rep.PreStopErr))
		default:
			logger.Info("pre-stop hook done", zap.Duration("hook", rep.PreStop), zap.Duration("wait", rep.PreStopWait))
		}
	}
	if exit.failed() {
		exit = r.watchExit(watchCtx, s.ID)
	}

	if err := r.stop(ctx, s, exit, &rep, logger); err != nil {
		return rep, err
	}

	start := time.Now()
	err = r.Docker.Remove(ctx, s.ID)
	rep.Remove = time.Since(start)
	if err != nil {
		return rep, fmt.Errorf("retire %s: remove: %w", s.label(), err)
	}
	rep.Removed = true
	logger.Info("container retired", zap.Bool("killed", rep.Killed), zap.Int("exit_code", rep.ExitCode),
		zap.Duration("stop", rep.Stop), zap.Duration("total", time.Since(begin)))
	if hookFailed {
		return rep, fmt.Errorf("retire %s: pre-stop: %w", s.label(), rep.PreStopErr)
	}
	return rep, nil
}

// stop sends the stop signal, waits up to the grace period for the exit, then
// sends SIGKILL and waits for the exit again.
func (r *Retirer) stop(ctx context.Context, s RetireSpec, exit *exitWatch, rep *RetireReport, logger *zap.Logger) error {
	sig := s.StopSignal
	if sig == "" {
		sig = defaultStopSignal
	}
	grace := s.Grace
	if grace <= 0 {
		grace = defaultGrace
	}
	start := time.Now()
	exited, err := r.signalAndWait(ctx, s.ID, sig, exit, grace)
	rep.Stop = time.Since(start)
	if err != nil {
		return fmt.Errorf("retire %s: stop signal %s: %w", s.label(), sig, err)
	}
	if !exited {
		logger.Warn("container ignored its stop signal; SIGKILL", zap.String("signal", sig), zap.Duration("grace", grace))
		rep.Killed = true
		start = time.Now()
		exited, err = r.signalAndWait(ctx, s.ID, "SIGKILL", exit, killWait)
		rep.Kill = time.Since(start)
		if err != nil {
			return fmt.Errorf("retire %s: SIGKILL: %w", s.label(), err)
		}
		if !exited {
			return fmt.Errorf("retire %s: SIGKILL: %w after %s", s.label(), ErrStillRunning, killWait)
		}
	}
	rep.ExitCode = exit.code
	return nil
}

// signalAndWait sends sig unless the container has already exited, then
// waits up to limit for the exit. exited is false when the limit passed.
func (r *Retirer) signalAndWait(ctx context.Context, id, sig string, exit *exitWatch, limit time.Duration) (exited bool, err error) {
	if exit.exited() {
		return true, nil
	}
	if err := r.Docker.Signal(ctx, id, sig); err != nil {
		// The engine refuses to signal a container that stopped meanwhile.
		if exit.exitsWithin(time.Second) {
			return true, nil
		}
		return false, err
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-exit.done:
		if exit.err != nil {
			return false, fmt.Errorf("wait: %w", exit.err)
		}
		return true, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (r *Retirer) logger() *zap.Logger {
	if r.Logger == nil {
		return zap.NewNop()
	}
	return r.Logger.Named("retire")
}
