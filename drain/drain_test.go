package drain

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

func TestDrainOfIdleTargetReturnsAtOnce(t *testing.T) {
	rep := NewRegistry().For("a").Drain(context.Background(), time.Minute)
	if rep.Waited > time.Second || rep.Finished != 0 || rep.Cancelled != 0 || rep.Aborted {
		t.Fatalf("report %+v: want an immediate, empty drain", rep)
	}
}

func TestDrainReturnsWhenLastRequestEnds(t *testing.T) {
	tg := NewRegistry().For("a")
	first, second := beginRequest(t, tg), beginRequest(t, tg)
	var finishedAt time.Time
	ended := testutil.Go(t, "finishing the requests", func() error {
		started := testutil.Poll(testutil.Timeout, func() bool { return tg.draining.Load() > 0 })
		first.finish() // even if the drain never started: Drain returns and the test fails
		finishedAt = time.Now()
		second.finish()
		if !started {
			return errors.New("the drain never started")
		}
		return nil
	})
	rep := tg.Drain(context.Background(), time.Minute)
	ended()
	if rep.Finished != 2 || rep.Cancelled != 0 {
		t.Fatalf("report %+v: want 2 finished, none cancelled", rep)
	}
	// Signalled, not polled at the bound: it returns right after the last Finish.
	if lag := time.Since(finishedAt); lag > time.Second {
		t.Fatalf("drain returned %s after the last request ended", lag)
	}
	if context.Cause(first.ctx) != nil {
		t.Fatalf("a request that finished in time was cancelled: %v", context.Cause(first.ctx))
	}
}

func TestDrainAtBoundCancelsWithErrDraining(t *testing.T) {
	tg := NewRegistry().For("a")
	req := beginRequest(t, tg)
	start := time.Now()
	rep := tg.Drain(context.Background(), 200*time.Millisecond)
	if !errors.Is(context.Cause(req.ctx), ErrDraining) {
		t.Fatalf("request cause = %v, want ErrDraining", context.Cause(req.ctx))
	}
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
		t.Fatalf("cancelled after %s, before the bound", elapsed)
	}
	if rep.Cancelled != 1 || rep.Finished != 0 || tg.InFlight() != 0 {
		t.Fatalf("report %+v, in flight %d: want 1 cancelled and nothing left", rep, tg.InFlight())
	}
}

// A real request through a real socket: the bound aborts it and the client
// sees the drain's cause, which the proxy maps to 503.
func TestDrainCancelsRealRequestAtBound(t *testing.T) {
	unblock := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-unblock:
		}
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(unblock) })

	tg := NewRegistry().For("a")
	ctx, cancel := context.WithCancelCause(context.Background())
	tok := tg.Begin(cancel)
	errc := make(chan error, 1)
	go func() {
		defer tg.Finish(tok)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, backend.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	rep := tg.Drain(context.Background(), 300*time.Millisecond)
	if err := <-errc; err == nil {
		t.Fatal("request outlived the drain bound")
	}
	if !errors.Is(context.Cause(ctx), ErrDraining) || rep.Cancelled != 1 || tg.InFlight() != 0 {
		t.Fatalf("cause %v, report %+v, in flight %d", context.Cause(ctx), rep, tg.InFlight())
	}
}

func TestDrainWaitsForRequestsThatBeginDuringIt(t *testing.T) {
	tg := NewRegistry().For("a")
	first := beginRequest(t, tg)
	done := make(chan DrainReport, 1)
	go func() { done <- tg.Drain(context.Background(), time.Minute) }()
	testutil.Eventually(t, "drain started", func() bool { return tg.draining.Load() > 0 })
	sticky := beginRequest(t, tg) // a sticky session pinned to the draining target
	first.finish()
	select {
	case rep := <-done:
		t.Fatalf("drain returned %+v with a sticky request still in flight", rep)
	case <-time.After(100 * time.Millisecond):
	}
	sticky.finish()
	select {
	case rep := <-done:
		if rep.Finished != 2 || rep.Cancelled != 0 {
			t.Fatalf("report %+v: want both requests counted as finished", rep)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not return after the sticky request ended")
	}
}

func TestRequestBegunAfterBoundIsCancelledAtOnce(t *testing.T) {
	tg := NewRegistry().For("a")
	c := newFakeConn(tg)
	// Keep the drain in its settle phase: the connection is ended but its
	// relay has not unwound yet.
	release := c.release
	c.release = func() {}
	done := make(chan DrainReport, 1)
	go func() { done <- tg.Drain(context.Background(), 50*time.Millisecond) }()
	<-c.ended
	late := beginRequest(t, tg)
	if !errors.Is(context.Cause(late.ctx), ErrDraining) {
		t.Fatalf("request begun past the bound: cause %v, want ErrDraining", context.Cause(late.ctx))
	}
	rep := <-done
	if rep.Cancelled != 1 || rep.UpgradesClosed != 1 {
		t.Fatalf("report %+v: want the late request cancelled and the upgrade closed", rep)
	}
	release()
	if after := beginRequest(t, tg); context.Cause(after.ctx) != nil {
		t.Fatalf("request after the drain returned was cancelled: %v", context.Cause(after.ctx))
	}
}

func TestDrainEndsUpgradedConnectionsAtBound(t *testing.T) {
	tg := NewRegistry().For("a")
	conn := newFakeConn(tg)
	start := time.Now()
	rep := tg.Drain(context.Background(), 200*time.Millisecond)
	ended := conn.endTime()
	if ended.IsZero() {
		t.Fatal("upgraded connection not ended at the bound")
	}
	if ended.Sub(start) < 200*time.Millisecond {
		t.Fatalf("upgraded connection ended %s into a 200ms drain, before the bound", ended.Sub(start))
	}
	if rep.UpgradesClosed != 1 || tg.Upgrades() != 0 {
		t.Fatalf("report %+v, upgrades left %d", rep, tg.Upgrades())
	}
}

func TestDrainWaitsForUpgradeThatEndsByItself(t *testing.T) {
	tg := NewRegistry().For("a")
	conn := newFakeConn(tg)
	closed := testutil.Go(t, "closing the WebSocket", func() error {
		started := testutil.Poll(testutil.Timeout, func() bool { return tg.draining.Load() > 0 })
		conn.release() // the client closed its WebSocket
		if !started {
			return errors.New("the drain never started")
		}
		return nil
	})
	rep := tg.Drain(context.Background(), time.Minute)
	closed()
	if rep.UpgradesClosed != 0 || rep.Waited > 10*time.Second || !conn.endTime().IsZero() {
		t.Fatalf("report %+v: want the drain to end when the connection closed, without ending it", rep)
	}
}

func TestAbortedDrainCancelsNothing(t *testing.T) {
	tg := NewRegistry().For("a")
	req := beginRequest(t, tg)
	conn := newFakeConn(tg)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rep := tg.Drain(ctx, time.Minute)
	if !rep.Aborted || rep.Cancelled != 0 || context.Cause(req.ctx) != nil || !conn.endTime().IsZero() {
		t.Fatalf("report %+v, cause %v: an aborted drain must leave traffic alone", rep, context.Cause(req.ctx))
	}
}

func TestConcurrentDrainsOfOneTargetBothReturn(t *testing.T) {
	tg := NewRegistry().For("a")
	req := beginRequest(t, tg)
	done := make(chan DrainReport, 2)
	for range 2 {
		go func() { done <- tg.Drain(context.Background(), time.Minute) }()
	}
	testutil.Eventually(t, "both drains started", func() bool { return tg.draining.Load() == 2 })
	req.finish()
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a drain missed the wake-up")
		}
	}
}
