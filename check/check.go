package check

import (
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/upstream"
)

// Options are the settings of the baton that will serve the project, from
// its baton.yaml (or the embedded defaults), as serve reads them.
type Options struct {
	Defaults         upstream.Spec // the defaults section over the design's defaults
	ExposedByDefault bool          // docker.exposed_by_default
	TraefikLabels    bool          // docker.traefik_labels
	Constraint       string        // docker.constraint
	Network          string        // docker.network, preferred to reach containers
	// Transports reports whether baton.yaml defines a servers transport
	// (a serversTransport=name@file label resolves there).
	Transports    func(name string) bool
	DockerOff     bool // docker.enabled: false
	HTTPS         bool // tls on: an HTTPS listener
	Static        []cutover.ServiceRoutes
	MiddlewareEnv middleware.Env
}

// Check says, for each service of p, what a running baton with o would
// route and refuse once its containers run and are ready. Each service is
// described as the container Compose creates for it and given to the
// Docker provider's own decision (upstream.InstanceOf: labels, enable,
// port, network); the routable ones are published together to a
// switchboard of their own (cutover.PreviewRoutes: middlewares resolved
// across services, router checks, host conflicts, in file order).
func Check(p *Project, o Options) Report {
	r := Report{Project: p.Name, Files: p.Files, HTTPS: o.HTTPS, Warnings: p.Warnings}
	if o.DockerOff {
		r.Problems = append(r.Problems, "docker.enabled is false in the config: baton routes no container")
	}
	io := upstream.InstanceOptions{Defaults: o.Defaults, ExposedByDefault: o.ExposedByDefault, TraefikLabels: o.TraefikLabels, Constraint: o.Constraint, Transports: o.Transports}
	if o.Network != "" {
		io.Preferred = []string{o.Network}
	}
	instances := make([]*upstream.Instance, len(p.Services))
	var routable []upstream.Instance
	for i, s := range p.Services {
		if o.DockerOff {
			continue
		}
		if in := upstream.InstanceOf(p.Container(s), nil, io); in != nil {
			instances[i] = in
			routable = append(routable, *in)
		}
	}
	pv := cutover.PreviewRoutes(routable, cutover.PreviewOptions{HTTPS: o.HTTPS, MiddlewareEnv: o.MiddlewareEnv, Static: o.Static})
	for i, s := range p.Services {
		r.Services = append(r.Services, serviceReport(p, s, instances[i], pv, o))
	}
	r.Routable = len(r.Problems) == 0
	for _, s := range r.Services {
		if len(s.Refusals) > 0 {
			r.Routable = false
		}
	}
	return r
}

func serviceReport(p *Project, s Service, in *upstream.Instance, pv cutover.Preview, o Options) ServiceReport {
	sr := ServiceReport{Compose: s.Name, At: s.Pos, Container: p.ContainerName(s)}
	lw := labelWhere{s: s}
	switch {
	case in == nil:
		sr.Verdict, sr.Note = NotHandled, notHandledWhy(s, o)
	case in.Err != nil:
		sr.Service, sr.Verdict = in.Service, Refused
		for _, err := range flatten(in.Err) {
			sr.Refusals = append(sr.Refusals, lw.refusal(err))
		}
	case !in.Spec.Routed():
		sr.Service, sr.Verdict = in.Service, Worker
	default:
		sr.Service = in.Service
		if _, port, err := net.SplitHostPort(in.Addr); err == nil {
			sr.Port, _ = strconv.Atoi(port)
		}
		sr.Routes, sr.Refusals = routesOf(in.Service, sr.Port, pv, o.HTTPS, lw)
		switch {
		case len(sr.Refusals) == 0:
			sr.Verdict = Routed
		case len(sr.Routes) > 0:
			sr.Verdict = Partly
		default:
			sr.Verdict = Refused
		}
	}
	if in != nil {
		for _, l := range in.Ignored {
			sr.Ignored = append(sr.Ignored, Label{Label: l, At: lw.at(l)})
		}
	}
	if d := deployLabelRefusals(s); len(d) > 0 {
		sr.Refusals = append(sr.Refusals, d...)
		if sr.Verdict == NotHandled || sr.Verdict == Worker {
			sr.Verdict = Refused
		} else if sr.Verdict == Routed {
			sr.Verdict = Partly
		}
	}
	return sr
}

// routesOf reads the preview's routes of one baton service, with the
// routers and host claims the publish refused.
func routesOf(service string, port int, pv cutover.Preview, https bool, lw labelWhere) (routes []Route, refusals []Refusal) {
	var mine []error
	seen := map[string]bool{}
	for _, err := range pv.Refused {
		var rr *cutover.RouterRefused
		var ce *proxy.ConflictError
		if (errors.As(err, &rr) && rr.Service == service || errors.As(err, &ce) && ce.Refused == service) && !seen[err.Error()] {
			seen[err.Error()] = true
			mine = append(mine, err)
			refusals = append(refusals, lw.refusal(err))
		}
	}
	for _, sr := range pv.Services {
		if sr.Name != service {
			continue
		}
		rules := sr.Routing.Routes
		if len(rules) == 0 { // baton.host: one route per host at the path
			for _, h := range sr.Routing.Hosts {
				rules = append(rules, cutover.RouteRule{Host: h, Path: sr.Routing.Path})
			}
		}
		for _, rule := range rules {
			if refusedRoute(rule, mine) {
				continue
			}
			routes = append(routes, Route{Router: rule.Router, Host: rule.Host, Path: rule.Path, Rule: rule.Rule, Priority: rule.Priority,
				Port: port, Listeners: listeners(rule.Listener, sr.Routing.PlainHTTP, https), Middlewares: rule.Middlewares})
		}
	}
	return routes, refusals
}

// refusedRoute: one of errs refuses this route (its router, or its host
// and path claim).
func refusedRoute(rule cutover.RouteRule, errs []error) bool {
	where := rule.Host + rule.Path
	if rule.Rule != "" {
		where = rule.Rule
	}
	for _, err := range errs {
		var rr *cutover.RouterRefused
		var ce *proxy.ConflictError
		switch {
		case errors.As(err, &rr):
			if rr.Router == rule.Router && (rr.Where == "" || rr.Where == where) {
				return true
			}
		case errors.As(err, &ce):
			if ce.RefusedRouter == rule.Router && (rule.Rule != "" || ce.Host == rule.Host && ce.Path == rule.Path) {
				return true
			}
		}
	}
	return false
}

// listeners says where a route answers. With TLS on, a route for both
// listeners gets a certificate and plain HTTP is redirected to HTTPS
// (proxy/autotls), unless the service stays on plain HTTP (baton.tls=false,
// a Traefik router with tls=false).
func listeners(l string, plainHTTP, https bool) string {
	switch {
	case l != "":
		return l
	case !https || plainHTTP:
		return "http"
	default:
		return "https (http redirects)"
	}
}

func hasPrefixFold(labels map[string]string, prefix string) bool {
	for k := range labels {
		if strings.HasPrefix(strings.ToLower(k), prefix) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
