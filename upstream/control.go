package upstream

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// The methods in this file adapt the Docker client to the small interfaces
// health (watching a container while it is gated) and drain (stopping it)
// declare. They speak of containers by ID and hide the SDK's types.

// ContainerStatus is a running container's state as health needs it.
type ContainerStatus struct {
	Running      bool
	Restarting   bool
	ExitCode     int
	RestartCount int
	Health       string // "" when the image has no HEALTHCHECK
}

// Status inspects a container; a container that is gone reads as exited.
func (d *Docker) Status(ctx context.Context, id string) (ContainerStatus, error) {
	c, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		if client.IsErrNotFound(err) {
			return ContainerStatus{ExitCode: -1}, nil
		}
		return ContainerStatus{}, fmt.Errorf("inspect %s: %w", id, err)
	}
	st := ContainerStatus{RestartCount: c.RestartCount}
	if c.State != nil {
		st.Running = c.State.Running && !c.State.Restarting
		st.Restarting = c.State.Restarting
		st.ExitCode = c.State.ExitCode
		if c.State.Health != nil {
			st.Health = c.State.Health.Status
		}
	}
	return st, nil
}

// Signal sends sig (a name like SIGTERM or a number) to the container.
func (d *Docker) Signal(ctx context.Context, id, sig string) error {
	if err := d.cli.ContainerKill(ctx, id, sig); err != nil {
		if client.IsErrNotFound(err) {
			return nil
		}
		return fmt.Errorf("signal %s to %s: %w", sig, id, err)
	}
	return nil
}

// Wait returns when the container is no longer running, with its exit code.
func (d *Docker) Wait(ctx context.Context, id string) (int, error) {
	okc, errc := d.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case r := <-okc:
		return int(r.StatusCode), nil
	case err := <-errc:
		if client.IsErrNotFound(err) {
			return -1, nil
		}
		return 0, fmt.Errorf("wait for %s: %w", id, err)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Exec runs cmd in the container and returns its exit code once it ends.
func (d *Docker) Exec(ctx context.Context, id string, cmd []string) (int, error) {
	ex, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd})
	if err != nil {
		return 0, fmt.Errorf("exec %v in %s: %w", cmd, id, err)
	}
	if err := d.cli.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return 0, fmt.Errorf("exec %v in %s: %w", cmd, id, err)
	}
	for {
		st, err := d.cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return 0, fmt.Errorf("exec %v in %s: %w", cmd, id, err)
		}
		if !st.Running {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
