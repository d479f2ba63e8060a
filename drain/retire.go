package drain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ContainerControl is what retiring needs of Docker; the upstream package
// adapts the real client.
type ContainerControl interface {
	Signal(ctx context.Context, id, sig string) error
	Wait(ctx context.Context, id string) (exitCode int, err error)
	Remove(ctx context.Context, id string) error
}

// Execer runs a command in a container (the exec pre-stop hook).
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (exitCode int, err error)
}

// PreStop drains a worker before it is signalled (baton.prestop.*).
type PreStop struct {
	HTTP    string // path to POST
	Exec    string // command to run in the container (split on spaces)
	Signal  string // signal to send, e.g. SIGTSTP
	Wait    string // path polled until it answers 200
	Timeout time.Duration
}

// RetireSpec is one container to retire.
type RetireSpec struct {
	ID         string
	Name       string
	Addr       string // host:port for HTTP hooks
	StopSignal string // default SIGTERM
	Grace      time.Duration
	PreStop    PreStop
}

// RetireReport says what retiring took.
type RetireReport struct {
	PreStop  time.Duration
	Stop     time.Duration
	Killed   bool // SIGKILL was needed after the grace period
	ExitCode int
}

// Retirer stops containers in the order the seed article asks for: pre-stop
// hook and its wait, then the stop signal, the grace period, SIGKILL, remove.
type Retirer struct {
	Docker ContainerControl
	Exec   Execer // nil: exec hooks fail
	HTTP   *http.Client
	Logger *zap.Logger
}

// Retire runs the whole sequence. A failing pre-stop hook is logged and the
// stop goes on: a container must not outlive its deploy.
func (r *Retirer) Retire(ctx context.Context, s RetireSpec) (RetireReport, error) {
	var rep RetireReport
	logger := r.logger().With(zap.String("container", s.Name))
	start := time.Now()
	if err := r.preStop(ctx, s); err != nil {
		logger.Warn("pre-stop hook failed; stopping anyway", zap.Error(err))
	}
	rep.PreStop = time.Since(start)

	start = time.Now()
	sig := s.StopSignal
	if sig == "" {
		sig = "SIGTERM"
	}
	grace := s.Grace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	if err := r.Docker.Signal(ctx, s.ID, sig); err != nil {
		return rep, fmt.Errorf("retire %s: %s: %w", s.Name, sig, err)
	}
	wctx, cancel := context.WithTimeout(ctx, grace)
	code, err := r.Docker.Wait(wctx, s.ID)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("retire %s: %w", s.Name, ctx.Err())
		}
		logger.Warn("container ignored its stop signal; SIGKILL", zap.String("signal", sig), zap.Duration("grace", grace))
		rep.Killed = true
		if err := r.Docker.Signal(ctx, s.ID, "SIGKILL"); err != nil {
			return rep, fmt.Errorf("retire %s: SIGKILL: %w", s.Name, err)
		}
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		code, err = r.Docker.Wait(kctx, s.ID)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("retire %s: still running after SIGKILL: %w", s.Name, err)
		}
	}
	rep.ExitCode = code
	rep.Stop = time.Since(start)
	if err := r.Docker.Remove(ctx, s.ID); err != nil {
		return rep, fmt.Errorf("retire %s: %w", s.Name, err)
	}
	return rep, nil
}

func (r *Retirer) preStop(ctx context.Context, s RetireSpec) error {
	p := s.PreStop
	if p.HTTP == "" && p.Exec == "" && p.Signal == "" {
		return nil
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTP != "":
		if err := r.post(ctx, "http://"+s.Addr+p.HTTP); err != nil {
			return fmt.Errorf("pre-stop POST %s: %w", p.HTTP, err)
		}
	case p.Exec != "":
		if r.Exec == nil {
			return errors.New("pre-stop exec: no exec support")
		}
		// The hook's own exit ends the wait when no wait path is set.
		code, err := r.Exec.Exec(ctx, s.ID, strings.Fields(p.Exec))
		if err != nil {
			return fmt.Errorf("pre-stop exec %q: %w", p.Exec, err)
		}
		if code != 0 {
			return fmt.Errorf("pre-stop exec %q: exit code %d", p.Exec, code)
		}
	case p.Signal != "":
		if err := r.Docker.Signal(ctx, s.ID, p.Signal); err != nil {
			return fmt.Errorf("pre-stop %s: %w", p.Signal, err)
		}
	}
	if p.Wait == "" {
		return nil
	}
	return r.waitFor(ctx, "http://"+s.Addr+p.Wait)
}

func (r *Retirer) post(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// waitFor polls url until it answers 200 or ctx ends (the hook's timeout).
func (r *Retirer) waitFor(ctx context.Context, url string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := r.client().Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pre-stop wait %s: not drained in time: %w", url, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *Retirer) client() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return &http.Client{Timeout: 5 * time.Second}
}

func (r *Retirer) logger() *zap.Logger {
	if r.Logger == nil {
		return zap.NewNop()
	}
	return r.Logger.Named("retire")
}
