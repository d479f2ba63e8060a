package health

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

// scriptedInspector answers State from a function of the call number (0-based).
type scriptedInspector struct {
	calls atomic.Int32
	state func(call int) ContainerState
}

func (s *scriptedInspector) State(context.Context, string) (ContainerState, error) {
	return s.state(int(s.calls.Add(1) - 1)), nil
}

func running(int) ContainerState { return ContainerState{Running: true} }

func TestGatePassesOnceReadinessHolds(t *testing.T) {
	start := time.Now()
	var mu sync.Mutex
	var firstOK time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < 300*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		if firstOK.IsZero() {
			firstOK = time.Now()
		}
		mu.Unlock()
	}))
	defer srv.Close()
	var lastHeld time.Duration
	g := &Gate{
		Probe: &Probe{URL: srv.URL + "/healthz"}, Container: &scriptedInspector{state: running}, ID: "web-2",
		Interval: 50 * time.Millisecond, MinHealthy: 500 * time.Millisecond, Deadline: 5 * time.Second,
		OnProbe: func(_ Observation, _ Verdict, held time.Duration) { lastHeld = held },
	}
	res, err := g.Run(context.Background())
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if since := end.Sub(firstOK); since < 500*time.Millisecond {
		t.Fatalf("passed %v after the first 200: readiness had not held 500ms", since)
	}
	if res.Took > 3*time.Second || res.Probes < 10 || res.Held < 500*time.Millisecond || lastHeld != res.Held || res.Cause != "" {
		t.Fatalf("result %+v (last held reported %v)", res, lastHeld)
	}
}

func TestGateFlappingNeverPasses(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 { // three good answers, one bad: never 400ms in a row at 50ms
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	g := &Gate{Probe: &Probe{URL: srv.URL}, Interval: 50 * time.Millisecond, MinHealthy: 400 * time.Millisecond, Deadline: time.Second}
	res, err := g.Run(context.Background())
	if !IsCause(err, CauseDeadline) {
		t.Fatalf("err = %v, want deadline", err)
	}
	if !strings.HasPrefix(err.Error(), "not ready within 1s: last error: probe "+srv.URL+": status 500") {
		t.Fatalf("message %q", err)
	}
	if res.Took < time.Second || res.Took > 3*time.Second || res.Cause != CauseDeadline {
		t.Fatalf("result %+v, want a failure at the 1s deadline", res)
	}
}

func TestGateExitFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	in := &scriptedInspector{state: func(call int) ContainerState {
		if call < 3 {
			return ContainerState{Running: true}
		}
		return ContainerState{ExitCode: 3}
	}}
	g := &Gate{Probe: &Probe{URL: srv.URL}, Container: in, ID: "c", Interval: 50 * time.Millisecond, MinHealthy: time.Second, Deadline: 30 * time.Second}
	res, err := g.Run(context.Background())
	if !IsCause(err, CauseExited) || err.Error() != "container exited with code 3" {
		t.Fatalf("err = %v, want exited with code 3", err)
	}
	if res.Took > 2*time.Second || res.Probes != 4 {
		t.Fatalf("result %+v: an exited container was waited on", res)
	}
}

func TestGateCrashLoopFailsAtOnce(t *testing.T) {
	// Docker's restart policy: up, down, up again with a higher count, ...
	in := &scriptedInspector{state: func(call int) ContainerState {
		return ContainerState{Running: call%2 == 0, Restarting: call%2 == 1, RestartCount: call / 2}
	}}
	g := &Gate{Container: in, ID: "c", Interval: 20 * time.Millisecond, MinHealthy: time.Second, Deadline: 30 * time.Second}
	res, err := g.Run(context.Background())
	if !IsCause(err, CauseCrashLoop) || err.Error() != "crash loop: 4 restarts in 60s" {
		t.Fatalf("err = %v, want a crash loop", err)
	}
	if res.Took > 2*time.Second {
		t.Fatalf("took %v", res.Took)
	}
}

func TestGateWorkerWaitsForHealthcheck(t *testing.T) {
	in := &scriptedInspector{state: func(call int) ContainerState {
		if call < 5 {
			return ContainerState{Running: true, Health: "starting"}
		}
		return ContainerState{Running: true, Health: "healthy"}
	}}
	g := &Gate{Container: in, ID: "worker", Interval: 20 * time.Millisecond, MinHealthy: 100 * time.Millisecond, Deadline: 5 * time.Second}
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 5 starting, then healthy for 100ms at 20ms: at least 6 more observations.
	if res.Probes < 11 || res.Held < 100*time.Millisecond {
		t.Fatalf("result %+v: passed before the healthcheck held", res)
	}
}

