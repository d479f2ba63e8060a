package cutover

import (
	"net/http"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/proxy/rule"
	"go.uber.org/zap"
)

// Endpoint is one target a service may send traffic to: a container, at
// its main endpoint (Addr, Scheme, Transport) and at each of its Traefik
// services (Upstreams), which the routers naming them reach.
type Endpoint struct {
	ID        string // container ID, or "static:" + address
	Addr      string // host:port of the main endpoint
	Version   string
	Scheme    string `json:",omitempty"` // "" (http), https or h2c
	Transport string `json:",omitempty"` // servers transport of an https upstream
	// Upstreams are the container's Traefik services by name.
	Upstreams map[string]proxy.Endpoint `json:",omitempty"`
}

// endpoint is where a router naming the Traefik service name ("" = the
// main endpoint) reaches ep; ok is false when ep has no such service (an
// older release without it), so the route leaves it out.
func (ep Endpoint) endpoint(name string) (proxy.Endpoint, bool) {
	if name == "" || len(ep.Upstreams) == 0 {
		return proxy.Endpoint{Addr: ep.Addr, Scheme: ep.Scheme, Transport: ep.Transport}, ep.Addr != ""
	}
	u, ok := ep.Upstreams[name]
	return u, ok
}

// Routing is how a service is reached: its hosts, path and request options.
type Routing struct {
	Hosts        []string
	Path         string
	StickyCookie string
	Hold         time.Duration
	MaxInflight  int64 // baton.max_inflight; 0 = no bound
	Cache        bool
	PlainHTTP    bool          // stays on HTTP when TLS is on
	HSTS         time.Duration // Strict-Transport-Security max-age; 0 = none
	Upgrades     []string      // protocols besides WebSocket a client may switch to
	// Routes, when set, are the service's Traefik routers, each with its
	// own host, path and middlewares; Hosts and Path are then their union.
	Routes []RouteRule `json:",omitempty"`
}

// ServiceRoutes is the switchboard's view of one service: who serves new
// requests (Live) and who only finishes sticky sessions (Draining).
type ServiceRoutes struct {
	Name     string
	Routing  Routing
	Live     []Endpoint
	Draining []Endpoint
}

// Switchboard owns the proxy's route table. Every change (a reload, a Docker
// event, a deploy's switch) updates its state and publishes a whole new table
// with one atomic store; requests never see a half-made table.
type Switchboard struct {
	router  *proxy.Router
	targets *proxy.Targets
	acct    Accounting // nil: targets carry no drain accounting
	logger  *zap.Logger

	mu sync.Mutex
	// publishes and saves count route tables published and durable writes
	// of them (one per change batch; tests read them).
	publishes, saves int
	static           []ServiceRoutes
	services         map[string]*ServiceRoutes
	order            map[string]uint64 // first appearance: the earlier claim to a host wins
	seq              uint64
	conflict         []error

	persistPath string
	saveErrors  atomic.Uint64           // routes not written to persistPath
	building    map[string]http.Handler // the chains of the publish under way
	tlsHosts    map[string]bool         // hosts with a TLS-only router, this publish (listener.go)

	// ReleaseAfter is how long a service with no target keeps its hosts
	// when nobody else claims them (tls.release_after); 0 = one hour.
	ReleaseAfter time.Duration
	claims       claims               // who holds each host and path (claims.go)
	emptySince   map[string]time.Time // services without a target, since when
	releaseTimer *time.Timer          // the next release_after deadline
	now          func() time.Time

	// HTTPS tells whether baton has an HTTPS listener: a router that answers
	// on https only (Traefik's websecure, or tls) is refused without one.
	HTTPS bool
	// MiddlewareEnv is given to every middleware built (the edge's client
	// address rule, the logger).
	MiddlewareEnv middleware.Env
	middlewares   middlewareSet
	chains        map[string]http.Handler // built chains by service, router and definition (last publish)
	refused       []error                 // routers not published at the last publish, and why
	lastRefused   []error                 // the publish before: log each refusal once

	// referenced is every target id of the last publish; forgetting the ids
	// the accounting has not let go of yet (Accounting.Forget).
	referenced map[string]bool
	forgetting map[string]bool
	// resolved is every target key the publish under way uses;
	// resolvedBefore the last publish's.
	resolved, resolvedBefore map[string]bool
}

// Accounting is the drain accounting of targets by container id
// (drain.Registry, through RegistryAccounting): each new target gets its
// tracker, and once a table without an id is published (retired, or its
// container gone) the accounting is told to let go of it. Forget returns
// false while the id is still busy; it is asked again at the next publish.
type Accounting interface {
	Tracker(id string) proxy.TargetTracker
	Forget(id string) bool
}

