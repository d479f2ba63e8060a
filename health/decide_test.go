package health

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecider(t *testing.T) {
	up := ContainerState{Running: true}
	restarting := func(n int) ContainerState { return ContainerState{Restarting: true, RestartCount: n} }
	running := func(n int) ContainerState { return ContainerState{Running: true, RestartCount: n} }
	down := &ProbeError{URL: "http://app/healthz", Status: 503, Reason: "status 503"}
	s := time.Second
	type step struct {
		at    time.Duration
		err   error
		state ContainerState
		want  Verdict
	}
	cases := []struct {
		name       string
		minHealthy time.Duration // default 2s
		steps      []step
		cause      Cause
		msg        string // substring of the failure message
	}{
		{name: "holds min_healthy", steps: []step{{0, nil, up, Waiting}, {1 * s, nil, up, Waiting}, {2 * s, nil, up, Ready}}},
		{name: "the first success arms the window", steps: []step{
			{0, down, up, Waiting}, {1 * s, down, up, Waiting}, {2 * s, nil, up, Waiting}, {3 * s, nil, up, Waiting}, {4 * s, nil, up, Ready}}},
		{name: "a failure restarts the window", steps: []step{
			{0, nil, up, Waiting}, {1 * s, down, up, Waiting}, {2 * s, nil, up, Waiting},
			{3 * s, nil, up, Waiting}, {4 * s, nil, up, Ready}}},
		{name: "min_healthy 0: one success is enough", minHealthy: -1, steps: []step{{0, down, up, Waiting}, {1 * s, nil, up, Ready}}},
		{name: "never ready fails at the deadline", steps: []step{{0, down, up, Waiting}, {5 * s, down, up, Waiting}, {10 * s, down, up, Failed}},
			cause: CauseDeadline, msg: "not ready within 10s: last error: probe http://app/healthz: status 503"},
		{name: "flapping fails at the deadline", steps: []step{
			{0, nil, up, Waiting}, {1500 * time.Millisecond, down, up, Waiting}, {3 * s, nil, up, Waiting},
			{4500 * time.Millisecond, down, up, Waiting}, {6 * s, nil, up, Waiting}, {7500 * time.Millisecond, down, up, Waiting},
			{9 * s, nil, up, Waiting}, {10 * s, nil, up, Failed}},
			cause: CauseDeadline, msg: "longest run held 1s"},
		{name: "readiness reached exactly at the deadline passes", steps: []step{{8 * s, nil, up, Waiting}, {10 * s, nil, up, Ready}}},
		{name: "exit fails at once", steps: []step{{0, nil, up, Waiting}, {1 * s, nil, ContainerState{ExitCode: 1}, Failed}},
			cause: CauseExited, msg: "container exited with code 1"},
		{name: "exit before any success", steps: []step{{0, nil, ContainerState{ExitCode: 137}, Failed}},
			cause: CauseExited, msg: "code 137"},
		{name: "restarting is neither an exit nor ready", minHealthy: -1, steps: []step{
			{0, nil, restarting(0), Waiting}, {1 * s, nil, restarting(0), Waiting}, {2 * s, nil, running(1), Waiting}, {3 * s, nil, running(1), Ready}}},
		{name: "crash loop: the 4th restart within 60s", steps: []step{
			{0, nil, restarting(0), Waiting},
			{1 * s, down, running(1), Waiting},
			{2 * s, nil, restarting(2), Waiting},
			{3 * s, down, running(3), Waiting},
			{4 * s, nil, restarting(4), Failed}},
			cause: CauseCrashLoop, msg: "crash loop: 4 restarts in 60s"},
		{name: "crash loop: restarts between two observations all count", steps: []step{{0, nil, running(0), Waiting}, {1 * s, nil, running(5), Failed}},
			cause: CauseCrashLoop, msg: "crash loop: 5 restarts in 60s"},
		{name: "restarts spread over more than 60s are not a crash loop", minHealthy: time.Hour, steps: []step{
			{0, down, running(0), Waiting}, {25 * s, down, running(1), Waiting}, {50 * s, down, running(2), Waiting},
			{75 * s, down, running(3), Waiting}, {100 * s, down, running(4), Waiting}, {125 * s, down, running(5), Waiting}}},
		{name: "restarts before the gate started are not counted", steps: []step{{0, nil, running(9), Waiting}, {1 * s, nil, running(9), Waiting}, {2 * s, nil, running(9), Ready}}},
		{name: "a restart between two successes restarts the window", steps: []step{
			{0, nil, running(0), Waiting}, {1 * s, nil, running(0), Waiting}, {2 * s, nil, running(1), Waiting},
			{3 * s, nil, running(1), Waiting}, {4 * s, nil, running(1), Waiting}, {5 * s, nil, running(1), Ready}}},
		{name: "HEALTHCHECK must be healthy too", steps: []step{
			{0, nil, ContainerState{Running: true, Health: "starting"}, Waiting},
			{2 * s, nil, ContainerState{Running: true, Health: "starting"}, Waiting},
			{3 * s, nil, ContainerState{Running: true, Health: "healthy"}, Waiting},
			{5 * s, nil, ContainerState{Running: true, Health: "healthy"}, Ready}}},
		{name: "HEALTHCHECK healthy does not excuse a failing probe", steps: []step{
			{0, down, ContainerState{Running: true, Health: "healthy"}, Waiting},
			{10 * s, down, ContainerState{Running: true, Health: "healthy"}, Failed}}, cause: CauseDeadline},
		{name: "unhealthy at the deadline names it", steps: []step{
			{0, nil, ContainerState{Running: true, Health: "unhealthy"}, Waiting},
			{10 * s, nil, ContainerState{Running: true, Health: "unhealthy"}, Failed}},
			cause: CauseUnhealthy, msg: "last error: docker healthcheck: unhealthy"},
		{name: "worker: running held min_healthy is ready", steps: []step{{0, nil, up, Waiting}, {1 * s, nil, up, Waiting}, {2 * s, nil, up, Ready}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			d := &Decider{Start: t0, MinHealthy: 2 * s, Deadline: 10 * s}
			switch {
			case c.minHealthy < 0:
				d.MinHealthy = 0
			case c.minHealthy > 0:
				d.MinHealthy, d.Deadline = c.minHealthy, 10*time.Minute
			}
			for i, st := range c.steps {
				got := d.Observe(Observation{At: t0.Add(st.at), ProbeErr: st.err, Container: st.state})
				if got != st.want {
					t.Fatalf("step %d (t=%s): verdict %v, want %v (err %v)", i, st.at, got, st.want, d.Err())
				}
			}
			if c.cause == "" {
				return
			}
			if d.Err() == nil || d.Err().Cause != c.cause {
				t.Fatalf("failure %v, want cause %s", d.Err(), c.cause)
			}
			if !strings.Contains(d.Err().Msg, c.msg) {
				t.Fatalf("message %q does not say %q", d.Err().Msg, c.msg)
			}
		})
	}
}

