package upstream

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// followLoop runs follow (subscribe, list, apply events until the stream
// fails) until ctx ends, reconnecting with a backoff of 100 ms doubling to
// 5 s, back to 100 ms after a stream that ended without an error. Both
// providers (containers, Swarm) follow the engine this way; health tells
// whether they are following now.
func followLoop(ctx context.Context, follow func(context.Context) error, health *following) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := follow(ctx)
		if ctx.Err() != nil {
			return
		}
		health.set(err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
		if err == nil {
			backoff = 100 * time.Millisecond
		}
	}
}

// following is whether a provider follows the engine now, and why not: a
// transition is logged once, not at every retry. The routes keep the last
// view meanwhile.
type following struct {
	logger     *zap.Logger
	lost, back string // the log messages of the two transitions

	mu  sync.Mutex
	why string // "" while following
}

func (f *following) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		if f.why != "" {
			f.logger.Info(f.back)
			f.why = ""
		}
		return
	}
	if f.why == "" {
		f.logger.Warn(f.lost, zap.Error(err))
	}
	f.why = err.Error()
}

// degraded is why the provider is not following the engine now ("" when it is).
func (f *following) degraded() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.why
}
