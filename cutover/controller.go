package cutover

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/batonproxy/baton/health"
	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// Gater decides when a container may take traffic: readiness that holds.
type Gater interface {
	Gate(ctx context.Context, in upstream.Instance, opts GateOptions) error
}

// GateOptions are how one gate runs besides the container's labels.
type GateOptions struct {
	// Quick is set for containers found running when baton starts: one good
	// probe is enough for them, since they were serving before baton restarted.
	Quick bool
	// Alone, if set, is asked each round whether no other target of the
	// service can serve; while so, Progress.Serving says the container may be
	// routed before min_healthy has held (see health.Serving).
	Alone func() bool
	// Progress, if set, is told each round.
	Progress func(Progress)
}

// Controller turns the Docker provider's view into routes: each service's live
// version, the ready containers of that version, and nothing else. A container
// joins only after its gate passes; it leaves at once when it stops.
type Controller struct {
	sb     *Switchboard
	gater  Gater
	logger *zap.Logger
	ctx    context.Context

	mu        sync.Mutex
	synced    chan struct{} // closed at the first snapshot
	started   bool          // first snapshot seen: later containers get the full gate
	instances map[string]upstream.Instance
	ready     map[string]bool
	gating    map[string]context.CancelFunc
	failed    map[string]string          // container ID -> gate failure
	live      map[string]string          // service -> live version
	services  map[string]bool            // services published to the switchboard
	claimed   map[string]bool            // services a deploy owns right now
	draining  map[string]bool            // old containers finishing sticky sessions
	adopting  map[string]bool            // containers handed to OnNewVersion
	pinned    map[string]map[string]bool // service -> the exact live set during a rolling deploy
	early     map[string]bool            // routed before min_healthy held: nothing else could serve; its gate still runs
	progress  map[string]Progress        // container ID -> its gate's last round
	looped    map[string]time.Time       // crash-looped containers -> last seen, remembered across their restarts
	retired   map[string]bool            // containers a deploy is stopping: never gated or adopted again

	// adoptions carries the decisions to adopt (nil: containers of another
	// version wait until the live version is gone).
	adoptions chan Adoption
}

// Adoption is containers that appeared on their own with another version of
// a serving service: the controller decides to hand them over, and the
// deployer runs the same gate, switch and retire for them as for a deploy
// (Deployer.Adopt). The controller never calls the deployer: whoever reads
// Adoptions does.
type Adoption struct {
	Service string
	Fresh   []upstream.Instance
}

// ControllerOptions are a controller's settings.
type ControllerOptions struct {
	Logger *zap.Logger
	// Adopt: decide adoptions and send them on Adoptions, which the caller
	// must read. Off, containers of another version beside a serving live
	// one wait until it is gone.
	Adopt bool
}

// NewController publishes to sb; gates run under ctx.
func NewController(ctx context.Context, sb *Switchboard, gater Gater, o ControllerOptions) *Controller {
	logger := o.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &Controller{
		sb: sb, gater: gater, logger: logger.Named("controller"), ctx: ctx,
		synced:    make(chan struct{}),
		instances: map[string]upstream.Instance{},
		ready:     map[string]bool{},
		gating:    map[string]context.CancelFunc{},
		failed:    map[string]string{},
		live:      map[string]string{},
		services:  map[string]bool{},
		claimed:   map[string]bool{},
		draining:  map[string]bool{},
		adopting:  map[string]bool{},
		pinned:    map[string]map[string]bool{},
		early:     map[string]bool{},
		retired:   map[string]bool{},
		progress:  map[string]Progress{},
		looped:    map[string]time.Time{},
	}
	if o.Adopt {
		c.adoptions = make(chan Adoption, 16)
	}
	// Services the switchboard already holds (saved routes of a previous run)
	// are cleared by the first view if their containers are gone.
	for _, n := range sb.Names() {
		c.services[n] = true
	}
	return c
}

