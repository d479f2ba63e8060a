package drain

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBeginFinishCountsUnderConcurrency(t *testing.T) {
	tg := NewRegistry().For("a")
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				_, cancel := context.WithCancelCause(context.Background())
				tok := tg.Begin(cancel)
				tg.Finish(tok)
			}
		}()
	}
	wg.Wait()
	if n := tg.InFlight(); n != 0 {
		t.Fatalf("in flight after all finished: %d", n)
	}
}

func TestDrainReturnsWhenLastRequestEnds(t *testing.T) {
	tg := NewRegistry().For("a")
	_, cancel := context.WithCancelCause(context.Background())
	tok := tg.Begin(cancel)
	go func() {
		time.Sleep(100 * time.Millisecond)
		tg.Finish(tok)
	}()
	rep := tg.Drain(context.Background(), 10*time.Second)
	if rep.Waited > 5*time.Second || rep.Finished != 1 || rep.Cancelled != 0 {
		t.Fatalf("report %+v: want 1 finished well before the bound", rep)
	}
}

type fakeConn struct{ ended atomic.Bool }

func (f *fakeConn) EndGracefully() { f.ended.Store(true) }

func TestDrainBoundCancelsWithCauseAndEndsUpgrades(t *testing.T) {
	tg := NewRegistry().For("a")
	ctx, cancel := context.WithCancelCause(context.Background())
	tok := tg.Begin(cancel)
	go func() { <-ctx.Done(); tg.Finish(tok) }() // the proxy ends the request once cancelled
	conn := &fakeConn{}
	release := tg.Upgraded(conn)
	go func() {
		for !conn.ended.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		release()
	}()
	rep := tg.Drain(context.Background(), 200*time.Millisecond)
	if !errors.Is(context.Cause(ctx), ErrDraining) {
		t.Fatalf("request cause = %v, want ErrDraining", context.Cause(ctx))
	}
	if !conn.ended.Load() || rep.UpgradesClosed != 1 || rep.Cancelled != 1 {
		t.Fatalf("report %+v, conn ended %v", rep, conn.ended.Load())
	}
	if tg.InFlight() != 0 {
		t.Fatalf("in flight after drain: %d", tg.InFlight())
	}
}

func BenchmarkBeginFinish(b *testing.B) {
	tg := NewRegistry().For("a")
	_, cancel := context.WithCancelCause(context.Background())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tg.Finish(tg.Begin(cancel))
		}
	})
}

// fakeDocker records the order of calls and exits on the signals it honours.
type fakeDocker struct {
	mu      sync.Mutex
	calls   []string
	exitOn  map[string]bool
	exited  chan struct{}
	once    sync.Once
	removed bool
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

func (f *fakeDocker) Signal(_ context.Context, _ string, sig string) error {
	f.record("signal " + sig)
	if f.exitOn[sig] {
		f.once.Do(func() { close(f.exited) })
	}
	return nil
}

func (f *fakeDocker) Wait(ctx context.Context, _ string) (int, error) {
	select {
	case <-f.exited:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *fakeDocker) Remove(context.Context, string) error { f.record("remove"); return nil }

func (f *fakeDocker) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ", ")
}

func TestRetireRunsPreStopThenWaitThenSignal(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	var drained atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/drain":
			docker.record("POST /drain")
			go func() { time.Sleep(300 * time.Millisecond); drained.Store(true) }()
		case "/drained":
			if !drained.Load() {
				w.WriteHeader(http.StatusAccepted)
				return
			}
			docker.record("GET /drained 200")
		}
	}))
	defer srv.Close()
	r := &Retirer{Docker: docker}
	rep, err := r.Retire(context.Background(), RetireSpec{ID: "c", Name: "worker", Addr: strings.TrimPrefix(srv.URL, "http://"),
		Grace: 2 * time.Second, PreStop: PreStop{HTTP: "/drain", Wait: "/drained", Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if got := docker.log(); got != "POST /drain, GET /drained 200, signal SIGTERM, remove" {
		t.Fatalf("order: %s", got)
	}
	if rep.Killed {
		t.Fatal("SIGKILL counted for a container that stopped on SIGTERM")
	}
}

func TestRetireKillsAfterGraceWhenSIGTERMIgnored(t *testing.T) {
	docker := newFakeDocker("SIGKILL") // ignores SIGTERM
	r := &Retirer{Docker: docker}
	start := time.Now()
	rep, err := r.Retire(context.Background(), RetireSpec{ID: "c", Name: "stubborn", StopSignal: "SIGQUIT", Grace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Killed || docker.log() != "signal SIGQUIT, signal SIGKILL, remove" {
		t.Fatalf("killed=%v calls=%s", rep.Killed, docker.log())
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("SIGKILL before the grace period ended")
	}
}
