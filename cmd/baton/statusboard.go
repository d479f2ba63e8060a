package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
)

// statusBoard answers `baton status` from the switchboard and the proxy targets.
type statusBoard struct {
	switchboard *cutover.Switchboard
	targets     *proxy.Targets
	deploy      *deployWiring          // nil without Docker
	secure      func(host string) bool // served over HTTPS; nil when TLS is off
	process     func() *admin.Process  // the process answering
}

func (b *statusBoard) Status() admin.Status {
	var st admin.Status
	if b.process != nil {
		st.Baton = b.process()
	}
	inflight := map[string]int64{}
	b.targets.Each(func(t *proxy.Target) { inflight[t.ID] += t.InFlight() })
	for _, sr := range b.switchboard.All() {
		ss := admin.ServiceStatus{Name: sr.Name, Hosts: sr.Routing.Hosts, Path: sr.Routing.Path, Static: strings.HasPrefix(sr.Name, "static:")}
		for _, h := range sr.Routing.Hosts {
			if b.secure != nil && b.secure(h) {
				ss.HTTPSHosts = append(ss.HTTPSHosts, h)
			}
		}
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
	if b.deploy == nil {
		st.Docker = "off"
		return st
	}
	st.Docker = "connected"
	if d := b.deploy.docker.Degraded(); d != "" {
		st.Docker = "degraded: " + d
	}
	b.addGates(&st)
	b.addWorkers(&st)
	for _, p := range b.deploy.controller.Problems() {
		st.Problems = append(st.Problems, admin.LabelProblem{Container: p.Container, Service: p.Service, Error: p.Error, Ignored: p.Ignored})
	}
	if p := b.deploy.store.CheckedProblem(5 * time.Second); p != "" {
		st.Problems = append(st.Problems, admin.LabelProblem{Error: p})
	}
	b.addDeploys(&st)
	b.addCompose(&st)
	return st
}

// addDeploys fills each service's last deploy and whether its live release was verified.
func (b *statusBoard) addDeploys(st *admin.Status) {
	for i := range st.Services {
		s := &st.Services[i]
		recs, err := b.deploy.store.List(s.Name)
		if err != nil || len(recs) == 0 {
			continue
		}
		last := recs[0]
		s.LastDeploy = &admin.DeploySummary{ID: last.ID, Status: string(last.Step), Expected: last.Expected, Cause: last.Cause, At: last.Started}
		for _, r := range recs {
			if r.Step == cutover.StepDone {
				s.Verified = r.Verified
				break
			}
		}
	}
}

// addGates shows the gates still running: on a live target routed early, and
// as a "gating" target for a container not routed yet.
func (b *statusBoard) addGates(st *admin.Status) {
	gating := b.deploy.controller.Gating()
	if len(gating) == 0 {
		return
	}
	for i := range st.Services {
		s := &st.Services[i]
		for j := range s.Targets {
			if p, ok := gating[s.Targets[j].ID]; ok {
				s.Targets[j].Gate = gateText(p)
				delete(gating, s.Targets[j].ID)
			}
		}
	}
	ins, _ := b.deploy.controller.Instances()
	for _, in := range ins {
		p, ok := gating[in.ID]
		if !ok {
			continue
		}
		for i := range st.Services {
			if s := &st.Services[i]; s.Name == in.Service {
				s.Targets = append(s.Targets, admin.TargetStatus{ID: in.ID, Name: in.Name, Addr: in.Addr, Version: in.Version, State: "gating", Gate: gateText(p)})
			}
		}
	}
}

func gateText(p cutover.Progress) string {
	if p.Need == 0 && p.Held == 0 && !p.Serving {
		return "no answer yet"
	}
	t := fmt.Sprintf("ready %.1fs / %s", p.Held.Seconds(), p.Need)
	if p.Serving {
		t = "serving early, " + t
	}
	return t
}

// addWorkers lists services without hosts: baton deploys them but routes nothing.
func (b *statusBoard) addWorkers(st *admin.Status) {
	known := map[string]bool{}
	for _, s := range st.Services {
		known[s.Name] = true
	}
	ins, ready := b.deploy.controller.Instances()
	workers := map[string]*admin.ServiceStatus{}
	var order []string
	for _, in := range ins {
		if known[in.Service] || in.Spec.Routed() || in.Err != nil {
			continue
		}
		w := workers[in.Service]
		if w == nil {
			w = &admin.ServiceStatus{Name: in.Service}
			workers[in.Service] = w
			order = append(order, in.Service)
		}
		state := "starting"
		if ready[in.ID] {
			state = "ready"
			w.LiveVersion = in.Version
		}
		w.Targets = append(w.Targets, admin.TargetStatus{ID: in.ID, Name: in.Name, Addr: in.Addr, Version: in.Version, State: state})
	}
	sort.Strings(order)
	for _, n := range order {
		st.Services = append(st.Services, *workers[n])
	}
}

// addCompose fills each service's image, Compose project and dependencies from
// its live containers, for `baton deploy --all`.
func (b *statusBoard) addCompose(st *admin.Status) {
	ins, ready := b.deploy.controller.Instances()
	for i := range st.Services {
		s := &st.Services[i]
		for _, in := range ins {
			if in.Service == s.Name && ready[in.ID] && (s.LiveVersion == "" || in.Version == s.LiveVersion) {
				s.Image, s.Project, s.DependsOn = in.Image, in.Project, in.DependsOn
				break
			}
		}
	}
}
