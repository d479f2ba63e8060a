package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"go.uber.org/zap"
)

// SwarmAPI is the slice of the Docker SDK the Swarm provider uses; the real
// *client.Client has it, and the tests give it a fake engine.
type SwarmAPI interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	TaskInspectWithRaw(ctx context.Context, taskID string) (swarm.Task, []byte, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
}

var _ SwarmAPI = (*client.Client)(nil)

// DefaultSwarmRelist is how often the Swarm provider lists services and tasks
// again. A manager's event stream carries service events and the containers
// of its own node only: a task started or lost on another node is seen by
// this re-list (or the next service event), not by an event of its own.
const DefaultSwarmRelist = 5 * time.Second

// taskIDLabel is the label Swarm puts on a task's container; a container
// event carries it, which ties the event to the task.
const taskIDLabel = "com.docker.swarm.task.id"

// Swarm follows a Swarm manager: its services (their labels are what
// baton reads) and their running tasks, from the engine's events and a
// periodic re-list, and keeps Sink up to date with one instance per task.
type Swarm struct {
	api    SwarmAPI
	opts   DockerOptions
	relist time.Duration
	sink   Sink
	logger *zap.Logger

	mu        sync.Mutex
	view      []Instance
	published bool
	images    map[string]ImageFacts
	leaving   map[string]bool // task -> true when its container died, false when it got a stop signal
	reported  map[string]string
	following following
	preferred []string
}

// NewSwarm returns a Swarm provider; relist 0 is DefaultSwarmRelist. Run
// says where its view goes.
func NewSwarm(api SwarmAPI, o DockerOptions, relist time.Duration) *Swarm {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if relist <= 0 {
		relist = DefaultSwarmRelist
	}
	logger := o.Logger.Named("swarm")
	return &Swarm{api: api, opts: o, relist: relist, logger: logger,
		following: following{logger: logger, lost: "swarm lost; serving the last known routes and reconnecting", back: "swarm followed again; routes converged"},
		images:    map[string]ImageFacts{}, leaving: map[string]bool{}, reported: map[string]string{}}
}

// Degraded returns why the provider is not following the Swarm now ("" when it is).
func (s *Swarm) Degraded() string {
	return s.following.degraded()
}

// Instances returns the current view.
func (s *Swarm) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Instance(nil), s.view...)
}

// Status reads a task's state for the health gate (cutover.StatusReader);
// a task that is gone reads as exited.
func (s *Swarm) Status(ctx context.Context, id string) (ContainerStatus, error) {
	t, _, err := s.api.TaskInspectWithRaw(ctx, id)
	if err != nil {
		if client.IsErrNotFound(err) {
			return ContainerStatus{ExitCode: -1}, nil
		}
		return ContainerStatus{}, fmt.Errorf("inspect task %s: %w", id, err)
	}
	s.mu.Lock()
	died := s.leaving[id]
	s.mu.Unlock()
	st := taskStatus(t)
	if died {
		st.Running = false // its container's die event came before Swarm's store saw it
	}
	return st, nil
}

// Run follows the Swarm until ctx ends, giving sink every view; when the
// stream breaks it keeps the last view, reconnects with backoff, re-lists and
// converges.
func (s *Swarm) Run(ctx context.Context, sink Sink) {
	s.mu.Lock()
	s.sink = sink
	s.preferred = ownNetworks(ctx, s.api, s.opts.Network, s.logger)
	s.mu.Unlock()
	followLoop(ctx, s.follow, &s.following)
}

// follow subscribes to events, lists (so nothing between the two is missed),
// then applies events and re-lists on every tick until the stream fails.
func (s *Swarm) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := filters.NewArgs(filters.Arg("type", string(events.ServiceEventType)), filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("type", string(events.NodeEventType)))
	msgs, errs := s.api.Events(ctx, events.ListOptions{Filters: f})
	if err := s.Relist(ctx); err != nil {
		return err
	}
	s.following.set(nil)
	tick := time.NewTicker(s.relist)
	defer tick.Stop()
	for {
		select {
		case m := <-msgs:
			if s.apply(m) {
				if err := s.Relist(ctx); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := s.Relist(ctx); err != nil {
				return err
			}
		case err := <-errs:
			if err == nil {
				err = errors.New("event stream closed")
			}
			return fmt.Errorf("docker events: %w", err)
		case <-ctx.Done():
			return nil
		}
	}
}

// apply takes one event: a stop signal to a task's container takes the task
// out of the pool at once (as the container provider does at kill, before
// Swarm's store says so), its death marks it gone; it reports whether a
// re-list should follow. Containers that are not tasks are not baton's
// business in this mode.
func (s *Swarm) apply(m events.Message) bool {
	switch m.Type {
	case events.ServiceEventType, events.NodeEventType:
		return true
	case events.ContainerEventType:
	default:
		return false
	}
	task := m.Actor.Attributes[taskIDLabel]
	if task == "" {
		return false
	}
	switch string(m.Action) {
	case "kill":
		sig := m.Actor.Attributes["signal"]
		if s.markLeaving(task, false, func(in *Instance) bool { return stoppingSignals[sig] || sig == in.stopSignal() }) {
			s.publish()
		}
		return false
	case "die", "stop", "destroy":
		if s.markLeaving(task, true, func(*Instance) bool { return true }) {
			s.publish()
		}
		return true
	case "start", "health_status", "connect", "disconnect":
		return true
	}
	return strings.HasPrefix(string(m.Action), "health_status")
}

