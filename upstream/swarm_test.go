package upstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// fakeSwarm is an engine in Swarm mode as far as the provider asks.
type fakeSwarm struct {
	mu       sync.Mutex
	services []swarm.Service
	tasks    []swarm.Task
	msgs     chan events.Message
	errs     chan error
	streams  int // Events calls
	lists    int // ServiceList calls
}

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{msgs: make(chan events.Message), errs: make(chan error, 1)}
}

func (f *fakeSwarm) set(services []swarm.Service, tasks []swarm.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services, f.tasks = services, tasks
}

func (f *fakeSwarm) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return append([]swarm.Service(nil), f.services...), nil
}

func (f *fakeSwarm) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]swarm.Task(nil), f.tasks...), nil
}

func (f *fakeSwarm) TaskInspectWithRaw(_ context.Context, id string) (swarm.Task, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tasks {
		if t.ID == id {
			return t, nil, nil
		}
	}
	return swarm.Task{}, nil, errdefs.NotFound(errors.New("no such task: " + id))
}

func (f *fakeSwarm) Events(context.Context, events.ListOptions) (<-chan events.Message, <-chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams++
	return f.msgs, f.errs
}

func (f *fakeSwarm) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if ref != "app:v1" && ref != "app:v2" {
		return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image"))
	}
	return image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{}}, nil
}

func (f *fakeSwarm) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	return container.InspectResponse{}, errdefs.NotFound(errors.New("not in a container"))
}

// recordSink keeps every view it is given.
type recordSink struct {
	mu    sync.Mutex
	views [][]Instance
	ch    chan struct{}
}

func newRecordSink() *recordSink { return &recordSink{ch: make(chan struct{}, 100)} }

func (r *recordSink) Update(ins []Instance) {
	r.mu.Lock()
	r.views = append(r.views, ins)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recordSink) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.views)
}

// waitFor waits for a published view that satisfies ok (events are applied
// on the provider's goroutine; the deadline only bounds a broken test).
func (r *recordSink) waitFor(t *testing.T, what string, ok func([]Instance) bool) []Instance {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, v := range r.views {
			if ok(v) {
				r.mu.Unlock()
				return v
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no view where %s; views: %+v", what, r.views)
		}
	}
}

func ids(ins []Instance, stopping bool) string {
	var out []string
	for _, in := range ins {
		if in.Stopping == stopping {
			out = append(out, in.ID)
		}
	}
	return strings.Join(out, ",")
}

func taskEvent(action, task, signal string) events.Message {
	attrs := map[string]string{"name": "web.1.x"}
	if task != "" {
		attrs[taskIDLabel] = task
	}
	if signal != "" {
		attrs["signal"] = signal
	}
	return events.Message{Type: events.ContainerEventType, Action: events.Action(action), Actor: events.Actor{ID: "c-" + task, Attributes: attrs}}
}

