package main

import (
	"strings"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
)

// statusBoard answers `baton status` from the switchboard and the proxy targets.
type statusBoard struct {
	switchboard *cutover.Switchboard
	targets     *proxy.Targets
}

func (b *statusBoard) Status() admin.Status {
	var st admin.Status
	inflight := map[string]int64{}
	b.targets.Each(func(t *proxy.Target) { inflight[t.ID] = t.InFlight() })
	for _, sr := range b.switchboard.All() {
		ss := admin.ServiceStatus{Name: sr.Name, Hosts: sr.Routing.Hosts, Path: sr.Routing.Path, Static: strings.HasPrefix(sr.Name, "static:")}
		for _, ep := range sr.Live {
			ss.Targets = append(ss.Targets, admin.TargetStatus{ID: ep.ID, Addr: ep.Addr, Version: ep.Version, State: "ready", InFlight: inflight[ep.ID]})
			ss.LiveVersion = ep.Version
		}
		for _, ep := range sr.Draining {
			ss.Targets = append(ss.Targets, admin.TargetStatus{ID: ep.ID, Addr: ep.Addr, Version: ep.Version, State: "draining", InFlight: inflight[ep.ID]})
		}
		st.Services = append(st.Services, ss)
	}
	for _, err := range b.switchboard.Conflicts() {
		st.Problems = append(st.Problems, admin.LabelProblem{Error: err.Error()})
	}
	return st
}