// Update receives the provider's full view (upstream.Sink): decideView says
// what it means, and Update does it.
func (c *Controller) Update(instances []upstream.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	quick := !c.started
	if !c.started {
		defer close(c.synced)
	}
	c.started = true
	now := time.Now()
	p := decideView(c.stateLocked(), instances, quick, c.adoptions != nil, now)
	for _, in := range instances {
		c.instances[in.ID] = in
	}
	for _, id := range p.Unroute {
		c.forgetLocked(id, false)
	}
	for _, id := range p.SeenLooped {
		c.looped[id] = now
	}
	for _, in := range p.Gate {
		c.startGateLocked(in, quick)
	}
	for service, fresh := range p.Adopt {
		for _, in := range fresh {
			c.adopting[in.ID] = true
		}
		a := Adoption{Service: service, Fresh: fresh}
		select {
		case c.adoptions <- a:
		default:
			go func() { c.adoptions <- a }() // never block a view on the reader
		}
	}
	for _, id := range p.Gone {
		c.forgetLocked(id, true)
	}
	for _, id := range p.Unretire {
		delete(c.retired, id)
	}
	for _, id := range p.Unloop {
		delete(c.looped, id)
		delete(c.failed, id)
	}
	c.publishLocked()
}

// stateLocked is the controller's state for a decision (plan.go).
func (c *Controller) stateLocked() ctlState {
	gating := make(map[string]bool, len(c.gating))
	for id := range c.gating {
		gating[id] = true
	}
	return ctlState{instances: c.instances, ready: c.ready, gating: gating, failed: c.failed, live: c.live,
		claimed: c.claimed, draining: c.draining, adopting: c.adopting, pinned: c.pinned, retired: c.retired,
		looped: c.looped, published: c.services}
}

// crashWindow is how long a crash-looped container stays refused after it
// was last seen (the health package's crash-loop window).
const crashWindow = time.Minute

// forgetLocked takes a container out of the routes: it is no longer routable
// (stopping, a bad label) or, with gone, no longer running at all. A gate of
// a gone container is left running: a container that died may be brought
// back under the same ID by Docker's restart policy, and only a gate that
// watched it through its restarts can apply the crash-loop rule. That gate
// ends at the next inspect if the container exited for good or was removed.
func (c *Controller) forgetLocked(id string, gone bool) {
	if cancel := c.gating[id]; cancel != nil && !gone {
		cancel()
		delete(c.gating, id)
		delete(c.progress, id)
	}
	delete(c.ready, id)
	delete(c.early, id)
	if gone {
		delete(c.instances, id)
		if _, ok := c.looped[id]; !ok {
			delete(c.failed, id)
		}
		delete(c.draining, id)
		delete(c.adopting, id)
	}
}

func (c *Controller) startGateLocked(in upstream.Instance, quick bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.gating[in.ID] = cancel
	opts := GateOptions{
		Quick: quick,
		Alone: func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.aloneLocked(in)
		},
		Progress: func(p Progress) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if ctx.Err() == nil && c.gating[in.ID] != nil {
				c.progressLocked(in, p)
			}
		},
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				c.logger.Error("gate panicked", zap.Any("panic", r), zap.Stack("stack"))
			}
		}()
		err := c.gater.Gate(ctx, in, opts)
		c.mu.Lock()
		defer c.mu.Unlock()
		if ctx.Err() != nil || c.gating[in.ID] == nil {
			return // forgotten meanwhile
		}
		delete(c.gating, in.ID)
		delete(c.progress, in.ID)
		cancel()
		early := c.early[in.ID]
		delete(c.early, in.ID)
		_, present := c.instances[in.ID]
		if err != nil {
			delete(c.ready, in.ID)
			if health.IsCause(err, health.CauseCrashLoop) {
				c.looped[in.ID] = time.Now() // refused through its next restarts too
			}
			if _, looped := c.looped[in.ID]; present || looped {
				c.failed[in.ID] = err.Error()
			}
			c.logger.Warn("container not ready; not routed", zap.String("container", in.Name), zap.String("service", in.Service), zap.Bool("was_serving_early", early), zap.Error(err))
			if early {
				c.publishLocked()
			}
			return
		}
		if !present {
			return // gone between its last round and now
		}
		c.ready[in.ID] = true
		c.logger.Info("container ready", zap.String("container", in.Name), zap.String("service", in.Service), zap.String("version", in.Version), zap.Bool("was_serving_early", early))
		c.publishLocked()
	}()
}

