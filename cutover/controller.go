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

	// OnNewVersion, when set, is given containers that appeared for a serving
	// service with another version, to run the same gate, switch and retire
	// as a deploy. Without it they wait until the live version is gone.
	OnNewVersion func(service string, fresh []upstream.Instance)
}

// NewController publishes to sb; gates run under ctx.
func NewController(ctx context.Context, sb *Switchboard, gater Gater, logger *zap.Logger) *Controller {
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
	// Services the switchboard already holds (saved routes of a previous run)
	// are cleared by the first view if their containers are gone.
	for _, n := range sb.Names() {
		c.services[n] = true
	}
	return c
}

// Update receives the provider's full view (upstream.Sink).
func (c *Controller) Update(instances []upstream.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	quick := !c.started
	if !c.started {
		defer close(c.synced)
	}
	c.started = true
	adopt := map[string][]upstream.Instance{}
	defer func() {
		for service, fresh := range adopt {
			go c.OnNewVersion(service, fresh)
		}
	}()
	seen := make(map[string]bool, len(instances))
	now := time.Now()
	for _, in := range instances {
		seen[in.ID] = true
		if old, ok := c.instances[in.ID]; ok && old.Addr != in.Addr && c.gating[in.ID] != nil {
			c.forgetLocked(in.ID, false) // back from a restart at another address: its gate probes the old one
		}
		c.instances[in.ID] = in
		if _, ok := c.looped[in.ID]; ok {
			c.looped[in.ID] = now
		}
		if !in.Routable() || c.retired[in.ID] {
			// A retired container can still be listed running for a moment
			// after its deploy let the service go (the provider's view is a
			// few events behind the stop): taking it for a new version
			// would start a spurious adoption that fails on its exit.
			c.forgetLocked(in.ID, false)
			continue
		}
		if c.claimed[in.Service] && in.Version != c.live[in.Service] {
			continue // the deploy in progress gates it
		}
		if c.OnNewVersion != nil && !quick && c.servingOtherVersionLocked(in) {
			if !c.adopting[in.ID] {
				c.adopting[in.ID] = true
				adopt[in.Service] = append(adopt[in.Service], in)
			}
			continue
		}
		if !c.ready[in.ID] && c.gating[in.ID] == nil && c.failed[in.ID] == "" {
			c.startGateLocked(in, quick)
		}
	}
	for id := range c.instances {
		if !seen[id] {
			c.forgetLocked(id, true)
		}
	}
	for id := range c.retired {
		if !seen[id] {
			delete(c.retired, id)
		}
	}
	for id, at := range c.looped {
		// A crash loop is refused until the container has been gone a whole
		// crash window (removed, or Docker stopped bringing it back).
		if !seen[id] && now.Sub(at) > crashWindow {
			delete(c.looped, id)
			delete(c.failed, id)
		}
	}
	c.publishLocked()
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

// publishLocked recomputes every service's live targets. The live version of a
// service is kept while it has a ready container; when it has none left (a
// Compose recreate), the ready containers of another version take over.
func (c *Controller) publishLocked() {
	byService := map[string][]upstream.Instance{}
	var routable []upstream.Instance
	for _, in := range c.instances {
		if in.Routable() {
			byService[in.Service] = append(byService[in.Service], in)
			routable = append(routable, in)
		}
	}
	// Any routable container's middlewares serve any router (name@docker,
	// the Authelia pattern); one that is gone takes its definitions along.
	c.sb.UseMiddlewares(collectMiddlewares(routable))
	for name, ins := range byService {
		sort.Slice(ins, func(i, j int) bool { return ins[i].StartedAt.Before(ins[j].StartedAt) })
		live, ok := c.live[name]
		if !c.claimed[name] && (!ok || !c.hasReadyLocked(ins, live)) {
			for _, in := range ins {
				if c.ready[in.ID] {
					if ok && live != in.Version {
						c.logger.Info("live version changed", zap.String("service", name), zap.String("from", live), zap.String("to", in.Version))
					}
					live = in.Version
					c.live[name] = live
					break
				}
			}
		}
		if _, hasLive := c.live[name]; c.claimed[name] && !hasLive {
			continue // a resumed deploy decides; the saved routes serve meanwhile
		}
		sr := ServiceRoutes{Name: name, Routing: routingOf(ins[0].Spec)}
		for _, in := range ins {
			ep := endpointOf(in)
			switch {
			case c.draining[in.ID]:
				sr.Draining = append(sr.Draining, ep)
			case c.pinned[name] != nil:
				if c.pinned[name][in.ID] && c.ready[in.ID] {
					sr.Routing = routingOf(in.Spec)
					sr.Live = append(sr.Live, ep)
				}
			case c.ready[in.ID] && in.Version == live:
				sr.Routing = routingOf(in.Spec)
				sr.Live = append(sr.Live, ep)
			}
		}
		if !sr.Routing.routed() {
			continue // a worker: deployed, never routed
		}
		c.services[name] = true
		c.sb.Set(sr)
	}
	for name := range c.services {
		if _, ok := byService[name]; !ok {
			// No container left: keep the routes with no target, so the host
			// answers 503 (or holds) instead of 404.
			if sr, ok := c.sb.Get(name); ok && len(sr.Live)+len(sr.Draining) > 0 {
				sr.Live, sr.Draining = nil, nil
				c.sb.Set(sr)
			}
		}
	}
}

// servingOtherVersionLocked reports whether in is of another version than its
// service's live one while that live version still serves.
func (c *Controller) servingOtherVersionLocked(in upstream.Instance) bool {
	live, ok := c.live[in.Service]
	if !ok || in.Version == live {
		return false
	}
	for id, r := range c.ready {
		if other, ok := c.instances[id]; r && ok && other.Service == in.Service && other.Version == live && other.Routable() {
			return true
		}
	}
	return false
}

func (c *Controller) hasReadyLocked(ins []upstream.Instance, version string) bool {
	for _, in := range ins {
		if c.ready[in.ID] && in.Version == version {
			return true
		}
	}
	return false
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

// Synced is closed once the provider's first view has been applied.
func (c *Controller) Synced() <-chan struct{} { return c.synced }

// Instance returns a known container by ID.
func (c *Controller) Instance(id string) (upstream.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[id]
	return in, ok
}