// markLeaving records that a listed task's container is stopping (or dead)
// and applies it to the view; it reports whether the view changed.
func (s *Swarm) markLeaving(task string, died bool, match func(*Instance) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.view {
		in := &s.view[i]
		if in.ID != task || !match(in) {
			continue
		}
		s.leaving[task] = s.leaving[task] || died
		if in.Stopping {
			return false
		}
		in.Stopping = true
		return true
	}
	return false
}

// Relist reads every service and task and publishes the view if it changed.
func (s *Swarm) Relist(ctx context.Context) error {
	services, err := s.api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return fmt.Errorf("docker list services (is this engine a Swarm manager? docker.mode: swarm needs one): %w", err)
	}
	tasks, err := s.api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"), filters.Arg("desired-state", "shutdown"))})
	if err != nil {
		return fmt.Errorf("docker list tasks: %w", err)
	}
	images := s.imageFacts(ctx, tasks)
	s.mu.Lock()
	view := SwarmInstances(services, tasks, images, InstanceOptions{Defaults: s.opts.Defaults, ExposedByDefault: s.opts.ExposedByDefault,
		TraefikLabels: s.opts.TraefikLabels, Constraint: s.opts.Constraint, Preferred: s.preferred, Transports: s.opts.Transports})
	listed := map[string]bool{}
	for i := range view {
		listed[view[i].ID] = true
		if _, ok := s.leaving[view[i].ID]; ok {
			view[i].Stopping = true // Swarm's store is behind its node's container events
		}
	}
	for id := range s.leaving {
		if !listed[id] {
			delete(s.leaving, id) // Swarm never runs a task again: the mark is no longer needed
		}
	}
	changed := !s.published || !reflect.DeepEqual(view, s.view)
	s.view, s.published = view, true
	s.mu.Unlock()
	s.report(view)
	if changed {
		s.publish()
	}
	return nil
}

// imageFacts reads the images the tasks name, once each (a reference's
// labels do not change under a running task). An image not on this node
// reads as empty: the version then comes from baton.version alone.
func (s *Swarm) imageFacts(ctx context.Context, tasks []swarm.Task) map[string]ImageFacts {
	s.mu.Lock()
	known := make(map[string]ImageFacts, len(s.images))
	for k, v := range s.images {
		known[k] = v
	}
	s.mu.Unlock()
	for _, t := range tasks {
		if t.Spec.ContainerSpec == nil {
			continue
		}
		ref := t.Spec.ContainerSpec.Image
		if _, ok := known[ref]; ok || ref == "" {
			continue
		}
		img, err := s.api.ImageInspect(ctx, ref)
		if err != nil && strings.Contains(ref, "@") {
			// "name:tag@sha256:..." as Swarm pins it; a locally built image has no digest.
			img, err = s.api.ImageInspect(ctx, ref[:strings.Index(ref, "@")])
		}
		var facts ImageFacts
		if err == nil && img.Config != nil {
			facts.Labels = img.Config.Labels
			for p := range img.Config.ExposedPorts {
				if port, proto, ok := strings.Cut(p, "/"); ok && proto == "tcp" || !ok {
					var n int
					if _, err := fmt.Sscan(port, &n); err == nil {
						facts.Ports = append(facts.Ports, n)
					}
				}
			}
			sort.Ints(facts.Ports)
		} else if err != nil {
			s.logger.Debug("image not on this node", zap.String("image", ref), zap.Error(err))
			continue // asked again next time: it may be pulled later
		}
		known[ref] = facts
	}
	s.mu.Lock()
	for k, v := range known {
		s.images[k] = v
	}
	s.mu.Unlock()
	return known
}

// report logs each task's label error once per distinct error, and the
// Traefik labels it ignores once.
func (s *Swarm) report(view []Instance) {
	for i := range view {
		in := &view[i]
		var msg string
		if in.Err != nil {
			msg = in.Err.Error()
		}
		s.mu.Lock()
		last, seen := s.reported[in.Service]
		s.reported[in.Service] = msg
		s.mu.Unlock()
		if seen && last == msg {
			continue
		}
		if in.Err != nil {
			s.logger.Error("service not routed", zap.String("task", in.Name), zap.String("service", in.Service), zap.Error(in.Err))
			if s.opts.OnLabelError != nil {
				s.opts.OnLabelError(in.Name)
			}
		} else if len(in.Ignored) > 0 {
			s.logger.Info("traefik labels ignored", zap.String("service", in.Service), zap.Strings("labels", in.Ignored))
		}
	}
}

func (s *Swarm) publish() {
	s.mu.Lock()
	snap, sink := append([]Instance(nil), s.view...), s.sink
	s.mu.Unlock()
	sink.Update(snap)
}

// ErrSwarmDeploy refuses `baton deploy` (and rollback) of a Swarm service:
// baton routes and gates Swarm tasks, but does not yet drive a Swarm update
// (docs/swarm.md says how it will).
var ErrSwarmDeploy = errors.New("baton deploy of a Swarm service is not built yet (docker.mode: swarm routes and gates tasks; it does not drive updates)")

// SwarmEngine is the deploy engine in Swarm mode: it refuses before
// anything changes, with ErrSwarmDeploy.
type SwarmEngine struct{}

// Snapshot implements cutover.Engine.
func (SwarmEngine) Snapshot(context.Context, string) (json.RawMessage, error) {
	return nil, ErrSwarmDeploy
}

// Create implements cutover.Engine.
func (SwarmEngine) Create(context.Context, json.RawMessage, string, map[string]string) (Instance, error) {
	return Instance{}, ErrSwarmDeploy
}

// Remove implements cutover.Engine.
func (SwarmEngine) Remove(context.Context, string) error { return ErrSwarmDeploy }

// ImageLabels implements cutover.Engine.
func (SwarmEngine) ImageLabels(context.Context, string) (map[string]string, error) {
	return nil, ErrSwarmDeploy
}