// NewSwitchboard publishes to router; acct, when set, keeps the drain
// accounting of its targets.
func NewSwitchboard(router *proxy.Router, targets *proxy.Targets, acct Accounting, logger *zap.Logger) *Switchboard {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Switchboard{
		router:     router,
		targets:    targets,
		acct:       acct,
		logger:     logger.Named("switchboard"),
		services:   make(map[string]*ServiceRoutes),
		order:      make(map[string]uint64),
		now:        time.Now,
		emptySince: make(map[string]time.Time),
	}
}

// SetStatic replaces the routes that come from the config file.
func (s *Switchboard) SetStatic(routes []ServiceRoutes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.static = routes
	s.publishLocked()
}

// Set replaces one service's routes and publishes.
func (s *Switchboard) Set(sr ServiceRoutes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(sr)
	s.publishLocked()
}

func (s *Switchboard) setLocked(sr ServiceRoutes) {
	if _, ok := s.order[sr.Name]; !ok {
		s.seq++
		s.order[sr.Name] = s.seq
	}
	cp := sr
	s.services[sr.Name] = &cp
	s.noteTargetsLocked(sr.Name)
}

// Apply sets the middlewares routers may use and the routes of every
// service in batch, then publishes one table for all of them, or none when
// nothing changed: a burst of Docker events costs one table, one wake-up of
// the requests held for a target and one durable write, not one per service.
func (s *Switchboard) Apply(set middlewareSet, batch []ServiceRoutes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := !reflect.DeepEqual(s.middlewares, set)
	s.middlewares = set
	for _, sr := range batch {
		if old, ok := s.services[sr.Name]; ok && reflect.DeepEqual(*old, sr) {
			continue
		}
		changed = true
		s.setLocked(sr)
	}
	if changed {
		s.publishLocked()
	}
}

// noteTargetsLocked keeps since when a service has had no target: the
// release_after clock of its hosts, which a Set without targets (the
// controller's, at every publish) does not restart.
func (s *Switchboard) noteTargetsLocked(name string) {
	sr := s.services[name]
	if len(sr.Live)+len(sr.Draining) > 0 {
		delete(s.emptySince, name)
	} else if _, ok := s.emptySince[name]; !ok {
		s.emptySince[name] = s.now()
	}
}

// Remove drops a service from the table.
func (s *Switchboard) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.services, name)
	delete(s.order, name)
	delete(s.emptySince, name)
	s.publishLocked()
}

// Get returns a copy of a service's current routes.
func (s *Switchboard) Get(name string) (ServiceRoutes, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr, ok := s.services[name]
	if !ok {
		return ServiceRoutes{}, false
	}
	return *sr, true
}

// Conflicts lists the host/path claims refused at the last publish, and the
// routers not published because a middleware of theirs cannot be built.
func (s *Switchboard) Conflicts() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]error(nil), s.conflict...), s.refused...)
}

// UseMiddlewares replaces the middlewares routers may use, from the next
// publish on.
func (s *Switchboard) UseMiddlewares(set middlewareSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.middlewares = set
}

func (s *Switchboard) publishLocked() {
	s.publishes++
	s.refused = nil
	s.resolved = map[string]bool{}
	s.building = map[string]http.Handler{}
	defer func() { s.chains, s.building = s.building, nil }()
	var routes []*proxy.Route
	for _, sr := range s.static {
		routes = append(routes, s.routesOf(sr)...)
	}
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return s.order[names[i]] < s.order[names[j]] })
	all := make([]*ServiceRoutes, 0, len(names))
	for _, n := range names {
		all = append(all, s.services[n])
	}
	s.tlsHosts = tlsHosts(all)
	routes = append(routes, s.claimedRoutesLocked(names)...)
	table, errs := proxy.NewTable(routes)
	// Log a conflict when it appears, not on every publish while it lasts.
	known := make(map[string]bool, len(s.conflict)+len(s.lastRefused))
	for _, err := range append(s.conflict, s.lastRefused...) {
		known[err.Error()] = true
	}
	s.lastRefused = s.refused
	for _, err := range errs {
		if !known[err.Error()] {
			s.logger.Error("route conflict", zap.Error(err))
		}
	}
	for _, err := range s.refused {
		if !known[err.Error()] {
			s.logger.Error("router not routed", zap.Error(err))
		}
	}
	s.conflict = errs
	s.router.Store(table)
	s.saveLocked()
	s.pruneLocked()
}