func TestSwarmProviderFollowsEvents(t *testing.T) {
	web := map[string]string{"baton.enable": "true", "baton.host": "shop.test", "baton.port": "8080"}
	svc := swarmService("s1", "web", web)
	run := swarm.TaskStateRunning
	t1 := swarmTask("t1", "s1", 1, run, run, "app:v1", time.Unix(1, 0), attach("net", "10.0.1.2/24"))
	t2 := swarmTask("t2", "s1", 2, run, run, "app:v1", time.Unix(2, 0), attach("net", "10.0.1.3/24"))
	f := newFakeSwarm()
	f.set([]swarm.Service{svc}, []swarm.Task{t1})
	sink := newRecordSink()
	// A re-list period far beyond the test: every change below comes from an event.
	p := NewSwarm(f, DockerOptions{Defaults: DefaultSpec()}, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, sink) }()
	defer func() { cancel(); <-done }()

	sink.waitFor(t, "the first task is listed", func(v []Instance) bool { return ids(v, false) == "t1" && v[0].Addr == "10.0.1.2:8080" })

	// A scale-up: the service event makes the provider list again.
	f.set([]swarm.Service{svc}, []swarm.Task{t1, t2})
	f.msgs <- events.Message{Type: events.ServiceEventType, Action: "update", Actor: events.Actor{ID: "s1"}}
	sink.waitFor(t, "the second task joins", func(v []Instance) bool { return ids(v, false) == "t1,t2" })

	// A container that is not a task is none of this provider's business.
	before := sink.count()
	f.msgs <- taskEvent("kill", "", "SIGTERM")
	// SIGHUP (a reload) keeps the task; SIGTERM takes it out at once, before
	// Swarm's store (the fake's task list) says anything.
	f.msgs <- taskEvent("kill", "t1", "SIGHUP")
	f.msgs <- taskEvent("kill", "t1", "SIGTERM")
	v := sink.waitFor(t, "t1 is stopping", func(v []Instance) bool { return ids(v, true) == "t1" })
	if ids(v, false) != "t2" {
		t.Fatalf("after t1's SIGTERM the pool is %q, want t2", ids(v, false))
	}
	if got := sink.count(); got != before+1 {
		t.Fatalf("%d views published for a foreign container, a SIGHUP and a SIGTERM, want exactly 1 (the SIGTERM)", got-before)
	}

	// Its container dies; Swarm's store still lists the task running for a
	// moment: it stays out, and the gate reads it as gone.
	f.msgs <- taskEvent("die", "t1", "")
	f.msgs <- events.Message{Type: events.ServiceEventType, Action: "update", Actor: events.Actor{ID: "s1"}}
	// The loop takes one event at a time: once a further (ignored) event is
	// taken, the re-list of the service event has finished.
	f.msgs <- taskEvent("kill", "", "SIGTERM")
	if st, err := p.Status(ctx, "t1"); err != nil || st.Running {
		t.Fatalf("status of a task whose container died = %+v, %v; want not running", st, err)
	}
	for _, in := range p.Instances() {
		if in.ID == "t1" && !in.Stopping {
			t.Fatalf("a re-list while Swarm still lists t1 running put it back in the pool: %+v", in)
		}
	}

	// Swarm replaces it: t1 gone, t3 in slot 1.
	t3 := swarmTask("t3", "s1", 1, run, run, "app:v1", time.Unix(3, 0), attach("net", "10.0.1.4/24"))
	f.set([]swarm.Service{svc}, []swarm.Task{t2, t3})
	f.msgs <- taskEvent("start", "t3", "")
	sink.waitFor(t, "the replacement joins and the dead task is gone", func(v []Instance) bool { return ids(v, false) == "t2,t3" && ids(v, true) == "" })
	p.mu.Lock()
	marks := len(p.leaving)
	p.mu.Unlock()
	if marks != 0 {
		t.Fatalf("%d leaving marks kept for tasks Swarm no longer lists", marks)
	}
	if st, _ := p.Status(ctx, "t1"); st.Running || st.ExitCode != -1 {
		t.Fatalf("status of a task Swarm forgot = %+v, want exited", st)
	}

	// The stream breaks: the view is kept, the provider says so, reconnects and lists again.
	f.errs <- errors.New("connection reset")
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		streams := f.streams
		f.mu.Unlock()
		if streams >= 2 && p.Degraded() == "" {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("provider did not reconnect: streams %d, degraded %q", streams, p.Degraded())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if ids(p.Instances(), false) != "t2,t3" {
		t.Fatalf("view after reconnect = %+v", p.Instances())
	}
}

func TestSwarmProviderRelistPublishesOnlyChanges(t *testing.T) {
	f := newFakeSwarm()
	svc := swarmService("s1", "web", map[string]string{"baton.enable": "true", "baton.host": "a.test", "baton.port": "80"})
	f.set([]swarm.Service{svc}, nil)
	sink := newRecordSink()
	p := NewSwarm(f, DockerOptions{Defaults: DefaultSpec()}, time.Hour)
	p.sink = sink // as Run sets it: the re-lists are called here one by one
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := p.Relist(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if sink.count() != 1 {
		t.Fatalf("%d views for three identical lists, want 1 (the first, even empty: the controller waits for it)", sink.count())
	}
	run := swarm.TaskStateRunning
	f.set([]swarm.Service{svc}, []swarm.Task{swarmTask("t1", "s1", 1, run, run, "app:v1", time.Unix(1, 0), attach("net", "10.0.1.2/24"))})
	if err := p.Relist(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.count() != 2 || ids(p.Instances(), false) != "t1" {
		t.Fatalf("a new task: %d views, instances %+v", sink.count(), p.Instances())
	}
}
