package drain

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// inFlightRequest begins a tracked request the way the proxy does and ends
// it (Finish) when its context is cancelled or finish is called.
type inFlightRequest struct {
	ctx    context.Context
	finish func()
}

func beginRequest(t *testing.T, tg *Target) inFlightRequest {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	tok := tg.Begin(cancel)
	var once sync.Once
	finish := func() { once.Do(func() { tg.Finish(tok) }) }
	go func() { <-ctx.Done(); finish() }() // the proxy ends a cancelled request
	t.Cleanup(func() { cancel(nil); finish() })
	return inFlightRequest{ctx: ctx, finish: finish}
}

// fakeConn is an upgraded connection; it notes when it was ended.
type fakeConn struct {
	mu      sync.Mutex
	endedAt time.Time
	ended   chan struct{}
	release func()
}

func newFakeConn(tg *Target) *fakeConn {
	c := &fakeConn{ended: make(chan struct{})}
	c.release = tg.Upgraded(c)
	return c
}

func (c *fakeConn) EndGracefully() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endedAt.IsZero() {
		c.endedAt = time.Now()
		close(c.ended)
		c.release() // the relay deregisters once both sides are closed
	}
}

func (c *fakeConn) endTime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endedAt
}

// fakeDocker records calls in order and exits on the signals it honours.
type fakeDocker struct {
	mu       sync.Mutex
	calls    []string
	exitOn   map[string]bool
	exitCode int
	exited   chan struct{}
	once     sync.Once
	execCode int
	execRun  func() // runs while an exec hook "executes"
}

func newFakeDocker(exitOn ...string) *fakeDocker {
	f := &fakeDocker{exitOn: map[string]bool{}, exited: make(chan struct{})}
	for _, s := range exitOn {
		f.exitOn[s] = true
	}
	return f
}

func (f *fakeDocker) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeDocker) exit() { f.once.Do(func() { close(f.exited) }) }

func (f *fakeDocker) Signal(_ context.Context, _ string, sig string) error {
	f.record("signal " + sig)
	if f.exitOn[sig] {
		f.exit()
	}
	return nil
}

func (f *fakeDocker) Wait(ctx context.Context, _ string) (int, error) {
	select {
	case <-f.exited:
		return f.exitCode, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *fakeDocker) Remove(context.Context, string) error { f.record("remove"); return nil }

func (f *fakeDocker) Exec(_ context.Context, _ string, cmd []string) (int, error) {
	f.record("exec " + strings.Join(cmd, " "))
	if f.execRun != nil {
		f.execRun()
	}
	return f.execCode, nil
}

func (f *fakeDocker) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ", ")
}

// hookServer is a worker's HTTP side on a real socket: POST /drain starts
// draining, GET /drained answers 202 until drainedAfter polls, then 200.
func hookServer(t *testing.T, docker *fakeDocker, drainedAfter int) (addr string) {
	t.Helper()
	var mu sync.Mutex
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/drain":
			docker.record("POST /drain")
		case r.Method == http.MethodGet && r.URL.Path == "/drained":
			polls++
			if polls < drainedAfter {
				w.WriteHeader(http.StatusAccepted)
				return
			}
			docker.record("GET /drained 200")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
