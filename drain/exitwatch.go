package drain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// exitWatch is one Docker.Wait call running in the background; done closes
// when it returns. Its owner cancels the context it was started with.
type exitWatch struct {
	done chan struct{}
	code int
	err  error
}

func (r *Retirer) watchExit(ctx context.Context, id string) *exitWatch {
	w := &exitWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer func() {
			if v := recover(); v != nil {
				w.err = fmt.Errorf("panic in wait: %v", v)
				r.logger().Error("panic waiting for container exit", zap.Any("panic", v), zap.Stack("stack"))
			}
		}()
		w.code, w.err = r.Docker.Wait(ctx, id)
	}()
	return w
}

// exited reports whether the container is known to have exited.
func (w *exitWatch) exited() bool {
	select {
	case <-w.done:
		return w.err == nil
	default:
		return false
	}
}

// failed reports whether the watch ended without seeing an exit.
func (w *exitWatch) failed() bool {
	select {
	case <-w.done:
		return w.err != nil
	default:
		return false
	}
}

func (w *exitWatch) exitsWithin(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-w.done:
		return w.err == nil
	case <-timer.C:
		return false
	}
}
