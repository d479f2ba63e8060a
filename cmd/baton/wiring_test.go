package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/batonproxy/baton/config"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

type fakeInfo struct {
	info system.Info
	err  error
}

func (f fakeInfo) Info(context.Context) (system.Info, error) { return f.info, f.err }

func TestSwarmModeDecision(t *testing.T) {
	manager := fakeInfo{info: system.Info{Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}}}
	worker := fakeInfo{info: system.Info{Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}}}
	plain := fakeInfo{info: system.Info{Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}}}
	down := fakeInfo{err: errors.New("connection refused")}
	cases := []struct {
		mode    string
		engine  fakeInfo
		want    bool
		wantErr string
	}{
		{"", manager, false, ""}, // the single-host path stays the default, even on a manager
		{config.ModeContainers, manager, false, ""},
		{config.ModeSwarm, plain, true, ""}, // asked for: the provider says what fails, and retries
		{config.ModeAuto, manager, true, ""},
		{config.ModeAuto, worker, false, ""}, // a worker cannot list services
		{config.ModeAuto, plain, false, ""},
		{config.ModeAuto, down, false, "docker.mode auto"},
	}
	for _, c := range cases {
		got, err := swarmMode(context.Background(), config.Docker{Mode: c.mode}, c.engine)
		if got != c.want || (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("mode %q on %+v: %v, %v; want %v, error containing %q", c.mode, c.engine.info.Swarm, got, err, c.want, c.wantErr)
		}
	}
}
