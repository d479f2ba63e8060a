package upstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// fakeEngine is the Docker engine as the provider sees it: containers to
// list and inspect, and an event stream the test feeds. Calls the provider
// is not expected to make panic (the embedded nil interface).
type fakeEngine struct {
	EngineAPI

	mu         sync.Mutex
	containers map[string]container.InspectResponse
	msgs       chan events.Message
	errs       chan error
	subscribed chan struct{} // one value per Events call
	lists      int
	preload    []events.Message // queued on the next stream before the provider reads it
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{containers: map[string]container.InspectResponse{}, subscribed: make(chan struct{}, 16)}
}

func (f *fakeEngine) Events(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
	f.mu.Lock()
	f.msgs, f.errs = make(chan events.Message, 64), make(chan error, 1)
	for _, m := range f.preload {
		f.msgs <- m
	}
	f.preload = nil
	msgs, errs := f.msgs, f.errs
	f.mu.Unlock()
	f.subscribed <- struct{}{}
	return msgs, errs
}

func (f *fakeEngine) ContainerList(context.Context, container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var out []container.Summary
	for id := range f.containers {
		out = append(out, container.Summary{ID: id})
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return container.InspectResponse{}, cerrdefs.ErrNotFound
	}
	return c, nil
}

func (f *fakeEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{}, cerrdefs.ErrNotFound
}

// run adds a running container of service web with host web.test.
func (f *fakeEngine) run(id string, stopSignal string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id] = container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/" + id, Image: "sha256:img",
			State: &container.State{Running: true, StartedAt: time.Now().UTC().Format(time.RFC3339Nano)}},
		Config: &container.Config{Image: "app:1", StopSignal: stopSignal, Labels: map[string]string{
			"baton.enable": "true", "baton.service": "web", "baton.host": "web.test", "baton.port": "8080"}},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"net": {IPAddress: "10.0.0." + id[len(id)-1:]}}},
	}
}

func (f *fakeEngine) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
}

// send queues events on the current stream.
func (f *fakeEngine) send(ms ...events.Message) {
	f.mu.Lock()
	ch := f.msgs
	f.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

func (f *fakeEngine) breakStream(err error) {
	f.mu.Lock()
	ch := f.errs
	f.mu.Unlock()
	ch <- err
}

func event(action, id string, attrs map[string]string) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.Action(action), Actor: events.Actor{ID: id, Attributes: attrs}}
}

// recordingSink keeps every view the provider published.
type recordingSink struct {
	mu    sync.Mutex
	views [][]Instance
	more  chan struct{}
}

func newRecordingSink() *recordingSink { return &recordingSink{more: make(chan struct{}, 256)} }

func (s *recordingSink) Update(ins []Instance) {
	s.mu.Lock()
	s.views = append(s.views, ins)
	s.mu.Unlock()
	s.more <- struct{}{}
}

// next waits for the next published view.
func (s *recordingSink) next(t *testing.T) []Instance {
	t.Helper()
	select {
	case <-s.more:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider published no view")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.views[len(s.views)-1]
}

func (s *recordingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.views)
}

func startProvider(t *testing.T, f *fakeEngine) *recordingSink {
	t.Helper()
	sink := newRecordingSink()
	d := NewDocker(f, DockerOptions{Defaults: Spec{Path: "/"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, sink); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-f.subscribed
	sink.next(t) // the first list
	return sink
}

func viewIDs(ins []Instance) map[string]bool {
	out := map[string]bool{}
	for _, in := range ins {
		out[in.ID] = true
	}
	return out
}

func TestProviderAppliesABurstOfEventsAsOneView(t *testing.T) {
	f := newFakeEngine()
	// A Compose up of 8 containers: their create and start events are
	// queued together when the provider reads the stream.
	for i := 1; i <= 8; i++ {
		id := fmt.Sprintf("c%d", i)
		f.run(id, "")
		f.preload = append(f.preload, event("create", id, nil), event("start", id, nil))
	}
	sink := startProvider(t, f) // the first view: the list
	if view := sink.next(t); len(view) != 8 {
		t.Fatalf("the view after the burst has %d containers, want 8", len(view))
	}
	// A last event gives one more view: had the burst been published per
	// event, its views would come before this one.
	f.remove("c8")
	f.send(event("die", "c8", nil))
	if view := sink.next(t); len(view) != 7 {
		t.Fatalf("after c8 died the view has %d containers", len(view))
	}
	if n := sink.count(); n != 3 {
		t.Fatalf("%d views for a list, a burst of 16 queued events and a die; want 3", n)
	}
}

func TestProviderEventKinds(t *testing.T) {
	f := newFakeEngine()
	f.run("c1", "")
	f.run("c2", "SIGQUIT")
	sink := startProvider(t, f)

	// kill with a reload signal keeps the container; with its stop signal it
	// leaves the pool at kill, before it exits.
	f.send(event("kill", "c1", map[string]string{"signal": "SIGHUP"}), event("kill", "c2", map[string]string{"signal": "3"}))
	view := sink.next(t)
	for _, in := range view {
		if in.ID == "c1" && in.Stopping {
			t.Fatal("SIGHUP (a reload) marked c1 stopping")
		}
		if in.ID == "c2" && !in.Stopping {
			t.Fatal("SIGQUIT, c2's stop signal, did not mark it stopping")
		}
	}
	// die removes it.
	f.remove("c2")
	f.send(event("die", "c2", nil))
	if got := viewIDs(sink.next(t)); got["c2"] || !got["c1"] {
		t.Fatalf("after c2 died the view is %v", got)
	}
	// A start of a container gone before its inspect is dropped, not kept.
	f.send(event("start", "ghost", nil))
	if got := viewIDs(sink.next(t)); got["ghost"] {
		t.Fatal("a container that could not be inspected was added")
	}
	// A network connect re-inspects (the address may change).
	f.mu.Lock()
	f.containers["c1"].NetworkSettings.Networks["net"].IPAddress = "10.0.0.99"
	f.mu.Unlock()
	f.send(events.Message{Type: events.NetworkEventType, Action: "connect", Actor: events.Actor{ID: "net", Attributes: map[string]string{"container": "c1"}}})
	for _, in := range sink.next(t) {
		if in.ID == "c1" && in.Addr != "10.0.0.99:8080" {
			t.Fatalf("after connect c1 is at %s", in.Addr)
		}
	}
}

func TestProviderRecoversALostStreamByRelisting(t *testing.T) {
	f := newFakeEngine()
	f.run("c1", "")
	sink := startProvider(t, f)
	// While the stream is down, c1 goes and c2 comes: no event tells of it.
	f.remove("c1")
	f.run("c2", "")
	f.breakStream(fmt.Errorf("unexpected EOF"))
	select {
	case <-f.subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the provider did not subscribe again after the stream broke")
	}
	if got := viewIDs(sink.next(t)); got["c1"] || !got["c2"] {
		t.Fatalf("after the re-list the view is %v, want c2 only", got)
	}
	f.mu.Lock()
	lists := f.lists
	f.mu.Unlock()
	if lists != 2 {
		t.Fatalf("%d lists, want 2 (at start, after the stream came back)", lists)
	}
}