// claimedRoutesLocked builds the Docker services' routes (names in the order
// they first appeared) and applies the claims decision to them: the routes
// of places a service holds go first, so a later claim on them is the
// conflict NewTable names; a route on a place its service yielded (taken
// over, or released after release_after with no target) is left out.
func (s *Switchboard) claimedRoutesLocked(names []string) []*proxy.Route {
	byService := make([][]*proxy.Route, len(names))
	in := make([]claimant, 0, len(names))
	for i, n := range names {
		byService[i] = s.routesOf(*s.services[n])
		c := claimant{Service: n, Targets: true}
		if since, ok := s.emptySince[n]; ok {
			c.Targets, c.EmptySince = false, since
		}
		for _, rt := range byService[i] {
			c.Places = append(c.Places, proxy.Places(rt)...)
		}
		in = append(in, c)
	}
	release := s.ReleaseAfter
	if release <= 0 {
		release = time.Hour
	}
	d := decideClaims(s.claims, in, s.now(), release)
	s.claims = d.Next
	for _, e := range d.Events {
		fields := []zap.Field{zap.String("host", e.Place.Host), zap.String("path", e.Place.Path), zap.String("old_service", e.Old)}
		if e.Place.Rule != "" {
			fields = []zap.Field{zap.String("rule", e.Place.Rule), zap.String("old_service", e.Old)}
		}
		if e.Place.Listener != "" {
			fields = append(fields, zap.String("listener", e.Place.Listener))
		}
		if e.New == "" {
			s.logger.Info("host released: no target for release_after", append(fields, zap.Duration("release_after", release))...)
			continue
		}
		s.logger.Info("host taken over: its service has no target", append(fields, zap.String("new_service", e.New))...)
	}
	s.armReleaseLocked(d.Wake)
	var held, rest []*proxy.Route
	for i, n := range names {
	routes:
		for _, rt := range byService[i] {
			holds := true
			for _, p := range proxy.Places(rt) {
				if s.claims.Yielded[n][p] {
					continue routes
				}
				holds = holds && s.claims.Holds(n, p)
			}
			if holds {
				held = append(held, rt)
			} else {
				rest = append(rest, rt)
			}
		}
	}
	return append(held, rest...)
}

// armReleaseLocked publishes again at the next release_after deadline, so a
// host is released although no event comes.
func (s *Switchboard) armReleaseLocked(at time.Time) {
	if s.releaseTimer != nil {
		s.releaseTimer.Stop()
		s.releaseTimer = nil
	}
	if at.IsZero() {
		return
	}
	s.releaseTimer = time.AfterFunc(at.Sub(s.now()), func() {
		defer func() {
			if r := recover(); r != nil {
				s.logger.Error("release publish panicked", zap.Any("panic", r), zap.Stack("stack"))
			}
		}()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.publishLocked()
	})
}

// Stop ends the release timer; the switchboard publishes only when told to
// from then on.
func (s *Switchboard) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.releaseTimer != nil {
		s.releaseTimer.Stop()
		s.releaseTimer = nil
	}
}

// pruneLocked drops the targets the last publish stopped referencing: without
// it every retired container would leave its pool and accounting behind for
// the life of the process. Requests still running on one keep their *Target;
// its idle connections close now, the busy ones when they finish.
func (s *Switchboard) pruneLocked() {
	now := make(map[string]bool, len(s.referenced))
	add := func(eps []Endpoint) {
		for _, ep := range eps {
			now[ep.ID] = true
		}
	}
	for _, sr := range s.static {
		add(sr.Live)
		add(sr.Draining)
	}
	for _, sr := range s.services {
		add(sr.Live)
		add(sr.Draining)
	}
	if s.forgetting == nil {
		s.forgetting = map[string]bool{}
	}
	for id := range s.referenced {
		if !now[id] {
			s.targets.Remove(id)
			s.forgetting[id] = true
		}
	}
	// A container still referenced may have left an endpoint behind (its
	// port changed, it moved to another network): that target goes too.
	for key := range s.resolvedBefore {
		if !s.resolved[key] {
			s.targets.ForgetKey(key)
		}
	}
	s.resolvedBefore, s.resolved = s.resolved, nil
	for id := range s.forgetting {
		if now[id] || s.acct == nil || s.acct.Forget(id) {
			delete(s.forgetting, id)
		}
	}
	s.referenced = now
}

