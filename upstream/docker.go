package upstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"go.uber.org/zap"
)

// Sink receives the provider's full view after every change. A full snapshot,
// not a diff: the receiver never has to replay a missed event to be right.
type Sink interface {
	Update(instances []Instance)
}

// DockerOptions configure the Docker provider.
type DockerOptions struct {
	Defaults         Spec
	ExposedByDefault bool
	TraefikLabels    bool
	Network          string // preferred network (the one baton shares with its upstreams)
	Constraint       string // "key=value": only containers with this label are considered
	Logger           *zap.Logger
	// OnLabelError is called once per container and distinct error (a metric).
	OnLabelError func(container string)
	// Transports reports whether baton.yaml defines a servers transport
	// (ParseOptions.Transports).
	Transports func(name string) bool
}

// Docker follows the engine: it lists the running containers, then follows the
// event stream, and keeps Sink up to date. When the stream breaks it keeps the
// last view, reconnects with backoff, re-lists and converges.
type Docker struct {
	cli    EngineAPI
	opts   DockerOptions
	sink   Sink
	logger *zap.Logger

	mu        sync.Mutex
	instances map[string]*Instance
	imageRevs map[string]string // image ID -> org.opencontainers.image.revision
	reported  map[string]string // container ID -> last label error reported
	following following
	preferred []string // networks to reach containers on, best first
}

// NewDockerClient connects to host (empty: $DOCKER_HOST or the default socket)
// with API version negotiation, so an older engine is spoken to in its version.
func NewDockerClient(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client %s: %w", host, err)
	}
	return cli, nil
}

// NewDocker returns a provider of cli's containers (NewDockerClient, or a
// fake in tests). It is the engine adapter too (Create, Status, Signal,
// Exec): the gate and the deployer use it before it runs; Run says where
// its view goes.
func NewDocker(cli EngineAPI, o DockerOptions) *Docker {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	logger := o.Logger.Named("docker")
	return &Docker{
		cli:    cli,
		opts:   o,
		logger: logger,
		following: following{logger: logger, lost: "docker events lost; serving the last known routes and reconnecting",
			back: "docker events recovered; routes converged"},
		instances: make(map[string]*Instance),
		imageRevs: make(map[string]string),
		reported:  make(map[string]string),
	}
}

// Degraded returns why the provider is not following the engine now ("" when it is).
func (d *Docker) Degraded() string {
	return d.following.degraded()
}

// Instances returns the current view.
func (d *Docker) Instances() []Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.snapshotLocked()
}

// Run follows the engine until ctx ends, giving sink every view.
func (d *Docker) Run(ctx context.Context, sink Sink) {
	d.mu.Lock()
	d.sink = sink
	d.mu.Unlock()
	d.detectOwnNetworks(ctx)
	followLoop(ctx, d.follow, &d.following)
}

