package health

import (
	"errors"
	"testing"
	"time"
)

func TestDecider(t *testing.T) {
	t0 := time.Unix(1000, 0)
	up := ContainerState{Running: true}
	fail := errors.New("status 503")
	type step struct {
		at    time.Duration
		err   error
		state ContainerState
		want  Verdict
	}
	cases := []struct {
		name  string
		steps []step
		cause Cause
	}{
		{"holds min_healthy", []step{{0, nil, up, Waiting}, {1 * time.Second, nil, up, Waiting}, {2 * time.Second, nil, up, Ready}}, ""},
		{"a failure restarts the window", []step{
			{0, nil, up, Waiting}, {1 * time.Second, fail, up, Waiting}, {2 * time.Second, nil, up, Waiting},
			{3 * time.Second, nil, up, Waiting}, {4 * time.Second, nil, up, Ready}}, ""},
		{"never ready fails at the deadline", []step{{0, fail, up, Waiting}, {5 * time.Second, fail, up, Waiting}, {10 * time.Second, fail, up, Failed}}, CauseDeadline},
		{"flapping fails at the deadline", []step{{0, nil, up, Waiting}, {1500 * time.Millisecond, fail, up, Waiting}, {3 * time.Second, nil, up, Waiting},
			{4500 * time.Millisecond, fail, up, Waiting}, {6 * time.Second, nil, up, Waiting}, {7500 * time.Millisecond, fail, up, Waiting}, {10 * time.Second, nil, up, Failed}}, CauseDeadline},
		{"exit fails at once", []step{{0, nil, up, Waiting}, {time.Second, nil, ContainerState{ExitCode: 1}, Failed}}, CauseExited},
		{"crash loop: 4 restarts within 60s", []step{
			{0, nil, ContainerState{Restarting: true}, Waiting},
			{1 * time.Second, fail, ContainerState{Running: true, RestartCount: 1}, Waiting},
			{2 * time.Second, fail, ContainerState{Restarting: true, RestartCount: 2}, Waiting},
			{3 * time.Second, fail, ContainerState{Running: true, RestartCount: 3}, Waiting},
			{4 * time.Second, fail, ContainerState{Restarting: true, RestartCount: 4}, Failed}}, CauseCrashLoop},
		{"HEALTHCHECK must be healthy too", []step{
			{0, nil, ContainerState{Running: true, Health: "starting"}, Waiting},
			{2 * time.Second, nil, ContainerState{Running: true, Health: "starting"}, Waiting},
			{3 * time.Second, nil, ContainerState{Running: true, Health: "healthy"}, Waiting},
			{5 * time.Second, nil, ContainerState{Running: true, Health: "healthy"}, Ready}}, ""},
		{"unhealthy at deadline names it", []step{{0, nil, ContainerState{Running: true, Health: "unhealthy"}, Waiting},
			{10 * time.Second, nil, ContainerState{Running: true, Health: "unhealthy"}, Failed}}, CauseUnhealthy},
	}
	for _, c := range cases {
		d := &Decider{Start: t0, MinHealthy: 2 * time.Second, Deadline: 10 * time.Second}
		for i, s := range c.steps {
			got := d.Observe(Observation{At: t0.Add(s.at), ProbeErr: s.err, Container: s.state})
			if got != s.want {
				t.Fatalf("%s: step %d: verdict %v, want %v (err %v)", c.name, i, got, s.want, d.Err())
			}
		}
		if c.cause != "" && (d.Err() == nil || d.Err().Cause != c.cause) {
			t.Fatalf("%s: cause %v, want %s", c.name, d.Err(), c.cause)
		}
	}
}
