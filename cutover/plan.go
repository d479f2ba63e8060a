package cutover

import (
	"sort"
	"time"

	"github.com/batonproxy/baton/upstream"
)

// The controller's decisions, apart from its actions (as Nomad's deployment
// watcher keeps them): decideView says what one provider view means (which
// containers to gate, to hand over for adoption, to take out of the routes,
// to forget), decideRoutes what every service then serves (its live
// version, live and draining targets, pinned sets). Both are pure functions
// of the controller's state, table-tested in plan_test.go without gates or
// goroutines; Controller.Update and publishLocked apply what they return.

// ctlState is the controller's state as a decision reads it: the maps are
// the controller's own, read and never written here.
type ctlState struct {
	instances map[string]upstream.Instance
	ready     map[string]bool
	gating    map[string]bool // a gate runs
	failed    map[string]string
	live      map[string]string // service -> live version
	claimed   map[string]bool   // services a deploy owns
	draining  map[string]bool
	adopting  map[string]bool
	pinned    map[string]map[string]bool
	retired   map[string]bool
	looped    map[string]time.Time
	published map[string]bool // services given to the switchboard so far
}

// viewPlan is what a provider view asks of the controller.
type viewPlan struct {
	// Unroute: out of the routes, a running gate stopped (not routable: a
	// stopping container, a bad label; a retiring one; or back from a
	// restart at another address, whose gate probes the old one).
	Unroute  []string
	Gate     []upstream.Instance            // gates to start
	Adopt    map[string][]upstream.Instance // service -> containers of another version to hand over
	Gone     []string                       // no longer listed: forgotten
	Unretire []string                       // retiring ones no longer listed
	// SeenLooped are crash-looped containers listed again (their last seen
	// is now); Unloop those gone a whole crash window (refused no longer).
	SeenLooped, Unloop []string
}

// decideView decides what view, the provider's full list, means. quick is
// set for the first view (containers found running when baton starts: one
// good probe each); adopter says whether containers of another version may
// be handed over for adoption (ControllerOptions.Adopt).
func decideView(st ctlState, view []upstream.Instance, quick, adopter bool, now time.Time) viewPlan {
	p := viewPlan{Adopt: map[string][]upstream.Instance{}}
	seen := make(map[string]bool, len(view))
	out := map[string]bool{} // taken out of the routes by this view
	for _, in := range view {
		seen[in.ID] = true
		old, known := st.instances[in.ID]
		switch {
		case !in.Routable() || st.retired[in.ID]:
			// A retired container can still be listed running for a moment
			// after its deploy let the service go (the provider's view is a
			// few events behind the stop): taking it for a new version
			// would start a spurious adoption that fails on its exit.
			p.Unroute = append(p.Unroute, in.ID)
			out[in.ID] = true
		case known && old.Addr != in.Addr && st.gating[in.ID]:
			p.Unroute = append(p.Unroute, in.ID) // then gated again, below
			out[in.ID] = true
		}
		if _, ok := st.looped[in.ID]; ok {
			p.SeenLooped = append(p.SeenLooped, in.ID)
		}
	}
	// The view's containers, as the decisions below see them.
	after := make(map[string]upstream.Instance, len(view))
	for _, in := range view {
		after[in.ID] = in
	}
	readyAfter := func(id string) bool { return st.ready[id] && !out[id] }
	for _, in := range view {
		if !in.Routable() || st.retired[in.ID] {
			continue
		}
		if st.claimed[in.Service] && in.Version != st.live[in.Service] {
			continue // the deploy in progress gates it
		}
		if adopter && !quick && servingOtherVersion(in, st.live, after, readyAfter) {
			if !st.adopting[in.ID] {
				p.Adopt[in.Service] = append(p.Adopt[in.Service], in)
			}
			continue
		}
		if !readyAfter(in.ID) && (!st.gating[in.ID] || out[in.ID]) && st.failed[in.ID] == "" {
			p.Gate = append(p.Gate, in)
		}
	}
	for id := range st.instances {
		if !seen[id] {
			p.Gone = append(p.Gone, id)
		}
	}
	for id := range st.retired {
		if !seen[id] {
			p.Unretire = append(p.Unretire, id)
		}
	}
	for id, at := range st.looped {
		// A crash loop is refused until the container has been gone a whole
		// crash window (removed, or Docker stopped bringing it back).
		if !seen[id] && now.Sub(at) > crashWindow {
			p.Unloop = append(p.Unloop, id)
		}
	}
	sort.Strings(p.Gone)
	sort.Strings(p.Unretire)
	sort.Strings(p.Unloop)
	return p
}