// follow subscribes to events, re-lists (so nothing between the two is missed),
// then applies events until the stream fails.
func (d *Docker) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("type", string(events.NetworkEventType)))
	msgs, errs := d.cli.Events(ctx, events.ListOptions{Filters: f})
	if err := d.relist(ctx); err != nil {
		return err
	}
	d.following.set(nil)
	for {
		select {
		case m := <-msgs:
			// A burst (a Compose up, a deploy's create and start) is
			// applied whole before the view goes out once: one route table,
			// one wake-up of held requests and one durable write for it,
			// not one per event. Only events already queued are taken:
			// none waits for another.
			changed := d.apply(ctx, m)
		burst:
			for {
				select {
				case m := <-msgs:
					changed = d.apply(ctx, m) || changed
				default:
					break burst
				}
			}
			if changed {
				d.publish()
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

func (d *Docker) relist(ctx context.Context) error {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return fmt.Errorf("docker list containers: %w", err)
	}
	fresh := make(map[string]*Instance, len(list))
	for _, c := range list {
		in, err := d.inspect(ctx, c.ID)
		if err != nil {
			d.logger.Warn("inspect failed", zap.String("container", c.ID), zap.Error(err))
			continue
		}
		if in != nil {
			fresh[c.ID] = in
		}
	}
	d.mu.Lock()
	d.instances = fresh
	d.mu.Unlock()
	d.publish()
	return nil
}

// stoppingSignals are the kill signals that mean "this container is going
// away": it leaves the pool at kill, not at die, so no request lands in its
// grace period. SIGHUP or SIGUSR1 (reload, log rotation) keep it.
var stoppingSignals = map[string]bool{"15": true, "2": true, "9": true, "3": true,
	"SIGTERM": true, "SIGINT": true, "SIGKILL": true, "SIGQUIT": true}

// apply folds one event into the view and reports whether it changed (the
// caller publishes once per burst).
func (d *Docker) apply(ctx context.Context, m events.Message) (changed bool) {
	id := m.Actor.ID
	if m.Type == events.NetworkEventType {
		id = m.Actor.Attributes["container"]
		if id == "" {
			return false
		}
	}
	action := string(m.Action)
	switch {
	case m.Type == events.ContainerEventType && action == "kill":
		sig := m.Actor.Attributes["signal"]
		d.mu.Lock()
		defer d.mu.Unlock()
		in, ok := d.instances[id]
		stopping := ok && (stoppingSignals[sig] || sig == in.stopSignal())
		if stopping {
			in.Stopping = true
		}
		return stopping
	case action == "die" || action == "stop" || action == "destroy":
		d.mu.Lock()
		defer d.mu.Unlock()
		_, ok := d.instances[id]
		delete(d.instances, id)
		delete(d.reported, id)
		return ok
	case action == "start" || action == "rename" || action == "restart" || action == "unpause" ||
		action == "connect" || action == "disconnect" || len(action) > 13 && action[:13] == "health_status":
		in, err := d.inspect(ctx, id)
		if err != nil {
			if client.IsErrNotFound(err) {
				d.mu.Lock()
				defer d.mu.Unlock()
				delete(d.instances, id)
				return true
			}
			return false
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if in == nil {
			delete(d.instances, id)
		} else {
			d.instances[id] = in
		}
		return true
	}
	return false
}

// inspect reads one container; nil means baton does not consider it (not
// enabled, or not running).
func (d *Docker) inspect(ctx context.Context, id string) (*Instance, error) {
	c, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.State == nil || !c.State.Running || c.Config == nil || !MatchesConstraint(d.opts.Constraint, c.Config.Labels) {
		return nil, nil
	}
	imageLabels, err := d.imageLabels(ctx, c.Image)
	if err != nil {
		d.logger.Debug("image inspect failed", zap.String("image", c.Image), zap.Error(err))
	}
	in := InstanceOf(c, imageLabels, InstanceOptions{Defaults: d.opts.Defaults, ExposedByDefault: d.opts.ExposedByDefault,
		TraefikLabels: d.opts.TraefikLabels, Constraint: d.opts.Constraint, Preferred: d.preferredNetworks(), Transports: d.opts.Transports})
	if in == nil {
		return nil, nil
	}
	if in.Err != nil {
		d.reportLabelError(in)
	}
	if len(in.Ignored) > 0 {
		d.reportIgnored(in)
	}
	return in, nil
}

// InstanceOptions are the provider's settings that decide what a container
// is to baton.
type InstanceOptions struct {
	Defaults         Spec
	ExposedByDefault bool
	TraefikLabels    bool
	Constraint       string                 // docker.constraint, "key=value"
	Preferred        []string               // networks to reach containers on, best first
	Transports       func(name string) bool // servers_transports defined in baton.yaml (ParseOptions.Transports)
}

// InstanceOf is the provider's whole decision on one inspected container,
// with no I/O: nil when baton does not consider it (not running, outside
// the constraint, not enabled), else its spec from the labels, its address
// (network and port) and, in Err, why it is not routed. The Docker provider
// calls it for every container it inspects; `baton check` calls it for
// containers described by a Compose file.
func InstanceOf(c container.InspectResponse, imageLabels map[string]string, o InstanceOptions) *Instance {
	if c.ContainerJSONBase == nil || c.State == nil || !c.State.Running || c.Config == nil || !MatchesConstraint(o.Constraint, c.Config.Labels) {
		return nil // another baton's (or test run's) container
	}
	spec, enabled, ignored, perr := ParseLabels(Container{ID: c.ID, Name: trimName(c.Name), Labels: c.Config.Labels, ImageLabels: imageLabels},
		o.Defaults, ParseOptions{ExposedByDefault: o.ExposedByDefault, TraefikLabels: o.TraefikLabels, Transports: o.Transports})
	if !enabled {
		return nil
	}
	in := &Instance{
		ID:           c.ID,
		Name:         trimName(c.Name),
		Service:      spec.Service,
		Spec:         spec,
		Version:      spec.Version,
		Image:        c.Config.Image,
		ImageID:      c.Image,
		Running:      c.State.Running,
		Stopping:     c.State.Restarting || c.State.Paused,
		RestartCount: c.RestartCount,
		Ignored:      ignored,
		Err:          perr,
	}
	if c.State.Health != nil {
		in.Health = c.State.Health.Status
	}
	in.Project = c.Config.Labels["com.docker.compose.project"]
	for _, dep := range strings.Split(c.Config.Labels["com.docker.compose.depends_on"], ",") {
		// "db:service_started:false" -> the service name, as baton names it
		if name, _, _ := strings.Cut(dep, ":"); name != "" && in.Project != "" {
			in.DependsOn = append(in.DependsOn, in.Project+"-"+name)
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err == nil {
		in.StartedAt = t
	}
	in.StopSignal = c.Config.StopSignal
	if c.Config.StopTimeout != nil {
		in.StopTimeout = time.Duration(*c.Config.StopTimeout) * time.Second
	}
	if perr == nil {
		addr, err := address(c, spec, o.Preferred)
		if err == nil {
			in.Addr = addr
		}
		in.Err = AddressProblem(spec, err)
	}
	return in
}

func (d *Docker) imageLabels(ctx context.Context, imageID string) (map[string]string, error) {
	d.mu.Lock()
	rev, ok := d.imageRevs[imageID]
	d.mu.Unlock()
	if ok {
		return map[string]string{"org.opencontainers.image.revision": rev}, nil
	}
	img, err := d.cli.ImageInspect(ctx, imageID)
	if err != nil {
		return nil, err
	}
	var labels map[string]string
	if img.Config != nil {
		labels = img.Config.Labels
	}
	d.mu.Lock()
	d.imageRevs[imageID] = labels["org.opencontainers.image.revision"]
	d.mu.Unlock()
	return labels, nil
}

// reportLabelError logs a container's label error once per distinct error.
func (d *Docker) reportLabelError(in *Instance) {
	msg := in.Err.Error()
	d.mu.Lock()
	seen := d.reported[in.ID] == msg
	d.reported[in.ID] = msg
	d.mu.Unlock()
	if seen {
		return
	}
	d.logger.Error("container not routed", zap.String("container", in.Name), zap.String("service", in.Service), zap.Error(in.Err))
	if d.opts.OnLabelError != nil {
		d.opts.OnLabelError(in.Name)
	}
}

func (d *Docker) reportIgnored(in *Instance) {
	key := "ignored:" + in.ID
	d.mu.Lock()
	_, seen := d.reported[key]
	d.reported[key] = ""
	d.mu.Unlock()
	if !seen {
		d.logger.Info("traefik labels ignored", zap.String("container", in.Name), zap.Strings("labels", in.Ignored))
	}
}

func (d *Docker) publish() {
	d.mu.Lock()
	snap, sink := d.snapshotLocked(), d.sink
	d.mu.Unlock()
	sink.Update(snap)
}

func (d *Docker) snapshotLocked() []Instance {
	out := make([]Instance, 0, len(d.instances))
	for _, in := range d.instances {
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].StartedAt.Before(out[j].StartedAt)
	})
	return out
}

func (in *Instance) stopSignal() string {
	if in.StopSignal == "" {
		return "SIGTERM"
	}
	if n, err := strconv.Atoi(in.StopSignal); err == nil {
		return strconv.Itoa(n)
	}
	return in.StopSignal
}

func (d *Docker) preferredNetworks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.preferred
}

// detectOwnNetworks finds the networks baton's own container is on, when it
// runs in one, so containers are reached on a network baton shares with them.
func (d *Docker) detectOwnNetworks(ctx context.Context) {
	nets := ownNetworks(ctx, d.cli, d.opts.Network, d.logger)
	d.mu.Lock()
	d.preferred = nets
	d.mu.Unlock()
}

// containerInspector is the one SDK call ownNetworks needs.
type containerInspector interface {
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
}

// ownNetworks is the configured network, then the networks baton's own
// container is on (by name, sorted), when it runs in one.
func ownNetworks(ctx context.Context, cli containerInspector, configured string, logger *zap.Logger) []string {
	var nets []string
	if configured != "" {
		nets = append(nets, configured)
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		if host, err := os.Hostname(); err == nil {
			if self, err := cli.ContainerInspect(ctx, host); err == nil && self.NetworkSettings != nil {
				var own []string
				for n := range self.NetworkSettings.Networks {
					own = append(own, n)
				}
				sort.Strings(own)
				nets = append(nets, own...)
				logger.Info("baton runs in a container; preferring its networks", zap.Strings("networks", own))
			}
		}
	}
	return nets
}