// Regression: an inspect error used to reset the restart baseline to 0, so the
// next real answer counted every earlier restart as new: a false crash loop.
func TestDeciderInspectErrorKeepsRestartBaseline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := &Decider{Start: t0, MinHealthy: 2 * time.Second, Deadline: time.Minute}
	obs := []Observation{
		{At: t0, Container: ContainerState{Running: true, RestartCount: 7}},
		{At: t0.Add(time.Second), ContainerErr: errors.New("engine timeout")},
		{At: t0.Add(2 * time.Second), Container: ContainerState{Running: true, RestartCount: 7}},
		{At: t0.Add(3 * time.Second), Container: ContainerState{Running: true, RestartCount: 7}},
	}
	for i, o := range obs {
		if v := d.Observe(o); v != Waiting {
			t.Fatalf("observation %d: %v (%v), want waiting", i, v, d.Err())
		}
	}
	if held := d.Held(t0.Add(3 * time.Second)); held != time.Second {
		t.Fatalf("held %s, want 1s: the inspect error should have restarted the window at 2s", held)
	}
}

func TestDeciderExpireNamesTheLastError(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := &Decider{Start: t0, MinHealthy: time.Second, Deadline: 5 * time.Second}
	refused := &ProbeError{URL: "http://app/", Reason: "connection refused"}
	d.Observe(Observation{At: t0, ProbeErr: refused, Container: ContainerState{Running: true}})
	if v := d.Expire(); v != Failed {
		t.Fatalf("expire: %v", v)
	}
	err := d.Err()
	if err.Cause != CauseDeadline || err.Msg != "not ready within 5s: last error: probe http://app/: connection refused (readiness must hold 1s; longest run held 0s)" {
		t.Fatalf("got %s: %q", err.Cause, err.Msg)
	}
	if !errors.Is(err, refused) {
		t.Fatal("the gate error does not wrap the last probe error")
	}
	if v := d.Observe(Observation{At: t0.Add(6 * time.Second), Container: ContainerState{Running: true}}); v != Failed {
		t.Fatalf("a failed gate came back: %v", v)
	}
}

