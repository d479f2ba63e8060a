package status

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

type fakeRoutes struct {
	all       []cutover.ServiceRoutes
	conflicts []error
}

func (f fakeRoutes) All() []cutover.ServiceRoutes { return f.all }
func (f fakeRoutes) Conflicts() []error           { return f.conflicts }

type noTargets struct{}

func (noTargets) Each(func(*proxy.Target)) {}

type fakeContainers struct {
	ins      []upstream.Instance
	ready    map[string]bool
	problems []cutover.Problem
	gating   map[string]cutover.Progress
}

func (f fakeContainers) Instances() ([]upstream.Instance, map[string]bool) { return f.ins, f.ready }
func (f fakeContainers) Problems() []cutover.Problem                       { return f.problems }
func (f fakeContainers) Gating() map[string]cutover.Progress               { return f.gating }

type fakeRecords map[string][]*cutover.Record

func (f fakeRecords) List(service string) ([]*cutover.Record, error) { return f[service], nil }

func webBoard() *Board {
	worker := upstream.Instance{ID: "w1", Name: "jobs-1", Service: "jobs", Version: "aaa", Addr: "", Running: true}
	gating := upstream.Instance{ID: "n1", Name: "web-new", Service: "web", Version: "ccc", Addr: "10.0.0.3:80", Running: true}
	gating.Spec.Hosts = []string{"web.test"}
	// Sent its stop signal: leaving, not gating.
	stopping := upstream.Instance{ID: "s1", Service: "web", Version: "aaa", Addr: "10.0.0.9:80", Running: true, Stopping: true}
	return &Board{
		Routes: fakeRoutes{all: []cutover.ServiceRoutes{{
			Name: "web", Routing: cutover.Routing{Hosts: []string{"web.test"}, Path: "/"},
			Live:     []cutover.Endpoint{{ID: "l1", Addr: "10.0.0.2:80", Version: "bbb"}},
			Draining: []cutover.Endpoint{{ID: "o1", Addr: "10.0.0.1:80", Version: "aaa"}},
		}}, conflicts: []error{errors.New("host web.test path / is claimed by web already")}},
		Targets: noTargets{},
		Streams: func(id string) int {
			if id == "o1" {
				return 2
			}
			return 0
		},
		Containers: fakeContainers{ins: []upstream.Instance{gating, stopping, worker}, ready: map[string]bool{"l1": true, "o1": true, "w1": true},
			gating:   map[string]cutover.Progress{"n1": {Held: 300 * time.Millisecond, Need: time.Second}},
			problems: []cutover.Problem{{Container: "bad-1", Error: `label traefik.http.routers.r.middlewares: "auth@file": refused`}}},
		Records: fakeRecords{"web": {
			{ID: "d3", Step: cutover.StepVerifying, Expected: "ccc"},
			{ID: "d2", Step: cutover.StepReverted, Expected: "ccc", Cause: "served_from_cache", Hint: "purge the cache"},
			done("d1", "bbb", cutover.Verified, ""),
		}},
		Docker: func() string { return "" },
	}
}

func TestBoardProjectsServicesTargetsDeploysAndProblems(t *testing.T) {
	st := webBoard().Status()
	if len(st.Services) != 2 || st.Services[0].Name != "web" || st.Services[1].Name != "jobs" {
		t.Fatalf("services %+v", st.Services)
	}
	web := st.Services[0]
	states := map[string]admin.TargetStatus{}
	for _, tg := range web.Targets {
		states[tg.State] = tg
	}
	if len(web.Targets) != 3 || states["ready"].ID != "l1" || states["draining"].ID != "o1" || states["gating"].ID != "n1" || states["draining"].Streams != 2 {
		t.Fatalf("targets %+v", web.Targets)
	}
	if web.Verdict != VerdictVerified || web.Verified != cutover.Verified || web.Verification.Deploy != "d1" {
		t.Fatalf("live bbb was verified by d1: %s %+v", web.Verdict, web.Verification)
	}
	if d := web.LastDeploy; d == nil || d.ID != "d3" || !d.Running {
		t.Fatalf("the running deploy is the last one: %+v", d)
	}
	if st.Services[1].Verdict != VerdictWorker {
		t.Fatalf("worker verdict %s", st.Services[1].Verdict)
	}
	if len(st.Problems) != 2 || !strings.Contains(st.Problems[1].Error, "auth@file") || st.Docker != "connected" {
		t.Fatalf("problems %+v docker %s", st.Problems, st.Docker)
	}
}

func TestBoardNamesAStateDirThatCannotBeWritten(t *testing.T) {
	b := webBoard()
	b.State = func() string { return "state dir /var/lib/baton: writes fail: no space left on device" }
	st := b.Status()
	if n := len(st.Problems); n != 3 || !strings.Contains(st.Problems[n-1].Error, "/var/lib/baton") {
		t.Fatalf("problems %+v", st.Problems)
	}
	b.State = func() string { return "" }
	if st := b.Status(); len(st.Problems) != 2 {
		t.Fatalf("a writable state dir is a problem: %+v", st.Problems)
	}
}

func TestBoardWithoutDocker(t *testing.T) {
	b := webBoard()
	b.Containers, b.Records = nil, nil
	st := b.Status()
	if st.Docker != "off" || len(st.Services) != 1 || st.Services[0].Verdict != "" {
		t.Fatalf("%+v", st)
	}
}

// `baton status` prints what it printed before the projection moved here.
func TestPrintKeepsTheCLITable(t *testing.T) {
	var buf bytes.Buffer
	Print(&buf, webBoard().Status())
	want := `SERVICE  HOSTS     LIVE  VERIFIED  LAST DEPLOY  TARGETS
web      web.test  bbb   verified  verifying    10.0.0.2:80(ready,0 in flight) 10.0.0.1:80(draining,0 in flight) 10.0.0.3:80(gating,0 in flight, ready 0.3s / 1s)
jobs     -         aaa   -         -            (ready,0 in flight)

docker: connected

problems:
  -: host web.test path / is claimed by web already
  bad-1: label traefik.http.routers.r.middlewares: "auth@file": refused
`
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
