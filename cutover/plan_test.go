package cutover

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/batonproxy/baton/upstream"
)

// state builds a ctlState from short lists; maps left nil read as empty.
type stateSpec struct {
	known    []upstream.Instance
	ready    []string
	gating   []string
	failed   []string
	live     map[string]string
	claimed  []string
	draining []string
	adopting []string
	retired  []string
	looped   map[string]time.Time
	pinned   map[string][]string
}

func set(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func (s stateSpec) build() ctlState {
	st := ctlState{instances: map[string]upstream.Instance{}, ready: set(s.ready), gating: set(s.gating), failed: map[string]string{},
		live: s.live, claimed: set(s.claimed), draining: set(s.draining), adopting: set(s.adopting), retired: set(s.retired),
		looped: s.looped, pinned: map[string]map[string]bool{}, published: map[string]bool{}}
	for _, in := range s.known {
		st.instances[in.ID] = in
	}
	for _, id := range s.failed {
		st.failed[id] = "not ready"
	}
	if st.live == nil {
		st.live = map[string]string{}
	}
	if st.looped == nil {
		st.looped = map[string]time.Time{}
	}
	for svc, ids := range s.pinned {
		st.pinned[svc] = set(ids)
	}
	return st
}

func gateIDs(p viewPlan) []string {
	var out []string
	for _, in := range p.Gate {
		out = append(out, in.ID)
	}
	sort.Strings(out)
	return out
}

func adoptIDs(p viewPlan) []string {
	var out []string
	for _, ins := range p.Adopt {
		for _, in := range ins {
			out = append(out, in.ID)
		}
	}
	sort.Strings(out)
	return out
}

func TestDecideView(t *testing.T) {
	now := time.Unix(1000, 0)
	a1 := inst("a", "web", "v1", "10.0.0.1:80", 1)
	b1 := inst("b", "web", "v1", "10.0.0.2:80", 2)
	n2 := inst("n", "web", "v2", "10.0.0.9:80", 5)
	stopping := a1
	stopping.Stopping = true
	moved := a1
	moved.Addr = "10.0.0.7:80"
	cases := []struct {
		name     string
		st       stateSpec
		view     []upstream.Instance
		quick    bool
		adopter  bool
		gate     []string
		adopt    []string
		unroute  []string
		gone     []string
		unretire []string
		unloop   []string
	}{
		{name: "a new container is gated", view: []upstream.Instance{a1}, gate: []string{"a"}},
		{name: "one found at start is gated too (quick)", view: []upstream.Instance{a1}, quick: true, adopter: true, gate: []string{"a"}},
		{name: "a ready one is left alone", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{a1}},
		{name: "one being gated is not gated twice", st: stateSpec{known: []upstream.Instance{a1}, gating: []string{"a"}},
			view: []upstream.Instance{a1}},
		{name: "a failed one waits until it is gone", st: stateSpec{known: []upstream.Instance{a1}, failed: []string{"a"}},
			view: []upstream.Instance{a1}},
		{name: "a replica of the live version is gated beside it", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{a1, b1}, adopter: true, gate: []string{"b"}},
		{name: "another version beside a serving live one is adopted", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{a1, n2}, adopter: true, adopt: []string{"n"}},
		{name: "without an adopter it is gated (and waits, routes decide)", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{a1, n2}, gate: []string{"n"}},
		{name: "not at start: containers found running are not adopted", st: stateSpec{live: map[string]string{"web": "v1"}, ready: []string{"a"}, known: []upstream.Instance{a1}},
			view: []upstream.Instance{a1, n2}, quick: true, adopter: true, gate: []string{"n"}},
		{name: "one handed over already is not handed over again", st: stateSpec{known: []upstream.Instance{a1, n2}, ready: []string{"a"}, live: map[string]string{"web": "v1"}, adopting: []string{"n"}},
			view: []upstream.Instance{a1, n2}, adopter: true},
		{name: "another version with the live one gone is gated (a Compose recreate)", st: stateSpec{live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{n2}, adopter: true, gate: []string{"n"}},
		{name: "a deploy's service: its new version is the deploy's to gate", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}, claimed: []string{"web"}},
			view: []upstream.Instance{a1, n2}, adopter: true},
		{name: "a stopping container leaves the routes", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{stopping}, unroute: []string{"a"}},
		{name: "a retiring one still listed is neither gated nor adopted", st: stateSpec{known: []upstream.Instance{a1, n2}, ready: []string{"n"}, live: map[string]string{"web": "v2"}, retired: []string{"a"}},
			view: []upstream.Instance{a1, n2}, adopter: true, unroute: []string{"a"}},
		{name: "a retiring one no longer listed is forgotten", st: stateSpec{known: []upstream.Instance{a1, n2}, ready: []string{"n"}, live: map[string]string{"web": "v2"}, retired: []string{"a"}},
			view: []upstream.Instance{n2}, gone: []string{"a"}, unretire: []string{"a"}},
		{name: "back at another address while gating: gated again", st: stateSpec{known: []upstream.Instance{a1}, gating: []string{"a"}},
			view: []upstream.Instance{moved}, unroute: []string{"a"}, gate: []string{"a"}},
		{name: "gone from the view: forgotten", st: stateSpec{known: []upstream.Instance{a1, b1}, ready: []string{"a", "b"}, live: map[string]string{"web": "v1"}},
			view: []upstream.Instance{b1}, gone: []string{"a"}},
		{name: "a crash loop stays refused within its window", st: stateSpec{looped: map[string]time.Time{"a": now.Add(-30 * time.Second)}},
			view: nil},
		{name: "and is refused no longer once gone a whole window", st: stateSpec{looped: map[string]time.Time{"a": now.Add(-2 * time.Minute)}},
			view: nil, unloop: []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := decideView(tc.st.build(), tc.view, tc.quick, tc.adopter, now)
			check := func(what string, got, want []string) {
				t.Helper()
				sort.Strings(got)
				if len(got) == 0 && len(want) == 0 {
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("gate", gateIDs(p), tc.gate)
			check("adopt", adoptIDs(p), tc.adopt)
			check("unroute", append([]string(nil), p.Unroute...), tc.unroute)
			check("gone", p.Gone, tc.gone)
			check("unretire", p.Unretire, tc.unretire)
			check("unloop", p.Unloop, tc.unloop)
		})
	}
}

func liveOf(p routesPlan, service string) (live, draining []string, ok bool) {
	for _, sr := range p.Batch {
		if sr.Name == service {
			for _, ep := range sr.Live {
				live = append(live, ep.ID)
			}
			for _, ep := range sr.Draining {
				draining = append(draining, ep.ID)
			}
			sort.Strings(live)
			sort.Strings(draining)
			return live, draining, true
		}
	}
	return nil, nil, false
}

func TestDecideRoutes(t *testing.T) {
	a1 := inst("a", "web", "v1", "10.0.0.1:80", 1)
	b1 := inst("b", "web", "v1", "10.0.0.2:80", 2)
	n2 := inst("n", "web", "v2", "10.0.0.9:80", 5)
	worker := inst("w", "jobs", "v1", "", 1)
	worker.Spec.Hosts = nil
	stopping := b1
	stopping.Stopping = true
	none := func(string) (ServiceRoutes, bool) { return ServiceRoutes{}, false }
	cases := []struct {
		name      string
		st        stateSpec
		current   func(string) (ServiceRoutes, bool)
		service   string
		live      []string
		draining  []string
		absent    bool
		liveBecom string // the live version decided, "" = unchanged
	}{
		{name: "ready containers of the live version serve", st: stateSpec{known: []upstream.Instance{a1, b1}, ready: []string{"a", "b"}, live: map[string]string{"web": "v1"}},
			service: "web", live: []string{"a", "b"}},
		{name: "a first ready container makes its version live", st: stateSpec{known: []upstream.Instance{a1}, ready: []string{"a"}},
			service: "web", live: []string{"a"}, liveBecom: "v1"},
		{name: "one not ready yet does not serve", st: stateSpec{known: []upstream.Instance{a1, b1}, ready: []string{"a"}, live: map[string]string{"web": "v1"}},
			service: "web", live: []string{"a"}},
		{name: "another version ready beside a serving live one waits", st: stateSpec{known: []upstream.Instance{a1, n2}, ready: []string{"a", "n"}, live: map[string]string{"web": "v1"}},
			service: "web", live: []string{"a"}},
		{name: "the live version gone, a ready other version takes over", st: stateSpec{known: []upstream.Instance{n2}, ready: []string{"n"}, live: map[string]string{"web": "v1"}},
			service: "web", live: []string{"n"}, liveBecom: "v2"},
		{name: "after a switch the old one drains", st: stateSpec{known: []upstream.Instance{a1, n2}, ready: []string{"a", "n"}, live: map[string]string{"web": "v2"}, draining: []string{"a"}},
			service: "web", live: []string{"n"}, draining: []string{"a"}},
		{name: "a rolling deploy's pinned set serves, whatever the versions", st: stateSpec{known: []upstream.Instance{a1, b1, n2}, ready: []string{"a", "b", "n"}, live: map[string]string{"web": "v2"},
			pinned: map[string][]string{"web": {"b", "n"}}}, service: "web", live: []string{"b", "n"}},
		{name: "a stopping container serves no more", st: stateSpec{known: []upstream.Instance{a1, stopping}, ready: []string{"a", "b"}, live: map[string]string{"web": "v1"}},
			service: "web", live: []string{"a"}},
		{name: "a claimed service with no live version is left to its deploy", st: stateSpec{known: []upstream.Instance{n2}, ready: []string{"n"}, claimed: []string{"web"}},
			service: "web", absent: true},
		{name: "a worker is never routed", st: stateSpec{known: []upstream.Instance{worker}, ready: []string{"w"}, live: map[string]string{"jobs": "v1"}},
			service: "jobs", absent: true},
		{name: "a service with no container left keeps its routes, no target", st: stateSpec{live: map[string]string{"web": "v1"}},
			current: func(name string) (ServiceRoutes, bool) {
				return ServiceRoutes{Name: name, Routing: Routing{Hosts: []string{"web.test"}}, Live: []Endpoint{{ID: "a"}}}, true
			}, service: "web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st.build()
			if tc.current != nil {
				st.published["web"] = true
			}
			cur := tc.current
			if cur == nil {
				cur = none
			}
			p := decideRoutes(st, cur)
			live, draining, ok := liveOf(p, tc.service)
			if tc.absent {
				if ok {
					t.Fatalf("%s was given routes %v", tc.service, live)
				}
				return
			}
			if !ok {
				t.Fatalf("%s has no routes", tc.service)
			}
			if !reflect.DeepEqual(live, tc.live) || !reflect.DeepEqual(draining, tc.draining) {
				t.Fatalf("live %v draining %v, want %v %v", live, draining, tc.live, tc.draining)
			}
			if got := p.Live[tc.service]; got != tc.liveBecom {
				t.Fatalf("live version decided %q, want %q", got, tc.liveBecom)
			}
		})
	}
}