// progressLocked records a gate's round and routes or unroutes a container
// that serves before its window (Progress.Serving). Such a container is
// routed because nothing else can serve; its gate keeps probing it, and:
//   - a failed probe or a restart takes it out at once (requests hold again,
//     baton.hold) and the next good answer puts it back while it is still alone;
//   - another target becoming ready takes it out until its own window holds;
//   - an exit, a crash loop (more than 3 restarts in 60 s, counted across its
//     restarts, see forgetLocked) or the deadline fail the gate: it is not
//     routed, it is listed under problems, and a crash-looped one stays
//     refused while Docker keeps bringing it back;
//   - min_healthy held: it is ready like any other.
func (c *Controller) progressLocked(in upstream.Instance, p Progress) {
	c.progress[in.ID] = p
	cur, present := c.instances[in.ID]
	switch {
	case p.Serving && present && cur.Routable() && !c.ready[in.ID]:
		c.ready[in.ID], c.early[in.ID] = true, true
		c.logger.Info("container routed before min_healthy: the service has no other target", zap.String("container", in.Name), zap.String("service", in.Service),
			zap.String("version", in.Version), zap.Duration("min_healthy", p.Need))
		c.publishLocked()
	case !p.Serving && c.early[in.ID]:
		delete(c.ready, in.ID)
		delete(c.early, in.ID)
		c.logger.Warn("container taken out again before min_healthy", zap.String("container", in.Name), zap.String("service", in.Service))
		c.publishLocked()
	}
}

// aloneLocked reports whether no other container of in's service can serve
// (ready, routable, not draining). A deploy's new containers count only from
// its switch on: until then they serve nothing.
func (c *Controller) aloneLocked(in upstream.Instance) bool {
	for id, other := range c.instances {
		if id != in.ID && other.Service == in.Service && c.ready[id] && !c.draining[id] && other.Routable() {
			return false
		}
	}
	return true
}

// Gating returns the progress of the containers whose gate is running, by
// container ID: those routed early (Serving) too, until their window holds.
func (c *Controller) Gating() map[string]Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Progress, len(c.gating))
	for id := range c.gating {
		out[id] = c.progress[id]
	}
	return out
}

// publishLocked recomputes every service's routes (decideRoutes) and gives
// them to the switchboard in one publish. The live version of a service is
// kept while it has a ready container; when it has none left (a Compose
// recreate), the ready containers of another version take over.
func (c *Controller) publishLocked() {
	p := decideRoutes(c.stateLocked(), c.sb.Get)
	for name, v := range p.Live {
		if old, ok := c.live[name]; ok && old != v {
			c.logger.Info("live version changed", zap.String("service", name), zap.String("from", old), zap.String("to", v))
		}
		c.live[name] = v
	}
	for _, name := range p.Published {
		c.services[name] = true
	}
	// Any routable container's middlewares serve any router (name@docker,
	// the Authelia pattern); one that is gone takes its definitions along.
	c.sb.Apply(collectMiddlewares(p.Routable), p.Batch)
}

// routed: the service has a host or a router; one without is a worker,
// deployed but never in the route table.
func (r Routing) routed() bool { return len(r.Hosts) > 0 || len(r.Routes) > 0 }

func routingOf(s upstream.Spec) Routing {
	return Routing{Hosts: s.Hosts, Path: s.Path, StickyCookie: s.StickyCookie, Hold: s.Hold, MaxInflight: s.MaxInflight, Cache: s.Cache, PlainHTTP: s.PlainHTTP, HSTS: s.HSTS, Upgrades: s.Upgrades,
		Routes: routeRulesOf(s)}
}

