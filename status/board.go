package status

import (
	"fmt"
	"sort"
	"strings"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// Routes is the switchboard's view of what is routed (cutover.Switchboard).
type Routes interface {
	All() []cutover.ServiceRoutes
	Conflicts() []error
}

// Targets reports in-flight requests per target (proxy.Targets).
type Targets interface {
	Each(func(*proxy.Target))
}

// Containers is what the Docker side knows (cutover.Controller).
type Containers interface {
	Instances() (ins []upstream.Instance, ready map[string]bool)
	Problems() []cutover.Problem
	Gating() map[string]cutover.Progress // the gates running now, by container
}

// Records lists a service's deploys, newest first (cutover.Store).
type Records interface {
	List(service string) ([]*cutover.Record, error)
}

// Board gathers the projection from the running parts. Everything but
// Routes and Targets may be nil (no Docker provider).
type Board struct {
	Routes     Routes
	Targets    Targets
	Streams    func(targetID string) int // open upgraded connections; nil = 0
	Secure     func(host string) bool    // served over HTTPS; nil when TLS is off
	Containers Containers
	Records    Records
	Docker     func() string         // "" when connected, else why it is degraded; nil without Docker
	State      func() string         // why the state dir cannot be written (deploys are refused), "" while it can; nil = not said
	Process    func() *admin.Process // the process answering; nil = not said
}

// Status is the answer of GET /v1/services.
func (b *Board) Status() admin.Status {
	var st admin.Status
	if b.Process != nil {
		st.Baton = b.Process()
	}
	routed := map[string]bool{}
	inflight := map[string]int64{}
	// A container's endpoints (several Traefik services) share its ID.
	b.Targets.Each(func(t *proxy.Target) { inflight[t.ID] += t.InFlight() })
	target := func(ep cutover.Endpoint, state string) admin.TargetStatus {
		ts := admin.TargetStatus{ID: ep.ID, Addr: ep.Addr, Version: ep.Version, State: state, InFlight: inflight[ep.ID]}
		if b.Streams != nil {
			ts.Streams = b.Streams(ep.ID)
		}
		return ts
	}
	for _, sr := range b.Routes.All() {
		ss := admin.ServiceStatus{Name: sr.Name, Hosts: sr.Routing.Hosts, Path: sr.Routing.Path, Static: strings.HasPrefix(sr.Name, "static:")}
		for _, h := range sr.Routing.Hosts {
			if b.Secure != nil && b.Secure(h) {
				ss.HTTPSHosts = append(ss.HTTPSHosts, h)
			}
		}
		for _, ep := range sr.Live {
			ss.Targets = append(ss.Targets, target(ep, "ready"))
			ss.LiveVersion = ep.Version
		}
		for _, ep := range sr.Draining {
			ss.Targets = append(ss.Targets, target(ep, "draining"))
		}
		st.Services = append(st.Services, ss)
		routed[sr.Name] = true
	}
	for _, err := range b.Routes.Conflicts() {
		st.Problems = append(st.Problems, admin.LabelProblem{Error: err.Error()})
	}
	if b.Containers == nil {
		st.Docker = "off"
		return st
	}
	st.Docker = "connected"
	if b.Docker != nil {
		if d := b.Docker(); d != "" {
			st.Docker = "degraded: " + d
		}
	}
	ins, ready := b.Containers.Instances()
	addGates(&st, b.Containers.Gating(), ins)
	addWorkers(&st, ins, ready)
	for _, p := range b.Containers.Problems() {
		st.Problems = append(st.Problems, admin.LabelProblem{Container: p.Container, Service: p.Service, Error: p.Error, Ignored: p.Ignored})
	}
	if b.State != nil {
		if p := b.State(); p != "" {
			st.Problems = append(st.Problems, admin.LabelProblem{Error: p})
		}
	}
	b.addDeploys(&st, routed)
	addCompose(&st, ins, ready)
	return st
}

// addDeploys fills each service's last deploy and what is known of its live release.
func (b *Board) addDeploys(st *admin.Status, routed map[string]bool) {
	for i := range st.Services {
		s := &st.Services[i]
		if s.Static {
			continue // not deployed by baton, nothing to verify
		}
		var recs []*cutover.Record
		if b.Records != nil {
			recs, _ = b.Records.List(s.Name)
		}
		if len(recs) > 0 {
			s.LastDeploy = Summary(recs[0])
		}
		for _, r := range recs {
			if r.Step == cutover.StepDone {
				s.Verified = r.Verified
				break
			}
		}
		if len(s.Targets) > 0 {
			s.Verdict, s.Verification = Verdict(s.LiveVersion, routed[s.Name], recs)
		}
	}
}

// addGates shows the gates still running: on a live target routed early, and
// as a "gating" target for a container not routed yet.
func addGates(st *admin.Status, gating map[string]cutover.Progress, ins []upstream.Instance) {
	if len(gating) == 0 {
		return
	}
	left := make(map[string]cutover.Progress, len(gating))
	for id, p := range gating {
		left[id] = p
	}
	for i := range st.Services {
		s := &st.Services[i]
		for j := range s.Targets {
			if p, ok := left[s.Targets[j].ID]; ok {
				s.Targets[j].Gate = GateText(p)
				delete(left, s.Targets[j].ID)
			}
		}
	}
	for _, in := range ins {
		p, ok := left[in.ID]
		if !ok {
			continue
		}
		for i := range st.Services {
			if s := &st.Services[i]; s.Name == in.Service {
				s.Targets = append(s.Targets, admin.TargetStatus{ID: in.ID, Name: in.Name, Addr: in.Addr, Version: in.Version, State: "gating", Gate: GateText(p)})
			}
		}
	}
}

// GateText is a running gate's progress in words.
func GateText(p cutover.Progress) string {
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
func addWorkers(st *admin.Status, ins []upstream.Instance, ready map[string]bool) {
	known := map[string]bool{}
	for _, s := range st.Services {
		known[s.Name] = true
	}
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
func addCompose(st *admin.Status, ins []upstream.Instance, ready map[string]bool) {
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