func (s *Switchboard) routesOf(sr ServiceRoutes) []*proxy.Route {
	// Targets per Traefik service the routers name ("" = the main endpoint):
	// a container reached on several ports has a target for each, sharing
	// its drain accounting.
	type pools struct{ live, draining []*proxy.Target }
	byUpstream := map[string]pools{}
	targetsOf := func(upstream string) pools {
		p, ok := byUpstream[upstream]
		if !ok {
			p = pools{s.resolve(sr.Live, upstream), s.resolve(sr.Draining, upstream)}
			byUpstream[upstream] = p
		}
		return p
	}
	route := func(host, path, upstream string) *proxy.Route {
		p := targetsOf(upstream)
		return &proxy.Route{
			Service:      sr.Name,
			Host:         host,
			Path:         path,
			Targets:      p.live,
			Draining:     p.draining,
			StickyCookie: sr.Routing.StickyCookie,
			Hold:         sr.Routing.Hold,
			MaxInflight:  sr.Routing.MaxInflight,
			Cache:        sr.Routing.Cache,
			PlainHTTP:    sr.Routing.PlainHTTP,
			HSTS:         sr.Routing.HSTS,
			Upgrades:     sr.Routing.Upgrades,
		}
	}
	var out []*proxy.Route
	if len(sr.Routing.Routes) == 0 {
		for _, h := range sr.Routing.Hosts {
			out = append(out, route(h, sr.Routing.Path, ""))
		}
		return out
	}
	// One route per router alternative. The same host and path twice keeps
	// the router of higher priority (Traefik's order; then by name); if its
	// middlewares cannot be built, the place stays empty rather than fall
	// to a router without them (fail closed).
	rules := append([]RouteRule(nil), sr.Routing.Routes...)
	sort.SliceStable(rules, func(i, j int) bool {
		if rules[i].Priority != rules[j].Priority {
			return rules[i].Priority > rules[j].Priority
		}
		return rules[i].Router < rules[j].Router
	})
	taken := map[string]bool{}
	for _, rr := range rules {
		rr.Listener = listenerOf(rr, s.tlsHosts)
		place := rr.Host + "\x00" + rr.Path + "\x00" + rr.Rule + "\x00" + rr.Listener
		if taken[place] {
			continue
		}
		taken[place] = true
		if rr.Listener == "https" && !s.HTTPS {
			s.refused = append(s.refused, &RouterRefused{Service: sr.Name, Router: rr.Router, Where: rr.where(), Reason: ErrHTTPSOnly})
			continue
		}
		rt := route(rr.Host, rr.Path, rr.Upstream)
		rt.Listener, rt.Priority, rt.Router = rr.Listener, rr.Priority, rr.Router
		if rr.Rule != "" {
			compiled, err := rule.Parse(rr.Rule)
			if err != nil {
				s.refused = append(s.refused, &RouterRefused{Service: sr.Name, Router: rr.Router, Reason: err})
				continue
			}
			rt.Host, rt.Path, rt.Rule, rt.Priority = "", "", compiled, rr.Priority
		}
		if rr.Listener == "http" {
			// Traefik's web entrypoint only: no certificate of its own. A
			// host that also has HTTPS routers still gets one, and then
			// plain HTTP is redirected to them (baton's rule, safer).
			rt.PlainHTTP = true
		}
		if len(rr.Middlewares) > 0 {
			chain, err := s.chainLocked(sr.Name, rr)
			if err != nil {
				s.refused = append(s.refused, &RouterRefused{Service: sr.Name, Router: rr.Router, Where: rr.where(), Reason: err})
				continue
			}
			rt.Chain = chain
		}
		out = append(out, rt)
	}
	return out
}

// chainLocked returns the router's middleware chain: the one built at an
// earlier publish from the same definitions, or a new one.
func (s *Switchboard) chainLocked(service string, rr RouteRule) (http.Handler, error) {
	key := service + "/" + rr.Router + "/" + s.middlewares.key(rr.Middlewares)
	if h, ok := s.building[key]; ok {
		return h, nil
	}
	h, ok := s.chains[key]
	if !ok {
		var err error
		if h, err = s.middlewares.buildChain(rr.Middlewares, s.MiddlewareEnv); err != nil {
			return nil, err
		}
	}
	s.building[key] = h
	return h, nil
}

// resolve gives the targets of eps at their Traefik service upstream
// ("" = the main endpoint). Every target of a container gets the
// container's tracker: draining and sticky sessions are counted per
// container, not per port.
func (s *Switchboard) resolve(eps []Endpoint, upstream string) []*proxy.Target {
	if len(eps) == 0 {
		return nil
	}
	out := make([]*proxy.Target, 0, len(eps))
	for _, ep := range eps {
		pe, ok := ep.endpoint(upstream)
		if !ok {
			continue
		}
		id := ep.ID
		var tracker func() proxy.TargetTracker
		if s.acct != nil {
			tracker = func() proxy.TargetTracker { return s.acct.Tracker(id) }
		}
		t := s.targets.GetEndpoint(ep.ID, pe, tracker)
		if s.resolved != nil {
			s.resolved[t.Key()] = true
		}
		out = append(out, t)
	}
	return out
}

// All returns every service's routes, static ones first.
func (s *Switchboard) All() []ServiceRoutes {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]ServiceRoutes(nil), s.static...)
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, *s.services[n])
	}
	return out
}