// Problems lists containers that are not routed and why.
func (c *Controller) Problems() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Problem
	for _, in := range c.instances {
		out = append(out, problemsOf(in, c.failed[in.ID])...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container < out[j].Container })
	return out
}

// problemsOf is what `baton status` lists for one container: why it is not
// routed (a label, its port or network; or notReady, its gate's failure),
// and the Traefik labels it ignores.
func problemsOf(in upstream.Instance, notReady string) []Problem {
	var out []Problem
	switch {
	case in.Err != nil:
		out = append(out, Problem{Container: in.Name, Service: in.Service, Error: in.Err.Error()})
	case notReady != "":
		out = append(out, Problem{Container: in.Name, Service: in.Service, Error: "not ready: " + notReady})
	}
	if len(in.Ignored) > 0 {
		out = append(out, Problem{Container: in.Name, Service: in.Service, Ignored: in.Ignored})
	}
	return out
}

// Problem is a container baton does not route, or Traefik labels it ignores.
type Problem struct {
	Container, Service, Error string
	Ignored                   []string
}

// Instances returns the containers the controller knows with their readiness.
func (c *Controller) Instances() (ins []upstream.Instance, ready map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ready = make(map[string]bool, len(c.ready))
	for id, r := range c.ready {
		ready[id] = r
	}
	for _, in := range c.instances {
		ins = append(ins, in)
	}
	return ins, ready
}

// Claim marks a service as being deployed: until release, the controller does
// not gate or promote containers of another version on its own; the deploy does.
func (c *Controller) Claim(service string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed[service] {
		return nil, false
	}
	c.claimed[service] = true
	return func() {
		c.mu.Lock()
		delete(c.claimed, service)
		c.mu.Unlock()
	}, true
}

// Live returns a service's live version and its ready live containers.
func (c *Controller) Live(service string) (version string, live []upstream.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	version = c.live[service]
	for _, in := range c.instances {
		if in.Service == service && in.Version == version && c.ready[in.ID] && in.Routable() {
			live = append(live, in)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].StartedAt.Before(live[j].StartedAt) })
	return version, live
}

// Switch makes version live for service, served by next (already gated), and
// keeps the listed old containers draining: reachable only by sticky sessions.
// One publish: from its store on, no new request reaches an old container.
func (c *Controller) Switch(service, version string, next []upstream.Instance, draining []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, in := range next {
		if _, ok := c.instances[in.ID]; !ok {
			c.instances[in.ID] = in
		}
		c.ready[in.ID] = true
		delete(c.failed, in.ID)
		delete(c.draining, in.ID)
	}
	c.live[service] = version
	delete(c.pinned, service)
	for _, id := range draining {
		c.draining[id] = true
	}
	c.publishLocked()
}

// SwitchSet makes exactly live serve the service, whatever their versions (a
// rolling deploy mixes them), and keeps draining finishing sticky sessions.
func (c *Controller) SwitchSet(service, version string, live []upstream.Instance, draining []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := map[string]bool{}
	for _, in := range live {
		if _, ok := c.instances[in.ID]; !ok {
			c.instances[in.ID] = in
		}
		c.ready[in.ID] = true
		delete(c.draining, in.ID)
		set[in.ID] = true
	}
	c.pinned[service] = set
	c.live[service] = version
	for _, id := range draining {
		c.draining[id] = true
	}
	c.publishLocked()
}

// Retiring marks containers a deploy is about to stop: whatever the
// provider still lists of them, they are not gated or adopted again, and
// they are forgotten once the provider no longer lists them.
func (c *Controller) Retiring(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.retired[id] = true
		delete(c.draining, id)
		c.forgetLocked(id, false)
	}
	c.publishLocked()
}

// Adoptions are the controller's decisions to adopt (ControllerOptions.Adopt).
func (c *Controller) Adoptions() <-chan Adoption { return c.adoptions }

// Synced is closed once the provider's first view has been applied.
func (c *Controller) Synced() <-chan struct{} { return c.synced }

// Instance returns a known container by ID.
func (c *Controller) Instance(id string) (upstream.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[id]
	return in, ok
}