func TestGateDeadlineEndsAHangingProbe(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	g := &Gate{Probe: &Probe{URL: srv.URL, Timeout: time.Minute}, Interval: 50 * time.Millisecond, MinHealthy: time.Second, Deadline: 300 * time.Millisecond}
	start := time.Now()
	_, err := g.Run(context.Background())
	if !IsCause(err, CauseDeadline) || !strings.HasPrefix(err.Error(), "not ready within 300ms") {
		t.Fatalf("err = %v, want deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a probe hanging past the deadline held the gate %v", took)
	}
}

func TestGateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &Gate{Container: &scriptedInspector{state: running}, Interval: 20 * time.Millisecond, MinHealthy: time.Hour, Deadline: time.Hour,
		OnProbe: func(Observation, Verdict, time.Duration) { cancel() }}
	res, err := g.Run(ctx)
	if !IsCause(err, CauseCanceled) || !errors.Is(err, context.Canceled) || res.Cause != CauseCanceled || res.Probes != 1 {
		t.Fatalf("res %+v err %v, want canceled after one probe", res, err)
	}
}

func TestGateOneProbeInFlight(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond) // slower than the interval
		w.WriteHeader(503)
	}))
	defer srv.Close()
	g := &Gate{Probe: &Probe{URL: srv.URL}, Interval: 10 * time.Millisecond, MinHealthy: time.Second, Deadline: 600 * time.Millisecond}
	res, err := g.Run(context.Background())
	if !IsCause(err, CauseDeadline) {
		t.Fatalf("err = %v", err)
	}
	if most.Load() != 1 || res.Probes > 7 {
		t.Fatalf("%d probes in flight at once, %d probes in 600ms of 100ms each", most.Load(), res.Probes)
	}
}

func TestGateAloneServesAtTheFirstGoodAnswerAndKeepsProbing(t *testing.T) {
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // still starting
		}
	}))
	defer srv.Close()
	var verdicts []Verdict
	g := &Gate{
		Probe: &Probe{URL: srv.URL}, Container: &scriptedInspector{state: running}, ID: "web-2",
		Interval: 20 * time.Millisecond, MinHealthy: 200 * time.Millisecond, Deadline: 10 * time.Second,
		Alone:   func() bool { return true },
		OnProbe: func(_ Observation, v Verdict, _ time.Duration) { verdicts = append(verdicts, v) },
	}
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(verdicts) < 3 || verdicts[0] != Waiting || verdicts[1] != Serving || verdicts[len(verdicts)-1] != Ready {
		t.Fatalf("verdicts %v: want waiting, serving at the first good answer, ..., ready", verdicts)
	}
	for _, v := range verdicts[1 : len(verdicts)-1] {
		if v != Serving {
			t.Fatalf("verdicts %v: a steady good answer stays serving", verdicts)
		}
	}
	if res.Held < 200*time.Millisecond {
		t.Fatalf("ready after %v held: serving early must not end the window", res.Held)
	}
}

func TestGateAloneAnswersOnceThenCrashLoops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	// Round 0 answers; from then on Docker's restart policy brings it back
	// again and again: each round sees one more restart.
	insp := &scriptedInspector{state: func(call int) ContainerState {
		if call == 0 {
			return ContainerState{Running: true}
		}
		return ContainerState{Restarting: call%2 == 1, Running: call%2 == 0, RestartCount: call}
	}}
	var verdicts []Verdict
	g := &Gate{
		Probe: &Probe{URL: srv.URL}, Container: insp, ID: "web-2",
		Interval: 10 * time.Millisecond, MinHealthy: time.Hour, Deadline: time.Hour,
		Alone:   func() bool { return true },
		OnProbe: func(_ Observation, v Verdict, _ time.Duration) { verdicts = append(verdicts, v) },
	}
	_, err := g.Run(context.Background())
	if !IsCause(err, CauseCrashLoop) {
		t.Fatalf("err = %v, want a crash loop", err)
	}
	if verdicts[0] != Serving || verdicts[1] != Waiting || verdicts[len(verdicts)-1] != Failed {
		t.Fatalf("verdicts %v: want serving, then waiting at the restart, failed at the crash loop", verdicts)
	}
}
