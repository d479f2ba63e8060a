package cutover

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// svc is a claimant on hosts (path "/"), with or without a target; empty is
// how long ago (in minutes) it lost its last target.
func svc(name string, targets bool, emptyMin int, hosts ...string) claimant {
	c := claimant{Service: name, Targets: targets, EmptySince: t0.Add(time.Duration(emptyMin) * time.Minute)}
	for _, h := range hosts {
		c.Places = append(c.Places, proxy.Place{Host: h, Path: "/"})
	}
	return c
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type claimStep struct {
	at     int // minutes after t0
	in     []claimant
	owners string // "host=service ..." sorted by host
	events string // "host:old>new ..." ("" new = released)
}

func owners(c claims) string {
	var out []string
	for p, s := range c.Owner {
		out = append(out, p.Host+"="+s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func events(es []claimEvent) string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s:%s>%s", e.Place.Host, e.Old, e.New))
	}
	return strings.Join(out, " ")
}

func TestDecideClaims(t *testing.T) {
	const hour = 60
	for _, c := range []struct {
		name  string
		steps []claimStep
	}{
		{"a service with a target holds its hosts", []claimStep{
			{in: []claimant{svc("a", true, 0, "h1", "h2")}, owners: "h1=a h2=a"},
		}},
		{"among services with a target the first claim wins, the later stays a conflict", []claimStep{
			{in: []claimant{svc("a", true, 0, "h")}, owners: "h=a"},
			{in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=a"},
			{in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=a"},
		}},
		{"a holder with no target keeps its host while nobody else claims it (a Compose recreate)", []claimStep{
			{in: []claimant{svc("a", true, 0, "h")}, owners: "h=a"},
			{at: 10, in: []claimant{svc("a", false, 5, "h")}, owners: "h=a"},
			{at: 20, in: []claimant{svc("a", true, 0, "h")}, owners: "h=a"},
		}},
		{"a new claim takes a host whose holder has no target at once", []claimStep{
			{in: []claimant{svc("a", true, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", false, 1, "h")}, owners: "h=a"},
			{at: 2, in: []claimant{svc("a", false, 1, "h"), svc("b", false, 2, "h")}, owners: "h=b", events: "h:a>b"},
			// b is still gating: a, without a target, does not take it back.
			{at: 3, in: []claimant{svc("a", false, 1, "h"), svc("b", false, 2, "h")}, owners: "h=b"},
			{at: 4, in: []claimant{svc("a", false, 1, "h"), svc("b", true, 0, "h")}, owners: "h=b"},
			// a's container is back: its claim is now the later one, a conflict.
			{at: 5, in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=b"},
		}},
		{"a refused claim takes the host once the holder has no target", []claimStep{
			{in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", false, 1, "h"), svc("b", true, 0, "h")}, owners: "h=b", events: "h:a>b"},
			{at: 2, in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=b"},
		}},
		{"a yielded service with a target again takes back a host whose holder has none", []claimStep{
			{in: []claimant{svc("a", false, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", false, 0, "h"), svc("b", false, 1, "h")}, owners: "h=b", events: "h:a>b"},
			{at: 2, in: []claimant{svc("a", true, 0, "h"), svc("b", false, 1, "h")}, owners: "h=a", events: "h:b>a"},
			{at: 3, in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=a"},
		}},
		{"several new claims at once: one takeover, to the one with a target, and no cascade", []claimStep{
			{in: []claimant{svc("a", false, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", false, 0, "h"), svc("b", true, 0, "h"), svc("c", false, 1, "h")}, owners: "h=b", events: "h:a>b"},
			{at: 2, in: []claimant{svc("a", false, 0, "h"), svc("b", true, 0, "h"), svc("c", false, 1, "h")}, owners: "h=b"},
		}},
		{"several new claims without a target: the latest takes it, and keeps it", []claimStep{
			{in: []claimant{svc("a", false, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", false, 0, "h"), svc("b", false, 1, "h"), svc("c", false, 1, "h")}, owners: "h=c", events: "h:a>c"},
			{at: 2, in: []claimant{svc("a", false, 0, "h"), svc("b", false, 1, "h"), svc("c", false, 1, "h")}, owners: "h=c"},
		}},
		{"a takeover is per host: the holder keeps the others", []claimStep{
			{in: []claimant{svc("a", false, 0, "h1", "h2")}, owners: "h1=a h2=a"},
			{at: 1, in: []claimant{svc("a", false, 0, "h1", "h2"), svc("b", false, 1, "h1")}, owners: "h1=b h2=a", events: "h1:a>b"},
		}},
		{"release_after with no target drops the hosts", []claimStep{
			{in: []claimant{svc("a", true, 0, "h1", "h2")}, owners: "h1=a h2=a"},
			{at: 30, in: []claimant{svc("a", false, 30, "h1", "h2")}, owners: "h1=a h2=a"},
			{at: 30 + hour - 1, in: []claimant{svc("a", false, 30, "h1", "h2")}, owners: "h1=a h2=a"},
			{at: 30 + hour, in: []claimant{svc("a", false, 30, "h1", "h2")}, owners: "", events: "h1:a> h2:a>"},
			{at: 30 + hour + 1, in: []claimant{svc("a", false, 30, "h1", "h2")}, owners: ""},
			// Its container is back: a claims afresh.
			{at: 30 + hour + 2, in: []claimant{svc("a", true, 0, "h1", "h2")}, owners: "h1=a h2=a"},
		}},
		{"a released host goes to an earlier rival claim, which never took it", []claimStep{
			// c claimed first, without a target; a, with one, holds h.
			{in: []claimant{svc("c", false, 0, "h"), svc("a", true, 0, "h")}, owners: "h=a"},
			// a loses its target: c's claim is not a later one, no takeover.
			{at: 10, in: []claimant{svc("c", false, 50, "h"), svc("a", false, 10, "h")}, owners: "h=a"},
			{at: 70, in: []claimant{svc("c", false, 50, "h"), svc("a", false, 10, "h")}, owners: "h=c", events: "h:a>c"},
		}},
		{"a holder that claims a host no more leaves it to the next claim, without a takeover", []claimStep{
			{in: []claimant{svc("a", true, 0, "h"), svc("b", true, 0, "h")}, owners: "h=a"},
			{at: 1, in: []claimant{svc("a", true, 0, "other"), svc("b", true, 0, "h")}, owners: "h=b other=a"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var state claims
			for i, st := range c.steps {
				d := decideClaims(state, st.in, t0.Add(time.Duration(st.at)*time.Minute), time.Hour)
				if got := owners(d.Next); got != st.owners {
					t.Errorf("step %d: owners %q, want %q", i, got, st.owners)
				}
				if got := events(d.Events); got != st.events {
					t.Errorf("step %d: events %q, want %q", i, got, st.events)
				}
				state = d.Next
			}
		})
	}
}

// The next decision is due at the earliest release_after deadline of a
// service without a target; none while every service has one, or with
// release_after 0 (never).
func TestDecideClaimsWake(t *testing.T) {
	in := []claimant{svc("a", false, 10, "h1"), svc("b", false, 5, "h2"), svc("c", true, 0, "h3")}
	if d := decideClaims(claims{}, in, t0.Add(20*time.Minute), time.Hour); !d.Wake.Equal(t0.Add(65 * time.Minute)) {
		t.Errorf("wake %v, want b's deadline %v", d.Wake, t0.Add(65*time.Minute))
	}
	if d := decideClaims(claims{}, in[2:], t0, time.Hour); !d.Wake.IsZero() {
		t.Errorf("wake %v with every service served", d.Wake)
	}
	d := decideClaims(claims{}, in, t0.Add(1000*time.Hour), 0)
	if !d.Wake.IsZero() || owners(d.Next) != "h1=a h2=b h3=c" {
		t.Errorf("release_after 0: wake %v, owners %s", d.Wake, owners(d.Next))
	}
}
