package cutover

import (
	"sort"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// Host claims: which Docker service holds each place (host and path, or
// rule) of the route table. A service whose containers are gone keeps its
// places, so a Compose recreate finds its host held (baton.hold, then 503)
// rather than lost; but only until another service claims one of them,
// which takes it over at once, or until release_after passes with no
// target, when the places are dropped. While the holder has a target, a
// later claim stays a conflict that NewTable names: never a silent hijack.

// claimant is one Docker service as the claims decision sees it.
type claimant struct {
	Service string
	Places  []proxy.Place
	// Targets: the service has a live or draining target.
	Targets bool
	// EmptySince is when the service was last seen without a target
	// (meaningful only when Targets is false).
	EmptySince time.Time
}

// claims is the decision's state from one publish to the next.
type claims struct {
	Seq   uint64                            // the last claim number given
	Owner map[proxy.Place]string            // the service holding each claimed place
	Claim map[string]map[proxy.Place]uint64 // service -> place -> claim number (from 1)
	// Yielded are the places a service lost while it had no target (taken
	// over, or released): it claims them again only once it has a target,
	// and then as a new claim.
	Yielded map[string]map[proxy.Place]bool
}

// claimEvent is a place changing hands: New "" means released (nobody
// holds it now).
type claimEvent struct {
	Place    proxy.Place
	Old, New string
}

// claimDecision is decideClaims' answer.
type claimDecision struct {
	Next   claims
	Events []claimEvent
	// Wake is when the decision must be made again although nothing else
	// changes: the next release_after deadline; zero = none.
	Wake time.Time
}

// Holds reports whether service holds place.
func (c claims) Holds(service string, p proxy.Place) bool { return c.Owner[p] == service }

// decideClaims is the claims decision: from the last state, what each service
// claims now (in, in the order the services first appeared: a new claim is
// numbered after the earlier ones), and the time, who holds each place:
//   - a service with no target for releaseAfter (0: never) yields every place;
//   - the holder keeps a place while it claims it and has a target: a later
//     claim is a conflict (the switchboard puts the holder's route first, so
//     the table names it);
//   - a holder with no target loses it at once to a later claim, and yields
//     it: the later claim of a service with a target first, else the latest;
//   - a place nobody holds (new, or its holder claims it no more) goes to the
//     earliest claim of a service with a target, else the latest claim.
//
// So among services with a target the first claim wins, as before; a
// service that has none keeps its places only while nobody else wants them.
func decideClaims(prev claims, in []claimant, now time.Time, releaseAfter time.Duration) claimDecision {
	next := claims{Seq: prev.Seq, Owner: map[proxy.Place]string{}, Claim: map[string]map[proxy.Place]uint64{}, Yielded: map[string]map[proxy.Place]bool{}}
	var wake time.Time
	targets := map[string]bool{}
	byPlace := map[proxy.Place][]string{}
	releasedFrom := map[proxy.Place]string{}
	yield := func(service string, p proxy.Place) {
		if next.Yielded[service] == nil {
			next.Yielded[service] = map[proxy.Place]bool{}
		}
		next.Yielded[service][p] = true
		delete(next.Claim[service], p)
	}
	for _, c := range in {
		targets[c.Service] = c.Targets
		expired := false
		if !c.Targets && releaseAfter > 0 {
			deadline := c.EmptySince.Add(releaseAfter)
			expired = !now.Before(deadline)
			if !expired && (wake.IsZero() || deadline.Before(wake)) {
				wake = deadline
			}
		}
		for _, p := range c.Places {
			if _, dup := next.Claim[c.Service][p]; dup || next.Yielded[c.Service][p] {
				continue
			}
			switch {
			case expired:
				if prev.Holds(c.Service, p) {
					releasedFrom[p] = c.Service
				}
				yield(c.Service, p)
				continue
			case !c.Targets && prev.Yielded[c.Service][p]:
				yield(c.Service, p)
				continue
			}
			n, ok := prev.Claim[c.Service][p]
			if !ok {
				next.Seq++
				n = next.Seq
			}
			if next.Claim[c.Service] == nil {
				next.Claim[c.Service] = map[proxy.Place]uint64{}
			}
			next.Claim[c.Service][p] = n
			byPlace[p] = append(byPlace[p], c.Service)
		}
	}
	best := func(p proxy.Place, services []string) string {
		pick := ""
		for _, s := range services {
			switch {
			case pick == "", targets[s] && !targets[pick]:
				pick = s
			case targets[s] != targets[pick]:
			case targets[s] && next.Claim[s][p] < next.Claim[pick][p], !targets[s] && next.Claim[s][p] > next.Claim[pick][p]:
				pick = s
			}
		}
		return pick
	}
	var events []claimEvent
	places := make([]proxy.Place, 0, len(byPlace))
	for p := range byPlace {
		places = append(places, p)
	}
	sort.Slice(places, func(i, j int) bool { return placeLess(places[i], places[j]) })
	for _, p := range places {
		services := byPlace[p]
		holder := prev.Owner[p]
		mine := next.Claim[holder][p]
		switch {
		case mine == 0: // nobody held it, or the holder claims it no more
			holder = best(p, services)
			if from := releasedFrom[p]; from != "" {
				events = append(events, claimEvent{Place: p, Old: from, New: holder})
				delete(releasedFrom, p)
			}
		case !targets[holder]:
			var later []string
			for _, s := range services {
				if next.Claim[s][p] > mine {
					later = append(later, s)
				}
			}
			if len(later) > 0 {
				to := best(p, later)
				events = append(events, claimEvent{Place: p, Old: holder, New: to})
				yield(holder, p)
				holder = to
			}
		}
		next.Owner[p] = holder
	}
	for p, from := range releasedFrom {
		events = append(events, claimEvent{Place: p, Old: from})
	}
	sort.SliceStable(events, func(i, j int) bool { return placeLess(events[i].Place, events[j].Place) })
	return claimDecision{Next: next, Events: events, Wake: wake}
}

func placeLess(a, b proxy.Place) bool {
	if a.Host != b.Host {
		return a.Host < b.Host
	}
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	if a.Listener != b.Listener {
		return a.Listener < b.Listener
	}
	return a.Rule < b.Rule
}