// servingOtherVersion reports whether in is of another version than its
// service's live one while that live version still serves.
func servingOtherVersion(in upstream.Instance, live map[string]string, instances map[string]upstream.Instance, ready func(string) bool) bool {
	v, ok := live[in.Service]
	if !ok || in.Version == v {
		return false
	}
	for id, other := range instances {
		if ready(id) && other.Service == in.Service && other.Version == v && other.Routable() {
			return true
		}
	}
	return false
}

// routesPlan is what every service serves now.
type routesPlan struct {
	Batch []ServiceRoutes // to the switchboard, in one publish
	// Live are the services whose live version changes (the first ready
	// version of a service, or another when the live one has no ready
	// container left: a Compose recreate).
	Live      map[string]string
	Published []string            // services now given to the switchboard
	Routable  []upstream.Instance // whose middlewares any router may use
}

// decideRoutes computes every service's routes from st. current gives the
// switchboard's routes of a service with no container left: kept, with no
// target, so its hosts answer 503 (or hold) instead of 404.
func decideRoutes(st ctlState, current func(string) (ServiceRoutes, bool)) routesPlan {
	p := routesPlan{Live: map[string]string{}}
	byService := map[string][]upstream.Instance{}
	for _, in := range st.instances {
		if in.Routable() {
			byService[in.Service] = append(byService[in.Service], in)
			p.Routable = append(p.Routable, in)
		}
	}
	sort.Slice(p.Routable, func(i, j int) bool { return p.Routable[i].ID < p.Routable[j].ID })
	for name, ins := range byService {
		sort.Slice(ins, func(i, j int) bool { return ins[i].StartedAt.Before(ins[j].StartedAt) })
		live, ok := st.live[name]
		if !st.claimed[name] && (!ok || !hasReady(st.ready, ins, live)) {
			for _, in := range ins {
				if st.ready[in.ID] {
					if !ok || live != in.Version {
						p.Live[name] = in.Version
					}
					live, ok = in.Version, true
					break
				}
			}
		}
		if st.claimed[name] && !ok {
			continue // a resumed deploy decides; the saved routes serve meanwhile
		}
		sr := ServiceRoutes{Name: name, Routing: routingOf(ins[0].Spec)}
		for _, in := range ins {
			ep := endpointOf(in)
			switch {
			case st.draining[in.ID]:
				sr.Draining = append(sr.Draining, ep)
			case st.pinned[name] != nil:
				if st.pinned[name][in.ID] && st.ready[in.ID] {
					sr.Routing = routingOf(in.Spec)
					sr.Live = append(sr.Live, ep)
				}
			case st.ready[in.ID] && in.Version == live:
				sr.Routing = routingOf(in.Spec)
				sr.Live = append(sr.Live, ep)
			}
		}
		if !sr.Routing.routed() {
			continue // a worker: deployed, never routed
		}
		p.Published = append(p.Published, name)
		p.Batch = append(p.Batch, sr)
	}
	for name := range st.published {
		if _, ok := byService[name]; ok {
			continue
		}
		if sr, ok := current(name); ok && len(sr.Live)+len(sr.Draining) > 0 {
			sr.Live, sr.Draining = nil, nil
			p.Batch = append(p.Batch, sr)
		}
	}
	// In a stable order: a service new to the switchboard takes its place
	// in the claims order as it comes.
	sort.Slice(p.Batch, func(i, j int) bool { return p.Batch[i].Name < p.Batch[j].Name })
	sort.Strings(p.Published)
	return p
}

func hasReady(ready map[string]bool, ins []upstream.Instance, version string) bool {
	for _, in := range ins {
		if ready[in.ID] && in.Version == version {
			return true
		}
	}
	return false
}