// TestDeciderAlone pins the Compose recreate rule: when no other target can
// serve, the first good answer is routed (Serving) while the min_healthy
// window keeps running, and every failure rule still applies.
func TestDeciderAlone(t *testing.T) {
	up := ContainerState{Running: true}
	restarting := func(n int) ContainerState { return ContainerState{Restarting: true, RestartCount: n} }
	running := func(n int) ContainerState { return ContainerState{Running: true, RestartCount: n} }
	down := &ProbeError{URL: "http://app/healthz", Status: 503, Reason: "status 503"}
	s := time.Second
	type step struct {
		at    time.Duration
		err   error
		state ContainerState
		want  Verdict
		alone bool
	}
	cases := []struct {
		name       string
		minHealthy time.Duration // default 2s
		steps      []step
		cause      Cause
		msg        string
	}{
		{name: "alone: the first good answer serves, the window still runs", steps: []step{
			{0, down, up, Waiting, true}, {1 * s, nil, up, Serving, true}, {2 * s, nil, up, Serving, true}, {3 * s, nil, up, Ready, true}}},
		{name: "not alone: the whole window, as before", steps: []step{
			{0, nil, up, Waiting, false}, {1 * s, nil, up, Waiting, false}, {2 * s, nil, up, Ready, false}}},
		{name: "alone: a failed probe takes it out, the next good one puts it back", steps: []step{
			{0, nil, up, Serving, true}, {1 * s, down, up, Waiting, true}, {2 * s, nil, up, Serving, true},
			{3 * s, nil, up, Serving, true}, {4 * s, nil, up, Ready, true}}},
		{name: "alone, then another target serves: back to waiting for the window", steps: []step{
			{0, nil, up, Serving, true}, {1 * s, nil, up, Waiting, false}, {2 * s, nil, up, Ready, false}}},
		{name: "alone: a restart takes it out", steps: []step{
			{0, nil, running(0), Serving, true}, {1 * s, nil, restarting(1), Waiting, true}, {2 * s, nil, running(1), Serving, true},
			{3 * s, nil, running(1), Serving, true}, {4 * s, nil, running(1), Ready, true}}},
		{name: "alone: answers once, then crash-loops: failed, not served", minHealthy: time.Hour, steps: []step{
			{0, nil, running(0), Serving, true},
			{1 * s, nil, restarting(1), Waiting, true}, {2 * s, nil, running(2), Waiting, true},
			{3 * s, nil, running(2), Serving, true},
			{4 * s, nil, restarting(3), Waiting, true}, {5 * s, nil, running(4), Failed, true}},
			cause: CauseCrashLoop, msg: "crash loop: 4 restarts in 60s"},
		{name: "alone: flapping still fails at the deadline", steps: []step{
			{0, nil, up, Serving, true}, {1500 * time.Millisecond, down, up, Waiting, true}, {3 * s, nil, up, Serving, true},
			{4500 * time.Millisecond, down, up, Waiting, true}, {6 * s, nil, up, Serving, true}, {7500 * time.Millisecond, down, up, Waiting, true},
			{9 * s, nil, up, Serving, true}, {10 * s, nil, up, Failed, true}},
			cause: CauseDeadline, msg: "longest run held 1s"},
		{name: "alone: an exit fails at once", steps: []step{{0, nil, up, Serving, true}, {1 * s, nil, ContainerState{ExitCode: 2}, Failed, true}},
			cause: CauseExited},
		{name: "alone: HEALTHCHECK starting is not an answer", steps: []step{
			{0, nil, ContainerState{Running: true, Health: "starting"}, Waiting, true},
			{1 * s, nil, ContainerState{Running: true, Health: "healthy"}, Serving, true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			d := &Decider{Start: t0, MinHealthy: 2 * s, Deadline: 10 * s}
			if c.minHealthy > 0 {
				d.MinHealthy, d.Deadline = c.minHealthy, 10*time.Minute
			}
			for i, st := range c.steps {
				got := d.Observe(Observation{At: t0.Add(st.at), ProbeErr: st.err, Container: st.state, Alone: st.alone})
				if got != st.want {
					t.Fatalf("step %d (t=%s): verdict %v, want %v (err %v)", i, st.at, got, st.want, d.Err())
				}
			}
			if c.cause == "" {
				return
			}
			if d.Err() == nil || d.Err().Cause != c.cause {
				t.Fatalf("failure %v, want cause %s", d.Err(), c.cause)
			}
			if !strings.Contains(d.Err().Msg, c.msg) {
				t.Fatalf("message %q does not say %q", d.Err().Msg, c.msg)
			}
		})
	}
	t.Run("alone: an inspect error is not an answer", func(t *testing.T) {
		t0 := time.Unix(1000, 0)
		d := &Decider{Start: t0, MinHealthy: 3 * s, Deadline: 10 * s}
		if v := d.Observe(Observation{At: t0, ContainerErr: errors.New("engine timeout"), Alone: true}); v != Waiting {
			t.Fatalf("verdict %v, want waiting", v)
		}
	})
}

// The engine going away is not evidence about the container: one serving
// alone keeps serving while its probe answers, and min_healthy counts only
// observed time.
func TestDeciderEngineUnreachable(t *testing.T) {
	s := time.Second
	t0 := time.Unix(1000, 0)
	up := ContainerState{Running: true}
	gone := errors.New("inspect c: dial unix /var/run/docker.sock: connect: connection refused")
	d := &Decider{Start: t0, MinHealthy: 3 * s, Deadline: 20 * s}
	steps := []struct {
		at     time.Duration
		engine error
		alone  bool
		want   Verdict
	}{
		{0, nil, true, Serving},
		{1 * s, gone, true, Serving}, // blind: still serving
		{2 * s, gone, true, Serving},
		{3 * s, nil, true, Serving}, // seen again: the window starts over here
		{5 * s, nil, true, Serving}, // held 2s of observed time
		{6 * s, nil, true, Ready},
	}
	for i, st := range steps {
		got := d.Observe(Observation{At: t0.Add(st.at), ContainerErr: st.engine, Container: up, Alone: st.alone})
		if got != st.want {
			t.Fatalf("step %d (t=%s): verdict %v, want %v", i, st.at, got, st.want)
		}
	}
	// Not alone (another target serves), blind: waiting, and the deadline still applies.
	d2 := &Decider{Start: t0, MinHealthy: 3 * s, Deadline: 5 * s}
	if v := d2.Observe(Observation{At: t0, Container: up}); v != Waiting {
		t.Fatalf("first good answer, not alone: %v", v)
	}
	if v := d2.Observe(Observation{At: t0.Add(2 * s), ContainerErr: gone}); v != Waiting {
		t.Fatalf("blind, not alone: %v", v)
	}
	if v := d2.Observe(Observation{At: t0.Add(5 * s), ContainerErr: gone}); v != Failed {
		t.Fatalf("blind at the deadline: %v, want Failed", v)
	}
}

func TestDeciderEngineUnreachableProbeStillDecides(t *testing.T) {
	t0 := time.Unix(1000, 0)
	gone := errors.New("inspect c: connection refused")
	down := &ProbeError{URL: "http://app/healthz", Status: 503, Reason: "status 503"}
	d := &Decider{Start: t0, MinHealthy: time.Hour, Deadline: time.Hour}
	if v := d.Observe(Observation{At: t0, Container: ContainerState{Running: true}, Alone: true}); v != Serving {
		t.Fatalf("first good answer alone: %v", v)
	}
	if v := d.Observe(Observation{At: t0.Add(time.Second), ContainerErr: gone, ProbeErr: down, Alone: true}); v != Waiting {
		t.Fatalf("engine away and the probe failing: %v, want Waiting (taken out)", v)
	}
}
